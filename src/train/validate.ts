/**
 * Files netc reads back from a run directory (config.json, state.json, result.json) are checked against
 * their schemas in specs/ before any field is used: a hand-edited or damaged file is an error naming the
 * file and the field (exit 1), never a crash or a silently wrong run.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import { readBounded } from '../bind/program.js';

const SPECS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'specs');
const Ajv = AjvModule as unknown as typeof AjvModule.default;

let ajv: InstanceType<typeof Ajv> | null = null;
const compiled = new Map<string, ValidateFunction>();

/** The validator for one of specs/*.schema.json (draft-07), compiled once. */
function validator(schema: string): ValidateFunction {
  let v = compiled.get(schema);
  if (v) return v;
  if (!ajv) {
    ajv = new Ajv({ allErrors: false, strict: false });
    for (const s of ['metrics.schema.json', 'run-config.schema.json', 'result.schema.json', 'state.schema.json']) {
      ajv.addSchema(JSON.parse(readFileSync(join(SPECS, s), 'utf8')), s);
    }
  }
  v = ajv.getSchema(schema)!;
  compiled.set(schema, v);
  return v;
}

function describe(e: ErrorObject): string {
  const where = e.instancePath ? `\`${e.instancePath.slice(1).replace(/\//g, '.')}\`` : 'the document';
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `${where} has an unknown field \`${String(params['additionalProperty'])}\``;
  if (e.keyword === 'required') return `${where} lacks \`${String(params['missingProperty'])}\``;
  if (e.keyword === 'enum') return `${where} ${e.message} (${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')})`;
  return `${where} ${e.message}`;
}

/** The first problem of `value` against `schema` (a file name in specs/), or null when it is valid. */
export function schemaProblem(schema: string, value: unknown): string | null {
  const v = validator(schema);
  if (v(value)) return null;
  const e = v.errors?.[0];
  return e ? describe(e) : 'does not match its schema';
}

/** JSON files of a run directory are small; a larger one (or a /proc file in its place) is refused. */
export const MAX_RUN_JSON_BYTES = 64 * 1024 * 1024;

/**
 * Reads a run-directory JSON file and checks it against its schema; `fail` builds the caller's error
 * type from a message that names the file.
 */
export function readValidJson<T>(file: string, schema: string, fail: (message: string) => Error): T {
  const r = readBounded(file, MAX_RUN_JSON_BYTES);
  if (!('bytes' in r)) {
    const why = {
      missing: 'missing',
      directory: 'is a folder',
      special: 'is not a regular file',
      'too-large': `larger than ${MAX_RUN_JSON_BYTES / 1024 / 1024} MiB`,
      unreadable: `cannot be read (${r.errno})`,
    }[r.problem];
    throw fail(`${file}: ${why}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(r.bytes.toString('utf8'));
  } catch (e) {
    throw fail(`${file}: not valid JSON (${(e as Error).message}); the file is damaged`);
  }
  const problem = schemaProblem(schema, value);
  if (problem) throw fail(`${file}: ${problem} (specs/${schema}); the file is damaged or was edited by hand`);
  return value as T;
}
