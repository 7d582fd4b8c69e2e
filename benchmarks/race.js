// The peer's side of the race (benchmarks/race.py): the MITRE converter's own
// createResearchStudyFromClinicalStudy, loaded from a checkout built with its own scripts, run
// over a list of API v2 files. This file is ours; it neither holds nor builds the peer's code.
//
//   node benchmarks/race.js PEER_DIR WARM_UP_LIST FILE_LIST
//
// Each file is read, parsed, each study (a list page's studies, or the one study) converted to
// an R4 ResearchStudy and serialised, as the exporter reads, maps and serialises. Prints one
// JSON line: studies converted, wall and CPU seconds of the timed part.
'use strict';
const fs = require('fs');
const path = require('path');

const [peerDir, warmUpList, fileList] = process.argv.slice(2);
const { createResearchStudyFromClinicalStudy } = require(path.resolve(peerDir, 'dist', 'study-fhir-converter.js'));

function convert(file) {
  const document = JSON.parse(fs.readFileSync(file, 'utf8'));
  const studies = Array.isArray(document.studies) ? document.studies : [document];
  let bytes = 0;
  for (const study of studies) {
    bytes += JSON.stringify(createResearchStudyFromClinicalStudy(study), null, 2).length;
  }
  return [studies.length, bytes];
}

const lines = (list) => fs.readFileSync(list, 'utf8').split('\n').filter(Boolean);
for (const file of lines(warmUpList)) convert(file);
const files = lines(fileList);
const cpu = process.cpuUsage();
const started = process.hrtime.bigint();
let studies = 0;
for (const file of files) studies += convert(file)[0];
const wall = Number(process.hrtime.bigint() - started) / 1e9;
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ studies, wall, cpu: (used.user + used.system) / 1e6 }));
