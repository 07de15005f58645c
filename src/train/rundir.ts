/**
 * The run directory: config.json, metrics.jsonl + metrics.csv, result.json, checkpoints/best and
 * checkpoints/last (tfjs model format plus optimizer state), loss.svg and accuracy.svg.
 *
 * Nothing in it is ever half-written, whatever moment the process dies at (SIGKILL included):
 * - every file is written to `NAME.tmp-PID` in the same directory, flushed, and renamed over NAME;
 * - a checkpoint is written whole into `checkpoints/NAME.tmp-PID/`, then the old one is renamed to
 *   `NAME.old-PID`, the new one into place, and the old one removed. The only moment without
 *   `NAME` is between those two renames, and then `NAME.old-PID` is complete: `findCheckpoint`
 *   falls back to it and `cleanRunDir` renames it back;
 * - a new run directory appears whole: built as `DIR.tmp-PID/` holding config.json, then renamed;
 * - `cleanRunDir` (at every resume) removes the temporary files a killed process left.
 * Saving uses `tf.io.withSaveHandler` because tfjs-core alone has no `file://` handler.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { saveLayersModel } from '../lower/save.js';
import { registerCustomLayers } from '../lower/custom-layers.js';
import * as tfl from '@tensorflow/tfjs-layers';
import { readBounded } from '../bind/program.js';
import { optimizerScalars } from './optim.js';
import type { RunConfig } from './config.js';
import { MAX_RUN_JSON_BYTES, readValidJson, schemaProblem } from './validate.js';
import { UserError } from '../diagnostics/user-error.js';

/** A run directory or checkpoint that cannot be used: the CLI prints the message and exits 1. */
export class RunDirError extends UserError {}

const TMP = /\.tmp-\d+$/;
const OLD = /\.old-\d+$/;

/**
 * A failed write (a full disk, a quota, a read-only file system) as a RunDirError naming the file: the
 * caller has removed what it wrote half-way, and the message says the previous version is intact.
 */
function writeFailed(file: string, e: unknown, kept: string): RunDirError {
  const err = e as NodeJS.ErrnoException;
  const why =
    err.code === 'ENOSPC'
      ? 'no space left on device (ENOSPC)'
      : err.code === 'EDQUOT'
        ? 'disk quota exceeded (EDQUOT)'
        : err.code
          ? `${err.code}: ${err.message}`
          : String(err?.message ?? e);
  return new RunDirError(`cannot write ${file}: ${why}; the partial copy was removed and ${kept}`);
}

/** Writes data to file durably: written and flushed under a temporary name, then renamed over file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeDurable(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw writeFailed(file, e, existsSync(file) ? 'the previous version is unchanged' : 'nothing else was written');
  }
}

function writeDurable(file: string, data: string | Uint8Array): void {
  const fd = openSync(file, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The directory a run would get: --out, or a new folder runs/NET-STAMP. */
export function runDirName(out: string | undefined, net: string): string {
  if (out) return out;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  let dir = join('runs', `${net}-${stamp}`);
  for (let i = 1; existsSync(dir); i++) dir = join('runs', `${net}-${stamp}-${i}`);
  return dir;
}

/**
 * Creates a run directory holding config.json (and an empty checkpoints/), all at once: it does not
 * exist, or exists with its config. An existing empty folder is used; a run directory is refused
 * (that is what --resume is for), and so is any other non-empty folder.
 */
export function createRunDir(dir: string, configJson: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new RunDirError(`--out ${dir}: exists and is not a folder`);
    const entries = readdirSync(dir).filter((e) => !TMP.test(e));
    if (entries.includes('config.json'))
      throw new RunDirError(`--out ${dir}: already a run directory; continue it with --resume ${dir}, or choose another --out`);
    if (entries.length > 0) throw new RunDirError(`--out ${dir}: folder is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''})`);
    cleanRunDir(dir);
    try {
      mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    } catch (e) {
      throw writeFailed(join(dir, 'checkpoints'), e, 'nothing else was written');
    }
    writeFileAtomic(join(dir, 'config.json'), configJson);
    return;
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(dir), { recursive: true });
    removeUnfinishedRunDirs(dir);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, 'checkpoints'), { recursive: true });
    writeDurable(join(tmp, 'config.json'), configJson);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw writeFailed(dir, e, 'no run directory was created');
  }
}

