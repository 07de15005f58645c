// What must hold for any input text, checked in-process (fast) and through the CLI (the real contract).
// Shared by test/fuzz/*.test.ts (on src/) and bench/fuzz.mjs (on dist/); the compiler's modules are passed in.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const SEVERITIES = new Set(['error', 'warning', 'info', 'hint']);

/** Numbers that JSON cannot carry faithfully (NaN and Infinity become null; big integers round). */
export function badNumbers(value, path = '$', out = []) {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) out.push(`${path} = ${value}`);
    else if (Number.isInteger(value) && !Number.isSafeInteger(value)) out.push(`${path} = ${value} (beyond 2^53)`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => badNumbers(v, `${path}[${i}]`, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) badNumbers(v, `${path}.${k}`, out);
  }
  return out;
}

/** Problems with one diagnostic: unknown code, span outside its file, message not one lowercase line. */
export function diagnosticProblems(d, sources, catalog) {
  const problems = [];
  const where = `${d.code} "${String(d.message).slice(0, 80)}"`;
  if (!(d.code in catalog)) problems.push(`${where}: code not in the catalog`);
  if (!SEVERITIES.has(d.severity)) problems.push(`${where}: severity ${d.severity}`);
  const spans = [d.span, ...(d.related ?? []).map((r) => r.span)];
  for (const span of spans) {
    const text = sources.get(span.file);
    if (text === undefined) problems.push(`${where}: span in ${span.file}, a file that was not read`);
    else if (!(Number.isInteger(span.start) && Number.isInteger(span.end) && span.start >= 0 && span.start <= span.end && span.end <= text.length)) {
      problems.push(`${where}: span ${span.start}..${span.end} outside the file (length ${text.length})`);
    }
  }
  if (typeof d.message !== 'string' || d.message.length === 0) problems.push(`${where}: empty message`);
  else {
    if (/[\n\r]/.test(d.message)) problems.push(`${where}: message spans several lines`);
    if (/^\p{Lu}/u.test(d.message)) problems.push(`${where}: message starts with a capital letter`);
  }
  return problems;
}

/**
 * Compiles `text` in-process and checks everything the CLI would print from it. Returns a list of
 * violations (empty when all hold); an exception anywhere is a violation carrying its stack.
 * `api` = { compileSource, CATALOG, diagnosticsDocument, renderAll, summarize }.
 */
export function checkInProcess(api, text, path) {
  let result;
  try {
    result = api.compileSource(text, path);
  } catch (e) {
    return [`compileSource threw: ${e?.stack ?? e}`];
  }
  const violations = [];
  const sources = result.program.sources;
  for (const d of result.diagnostics) violations.push(...diagnosticProblems(d, sources, api.CATALOG));
  try {
    const document = api.diagnosticsDocument(result.diagnostics, sources, [...sources.keys()]);
    violations.push(...badNumbers(document, 'diagnostics'));
    api.renderAll(result.diagnostics, sources, { color: false });
    if (!result.diagnostics.some((d) => d.severity === 'error')) {
      for (const graph of result.graphs) violations.push(...badNumbers(api.summarize(graph), `summary(${graph.net})`));
    }
  } catch (e) {
    violations.push(`rendering or summarising threw: ${e?.stack ?? e}`);
  }
  return violations;
}

const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

/**
 * Writes `text` to `file` and runs `node bin/netc.js check FILE --format json`. Returns violations of the
 * CLI contract: exit code 0 or 1, one JSON document on stdout (valid against the schema when `validate`
 * is given), no stack trace or "internal error" on stderr.
 */
export function checkCli({ bin, validate }, text, file) {
  writeFileSync(file, text);
  const r = spawnSync(process.execPath, [bin, 'check', file, '--format', 'json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const violations = [];
  if (r.status !== 0 && r.status !== 1) violations.push(`exit code ${r.status ?? r.signal}`);
  if (STACK_LINE.test(r.stderr) || /internal error/i.test(r.stderr)) violations.push(`stack trace on stderr: ${r.stderr.slice(0, 2000)}`);
  let doc;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    violations.push(`stdout is not JSON: ${r.stdout.slice(0, 300)}`);
    return violations;
  }
  const errors = validate ? validate(doc) : basicShape(doc);
  if (errors.length) violations.push(`document does not match the schema: ${JSON.stringify(errors).slice(0, 1500)}`);
  const totalErrors = doc?.diagnostics?.errors;
  if ((r.status === 1) !== totalErrors > 0) violations.push(`exit code ${r.status} but the document counts ${totalErrors} errors`);
  violations.push(...badNumbers(doc));
  return violations;
}

/** The structure the CLI's JSON must have, for when the schemas are not available. */
export function basicShape(doc) {
  const errors = [];
  if (!doc || typeof doc !== 'object') return ['not an object'];
  for (const k of ['file', 'totalParams', 'layers', 'nets', 'diagnostics']) if (!(k in doc)) errors.push(`missing ${k}`);
  const diags = doc.diagnostics;
  if (!diags || !Array.isArray(diags.files) || typeof diags.errors !== 'number' || typeof diags.rendered !== 'string') errors.push('bad diagnostics');
  for (const f of diags?.files ?? []) {
    for (const d of f.diagnostics ?? []) {
      if (!/^NET\d{4}$/.test(d.code)) errors.push(`bad code ${d.code}`);
      if (![1, 2, 3, 4].includes(d.severity)) errors.push(`bad severity ${d.severity}`);
      const { start, end } = d.range ?? {};
      if (!(start?.line >= 0 && start?.character >= 0 && end?.line >= 0 && end?.character >= 0)) errors.push('bad range');
    }
  }
  return errors;
}
