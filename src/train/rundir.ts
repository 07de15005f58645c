/**
 * The run directory: config.json, metrics.jsonl + metrics.csv, result.json, checkpoints/best and
 * checkpoints/last (tfjs model format plus optimizer state), loss.svg and accuracy.svg.
 *
 * Checkpoints are written atomically: into a temporary folder, then renamed over the old one, so an
 * interrupted write never leaves a half checkpoint behind. Saving uses `tf.io.withSaveHandler`
 * because tfjs-core alone has no `file://` handler (that comes with tfjs-node).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export function makeRunDir(out: string | undefined, net: string): string {
  let dir = out;
  if (!dir) {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
    dir = join('runs', `${net}-${stamp}`);
    for (let i = 1; existsSync(dir); i++) dir = join('runs', `${net}-${stamp}-${i}`);
  }
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  return dir;
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

export function appendMetrics(dir: string, row: MetricsRow): void {
  appendFileSync(join(dir, 'metrics.jsonl'), JSON.stringify(row) + '\n');
  const csv = join(dir, 'metrics.csv');
  if (!existsSync(csv)) writeFileSync(csv, CSV_COLUMNS.join(',') + '\n');
  appendFileSync(csv, CSV_COLUMNS.map((k) => (row[k] == null ? '' : String(row[k]))).join(',') + '\n');
}

export function readMetrics(dir: string): MetricsRow[] {
  const f = join(dir, 'metrics.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as MetricsRow);
}

/** What a checkpoint remembers beyond the weights, to resume. */
export interface CheckpointState {
  /** Epochs completed. */
  epoch: number;
  bestValAccuracy: number;
  optimizer: string;
}

async function saveModelFiles(model: tfl.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const manifest = [{ paths: ['weights.bin'], weights: a.weightSpecs ?? [] }];
      writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', generatedBy: 'netc', modelTopology: a.modelTopology, weightsManifest: manifest }));
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

export async function saveCheckpoint(dir: string, name: string, model: tfl.LayersModel, optimizer: tf.Optimizer, state: CheckpointState): Promise<void> {
  const final = join(dir, 'checkpoints', name);
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await saveModelFiles(model, tmp);
  const ow = await optimizer.getWeights();
  const enc = await tf.io.encodeWeights(ow);
  writeFileSync(join(tmp, 'optimizer.json'), JSON.stringify(enc.specs));
  writeFileSync(join(tmp, 'optimizer.bin'), new Uint8Array(enc.data));
  writeFileSync(join(tmp, 'state.json'), JSON.stringify(state, null, 2));
  const old = `${final}.old-${process.pid}`;
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

export async function loadCheckpoint(dir: string, name: string): Promise<{ model: tfl.LayersModel; optimizerWeights: { name: string; tensor: tf.Tensor }[]; state: CheckpointState }> {
  const d = join(dir, 'checkpoints', name);
  if (!existsSync(join(d, 'model.json'))) throw new Error(`${d}: no checkpoint here (model.json missing)`);
  const mj = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
  const wb = readFileSync(join(d, 'weights.bin'));
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: mj.weightsManifest[0].weights, weightData: wb.buffer.slice(wb.byteOffset, wb.byteOffset + wb.byteLength) }),
  );
  const specs = JSON.parse(readFileSync(join(d, 'optimizer.json'), 'utf8'));
  const ob = readFileSync(join(d, 'optimizer.bin'));
  const decoded = tf.io.decodeWeights(ob.buffer.slice(ob.byteOffset, ob.byteOffset + ob.byteLength), specs);
  const optimizerWeights = specs.map((s: { name: string }) => ({ name: s.name, tensor: decoded[s.name] }));
  const state = JSON.parse(readFileSync(join(d, 'state.json'), 'utf8')) as CheckpointState;
  return { model, optimizerWeights, state };
}