/** Removes DIR.tmp-PID folders: new run directories whose creation was interrupted. */
function removeUnfinishedRunDirs(dir: string): string[] {
  const done: string[] = [];
  const parent = dirname(dir);
  if (!existsSync(parent)) return done;
  for (const e of readdirSync(parent)) {
    if (e.startsWith(`${basename(dir)}.tmp-`) && TMP.test(e)) {
      rmSync(join(parent, e), { recursive: true, force: true });
      done.push(`removed ${join(parent, e)} (a run directory that was never completed)`);
    }
  }
  return done;
}

/**
 * Tidies what a killed process left: temporary files and checkpoint folders are removed; a
 * checkpoint caught between its two renames (only NAME.old-PID there) is renamed back to NAME.
 * Returns what it did, one line each.
 */
export function cleanRunDir(dir: string): string[] {
  const done: string[] = [];
  for (const d of [dir, join(dir, 'checkpoints')]) {
    if (!existsSync(d)) continue;
    for (const e of readdirSync(d)) {
      if (!TMP.test(e)) continue;
      rmSync(join(d, e), { recursive: true, force: true });
      done.push(`removed ${join(d, e)} (left by an interrupted write)`);
    }
  }
  const ck = join(dir, 'checkpoints');
  if (existsSync(ck)) {
    const olds = readdirSync(ck)
      .filter((e) => OLD.test(e))
      .sort();
    for (const e of olds) {
      const name = e.replace(OLD, '');
      const final = join(ck, name);
      if (!existsSync(final) && isCompleteCheckpoint(join(ck, e))) {
        renameSync(join(ck, e), final);
        done.push(`restored ${final} from ${e} (the process stopped while replacing it)`);
      } else {
        rmSync(join(ck, e), { recursive: true, force: true });
        done.push(`removed ${join(ck, e)} (superseded checkpoint)`);
      }
    }
  }
  done.push(...removeUnfinishedRunDirs(dir));
  return done;
}

export interface MetricsRow {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  lr: number;
  imagesPerSecond: number;
  seconds: number;
}

const CSV_COLUMNS: (keyof MetricsRow)[] = ['epoch', 'trainLoss', 'trainAccuracy', 'valLoss', 'valAccuracy', 'lr', 'imagesPerSecond', 'seconds'];

/** Writes metrics.jsonl and metrics.csv whole (each atomically) from the history so far. */
export function writeMetrics(dir: string, rows: MetricsRow[]): void {
  writeFileAtomic(join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  const csv = [CSV_COLUMNS.join(','), ...rows.map((row) => CSV_COLUMNS.map((k) => (row[k] == null ? '' : String(row[k]))).join(','))];
  writeFileAtomic(join(dir, 'metrics.csv'), csv.join('\n') + '\n');
}

/** metrics.jsonl's rows, each valid against specs/metrics.schema.json (else a RunDirError naming the line). */
export function readMetrics(dir: string): MetricsRow[] {
  const f = join(dir, 'metrics.jsonl');
  if (!existsSync(f)) return [];
  const r = readBounded(f, MAX_RUN_JSON_BYTES);
  if (!('bytes' in r)) throw new RunDirError(`${f}: cannot be read (${r.errno ?? r.problem})`);
  return r.bytes
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line, i) => {
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (e) {
        throw new RunDirError(`${f}: line ${i + 1} is not valid JSON (${(e as Error).message}); the file is damaged`);
      }
      const problem = schemaProblem('metrics.schema.json', row);
      if (problem) throw new RunDirError(`${f}: line ${i + 1}: ${problem} (specs/metrics.schema.json); the file is damaged or was edited by hand`);
      return row as MetricsRow;
    });
}

