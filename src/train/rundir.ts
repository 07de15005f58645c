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
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { saveLayersModel } from '../lower/save.js';
import * as tfl from '@tensorflow/tfjs-layers';
import { optimizerScalars } from './optim.js';

/** A run directory or checkpoint that cannot be used: the CLI prints the message and exits 1. */
export class RunDirError extends Error {}

const TMP = /\.tmp-\d+$/;
const OLD = /\.old-\d+$/;

/** Writes data to file durably: written and flushed under a temporary name, then renamed over file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeDurable(tmp, data);
  renameSync(tmp, file);
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
    if (entries.includes('config.json')) throw new RunDirError(`--out ${dir}: already a run directory; continue it with --resume ${dir}, or choose another --out`);
    if (entries.length > 0) throw new RunDirError(`--out ${dir}: folder is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''})`);
    cleanRunDir(dir);
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    writeFileAtomic(join(dir, 'config.json'), configJson);
    return;
  }
  mkdirSync(dirname(dir), { recursive: true });
  removeUnfinishedRunDirs(dir);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'checkpoints'), { recursive: true });
  writeDurable(join(tmp, 'config.json'), configJson);
  renameSync(tmp, dir);
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
    const olds = readdirSync(ck).filter((e) => OLD.test(e)).sort();
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

export function readMetrics(dir: string): MetricsRow[] {
  const f = join(dir, 'metrics.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as MetricsRow);
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
}

function isCompleteCheckpoint(d: string): boolean {
  return ['model.json', 'weights.bin', 'optimizer.json', 'optimizer.bin', 'state.json'].every((f) => existsSync(join(d, f)));
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
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const weightBytes = await saveLayersModel(model, tmp, 'netc', writeDurable);
  const ow = await optimizer.getWeights();
  const enc = await tf.io.encodeWeights(ow);
  writeDurable(join(tmp, 'optimizer.json'), JSON.stringify(enc.specs));
  writeDurable(join(tmp, 'optimizer.bin'), new Uint8Array(enc.data));
  // state.json last: a folder without it is incomplete (and never renamed into place anyway).
  writeDurable(join(tmp, 'state.json'), JSON.stringify({ ...state, optimizerScalars: optimizerScalars(optimizer), bytes: { weights: weightBytes, optimizer: enc.data.byteLength } }, null, 2));
  const old = `${final}.old-${process.pid}`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

function readChecked(file: string, bytes: number | undefined): Buffer {
  const b = readFileSync(file);
  if (bytes != null && b.byteLength !== bytes) throw new RunDirError(`${file}: ${b.byteLength} bytes, but the checkpoint recorded ${bytes}: the checkpoint is damaged`);
  return b;
}

export async function loadCheckpoint(
  dir: string,
  name: string,
): Promise<{ model: tfl.LayersModel; optimizerWeights: { name: string; tensor: tf.Tensor }[]; state: CheckpointState; path: string }> {
  const d = findCheckpoint(dir, name);
  if (!d) throw new RunDirError(`${join(dir, 'checkpoints', name)}: no checkpoint here`);
  try {
    const state = JSON.parse(readFileSync(join(d, 'state.json'), 'utf8')) as CheckpointState;
    const mj = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
    const wb = readChecked(join(d, 'weights.bin'), state.bytes?.weights);
    const model = await tfl.loadLayersModel(
      tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: mj.weightsManifest[0].weights, weightData: wb.buffer.slice(wb.byteOffset, wb.byteOffset + wb.byteLength) as ArrayBuffer }),
    );
    const specs = JSON.parse(readFileSync(join(d, 'optimizer.json'), 'utf8'));
    const ob = readChecked(join(d, 'optimizer.bin'), state.bytes?.optimizer);
    const decoded = tf.io.decodeWeights(ob.buffer.slice(ob.byteOffset, ob.byteOffset + ob.byteLength) as ArrayBuffer, specs);
    const optimizerWeights = specs.map((s: { name: string }) => ({ name: s.name, tensor: decoded[s.name] }));
    return { model, optimizerWeights, state, path: d };
  } catch (e) {
    if (e instanceof RunDirError) throw e;
    throw new RunDirError(`${d}: cannot load the checkpoint: ${(e as Error).message}`);
  }
}