/** What a checkpoint remembers beyond the weights and optimizer slots: everything the rest of the run depends on. */
export interface CheckpointState {
  /** Epochs completed. */
  epoch: number;
  /** Steps of the next epoch already done (0 at an epoch boundary; > 0 after an interrupt). */
  step?: number;
  /** The next epoch's running sums up to `step` (present when step > 0). */
  partial?: { lossSum: number; correct: number; seen: number; seconds: number };
  bestValAccuracy: number;
  optimizer: string;
  /** Metrics rows of the completed epochs (metrics.jsonl is rewritten from these on resume). */
  history?: MetricsRow[];
  /** Optimizer scalars getWeights does not carry exactly (Adam's beta powers), see optim.ts. */
  optimizerScalars?: Record<string, number>;
  /** Bytes of weights.bin and optimizer.bin, checked on load. */
  bytes?: { weights: number; optimizer: number };
  /** What computed these weights (warned about when a resume uses something else). */
  runtime?: CheckpointRuntime;
  /** SHA-256 of the checkpoint's other files, verified on load. */
  checksums?: Record<(typeof PARTS)[number], string>;
  /** SHA-256 of this object without `checksum` (JSON.stringify of it). */
  checksum?: string;
}

export interface CheckpointRuntime {
  backend: 'node-gpu' | 'node' | 'wasm' | 'cpu';
  /** `wasm + netc kernels`, `wasm + native oneDNN convolutions`, `node`, ... */
  kernels: string;
}

/** The runtime a config records (older runs recorded only the backend). */
export function runtimeOf(cfg: { backend: string; kernels?: string }): CheckpointRuntime {
  return { backend: cfg.backend as CheckpointRuntime['backend'], kernels: cfg.kernels ?? cfg.backend };
}

/** The kernels a backend choice trains with: `wasm`, or `wasm + native oneDNN convolutions`. */
export function kernelsOf(choice: { name: string; convolutions: string | null }): string {
  return choice.convolutions ? `${choice.name} + ${choice.convolutions}` : choice.name;
}

/**
 * A warning when a resume computes with other kernels than the checkpoint's weights came from: the run
 * goes on, but its numbers will differ from an uninterrupted run's (T2 holds for the same kernels only).
 */
export function runtimeSwitch(before: CheckpointRuntime | undefined, now: CheckpointRuntime): string | null {
  if (!before || before.kernels === now.kernels) return null;
  const native = (k: string) => k.includes('native');
  const how = [
    `--backend ${before.backend}`,
    ...(native(before.kernels) && !native(now.kernels) ? ['the native addon built (npm run build:native)'] : []),
    ...(!native(before.kernels) && native(now.kernels) ? ['NETC_NATIVE=0'] : []),
  ].join(' and ');
  return `warning: this run was trained so far with ${before.kernels} and now continues with ${now.kernels}: its numbers will differ from an uninterrupted run's (resume with ${how} to keep the same kernels)`;
}

/** config.json of a run directory, validated against specs/run-config.schema.json. */
export function readRunConfig(dir: string): RunConfig {
  return readValidJson<RunConfig>(join(dir, 'config.json'), 'run-config.schema.json', (m) => new RunDirError(m));
}

/** The files of a checkpoint besides state.json (which holds their checksums and is written last). */
const PARTS = ['model.json', 'weights.bin', 'optimizer.json', 'optimizer.bin'] as const;

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

function isCompleteCheckpoint(d: string): boolean {
  return missingParts(d).length === 0;
}

function missingParts(d: string): string[] {
  return [...PARTS, 'state.json'].filter((f) => !existsSync(join(d, f)));
}

/**
 * Where `--resume` continues from: the last checkpoint, or null when the run never wrote one (it was
 * stopped during its first epoch) and may start from the beginning. A run with results but no usable
 * checkpoint is refused (RunDirError), never restarted over them: a `last` folder missing a part, or
 * metrics/result.json without any `last`. Nothing is changed when it refuses.
 */
export function resumableCheckpoint(dir: string): string | null {
  const found = findCheckpoint(dir, 'last');
  if (found) return found;
  const last = join(dir, 'checkpoints', 'last');
  if (existsSync(last)) {
    throw new RunDirError(
      `${last}: the checkpoint is incomplete (${missingParts(last).join(', ')} missing); not resuming, and not starting the run again over its results (nothing was changed). Restore the missing files, or train anew with another --out`,
    );
  }
  const evidence = ['metrics.jsonl', 'result.json'].filter((f) => {
    try {
      return statSync(join(dir, f)).size > 0;
    } catch {
      return false;
    }
  });
  if (evidence.length > 0) {
    throw new RunDirError(
      `${dir}: has ${evidence.join(' and ')} but no checkpoints/last; not starting the run again over its results (nothing was changed). Train anew with another --out`,
    );
  }
  return null;
}

/** The folder holding checkpoint `name` (`last`, `best`), or null when there is none yet. */
export function findCheckpoint(dir: string, name: string): string | null {
  const ck = join(dir, 'checkpoints');
  if (isCompleteCheckpoint(join(ck, name))) return join(ck, name);
  if (!existsSync(ck)) return null;
  const old = readdirSync(ck)
    .filter((e) => e.startsWith(`${name}.old-`) && OLD.test(e))
    .map((e) => join(ck, e))
    .find(isCompleteCheckpoint);
  return old ?? null;
}

export async function saveCheckpoint(dir: string, name: string, model: tfl.LayersModel, optimizer: tf.Optimizer, state: CheckpointState): Promise<void> {
  const final = join(dir, 'checkpoints', name);
  const tmp = `${final}.tmp-${process.pid}`;
  const old = `${final}.old-${process.pid}`;
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const checksums: Record<string, string> = {};
    // Every part is checksummed as it is written; state.json, written last, holds the sums and its own.
    const write = (file: string, data: string | Uint8Array) => {
      writeDurable(file, data);
      checksums[basename(file)] = sha256(data);
    };
    const weightBytes = await saveLayersModel(model, tmp, 'netc', write);
    const ow = await optimizer.getWeights();
    const enc = await tf.io.encodeWeights(ow);
    write(join(tmp, 'optimizer.json'), JSON.stringify(enc.specs));
    write(join(tmp, 'optimizer.bin'), new Uint8Array(enc.data));
    const body: CheckpointState = {
      ...state,
      optimizerScalars: optimizerScalars(optimizer),
      bytes: { weights: weightBytes, optimizer: enc.data.byteLength },
      checksums: Object.fromEntries(PARTS.map((p) => [p, checksums[p]!])) as CheckpointState['checksums'],
    };
    delete body.checksum;
    const sealed = { ...body, checksum: sha256(JSON.stringify(body)) };
    writeDurable(join(tmp, 'state.json'), JSON.stringify(sealed, null, 2));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw writeFailed(join(final, '...'), e, existsSync(final) ? `the previous checkpoint ${final} is intact` : 'no checkpoint was written');
  }
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

const damaged = (file: string, what: string) => new RunDirError(`${file}: ${what}: the checkpoint is damaged; refusing to use it (nothing was changed)`);

/** Reads one part of a checkpoint, at most `maxBytes`, and checks its size and checksum when recorded. */
function readPart(file: string, state: CheckpointState, bytes: number | undefined): Buffer {
  const r = readBounded(file, bytes ?? 4 * 1024 ** 3 - 1);
  if (!('bytes' in r))
    throw damaged(
      file,
      r.problem === 'missing'
        ? 'missing'
        : r.problem === 'too-large'
          ? `larger than the ${bytes} bytes the checkpoint recorded`
          : `cannot be read (${r.errno ?? r.problem})`,
    );
  const b = r.bytes;
  if (bytes != null && b.byteLength !== bytes) throw damaged(file, `${b.byteLength} bytes, but the checkpoint recorded ${bytes}`);
  const want = state.checksums?.[basename(file) as (typeof PARTS)[number]];
  if (want && sha256(b) !== want) throw damaged(file, `its SHA-256 is not the one state.json recorded`);
  return b;
}

/**
 * Reads and checks a checkpoint's state.json: valid against specs/state.schema.json, its own checksum
 * right (so a flipped bit in the epoch or the history is caught too).
 */
export function readCheckpointState(d: string): CheckpointState {
  const file = join(d, 'state.json');
  const state = readValidJson<CheckpointState>(file, 'state.schema.json', (m) => new RunDirError(`${m}; refusing to use the checkpoint (nothing was changed)`));
  if (state.checksum !== undefined) {
    const { checksum, ...body } = state;
    if (sha256(JSON.stringify(body)) !== checksum) throw damaged(file, 'its SHA-256 is not the one it recorded');
  }
  if (state.step && state.step > 0 && !state.partial) throw damaged(file, `step ${state.step} without the epoch's running sums (partial)`);
  return state;
}

/**
 * Why the checkpoint in folder `d` is not usable, or null: state.json valid and sealed, every part there
 * with its recorded size and checksum. (Weights are checked finite only when loaded.)
 */
export function checkpointProblem(d: string): string | null {
  try {
    const state = readCheckpointState(d);
    readPart(join(d, 'weights.bin'), state, state.bytes?.weights);
    readPart(join(d, 'optimizer.bin'), state, state.bytes?.optimizer);
    readPart(join(d, 'model.json'), state, undefined);
    readPart(join(d, 'optimizer.json'), state, undefined);
    return null;
  } catch (e) {
    if (e instanceof RunDirError) return e.message;
    throw e;
  }
}

/** The name of the first weight of a model holding a NaN or an infinity, or null. */
function nonFiniteWeight(model: tfl.LayersModel): string | null {
  for (const w of model.weights) {
    const values = w.read().dataSync() as Float32Array;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return w.originalName ?? w.name;
  }
  return null;
}

export async function loadCheckpoint(
  dir: string,
  name: string,
): Promise<{ model: tfl.LayersModel; optimizerWeights: { name: string; tensor: tf.Tensor }[]; state: CheckpointState; path: string }> {
  const d = findCheckpoint(dir, name);
  if (!d) {
    const folder = join(dir, 'checkpoints', name);
    if (existsSync(folder)) throw new RunDirError(`${folder}: the checkpoint is incomplete (${missingParts(folder).join(', ')} missing)`);
    throw new RunDirError(`${folder}: no checkpoint here`);
  }
  const state = readCheckpointState(d);
  const wb = readPart(join(d, 'weights.bin'), state, state.bytes?.weights);
  const ob = readPart(join(d, 'optimizer.bin'), state, state.bytes?.optimizer);
  const mjBytes = readPart(join(d, 'model.json'), state, undefined);
  const specBytes = readPart(join(d, 'optimizer.json'), state, undefined);
  let model: tfl.LayersModel;
  let optimizerWeights: { name: string; tensor: tf.Tensor }[];
  try {
    const mj = JSON.parse(mjBytes.toString('utf8'));
    // Checkpoints hold netc's own layers (-inf padding, channel scaling, PyTorch batch norm, ...).
    registerCustomLayers();
    model = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: mj.modelTopology,
        weightSpecs: mj.weightsManifest[0].weights,
        weightData: wb.buffer.slice(wb.byteOffset, wb.byteOffset + wb.byteLength) as ArrayBuffer,
      }),
    );
    const specs = JSON.parse(specBytes.toString('utf8'));
    const decoded = tf.io.decodeWeights(ob.buffer.slice(ob.byteOffset, ob.byteOffset + ob.byteLength) as ArrayBuffer, specs);
    optimizerWeights = specs.map((s: { name: string }) => ({ name: s.name, tensor: decoded[s.name] }));
  } catch (e) {
    throw new RunDirError(`${d}: cannot load the checkpoint: ${(e as Error).message}`);
  }
  // A checkpoint is only ever written from finite weights: NaN or infinity means damage (or a file from elsewhere).
  const bad = nonFiniteWeight(model);
  if (bad) throw damaged(join(d, 'weights.bin'), `weight ${bad} holds NaN or infinite values`);
  return { model, optimizerWeights, state, path: d };
}
