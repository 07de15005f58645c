/** Shared by the post-training tests: quiet training runs written in the layout `netc train` writes. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFile } from '../../src/api.js';
import { netcInProcess } from '../frontend/helpers.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { trainingNormalization } from '../../src/post/run.js';
import type { RunConfig } from '../../src/train/config.js';
import type { Dataset } from '../../src/train/data/dataset.js';
import { train, type TrainResult } from '../../src/train/loop.js';

export const quietIo = { log: () => {}, progress: () => {}, interrupted: () => false };

export function runConfig(over: Partial<RunConfig>): RunConfig {
  return {
    net: '',
    data: 'fashion-mnist-sample',
    backend: 'wasm',
    epochs: 1,
    batchSize: 32,
    optimizer: 'momentum',
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 0,
    schedule: 'none',
    stepSize: 10,
    gamma: 0.1,
    augment: { crop: 0, flip: false },
    normalize: true,
    valSplit: 0.1,
    seed: 0,
    out: '',
    ...over,
  };
}

/** Compiles `file` for the dataset, trains it in-process and writes config.json the way `netc train` does. */
/**
 * With storeNormalization, config.json also records the training mean/std (a dataset that exists
 * only in memory cannot be re-read to recompute them).
 */
export async function trainRun(file: string, dataset: Dataset, dir: string, over: Partial<RunConfig>, storeNormalization = false): Promise<TrainResult> {
  const compiled = compileFile(file, { input: dataset.shape, args: { classes: dataset.classes.length } });
  const errors = compiled.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(errors.map((d) => d.message).join('; '));
  const graph = compiled.graphs[0]!;
  const cfg = runConfig({ net: graph.net, file, args: graph.args as RunConfig['args'], out: dir, ...over });
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  const stored = storeNormalization && cfg.normalize ? { normalization: trainingNormalization(dataset, cfg) } : {};
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, ...stored }, null, 2) + '\n');
  const { model } = lowerGraph(graph, { seed: cfg.seed });
  return train({ config: cfg, model, dataset, runDir: dir, io: quietIo });
}

/** Runs the CLI in-process, capturing stdout and stderr (the front-end tests' runner). */
export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await netcInProcess(args);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
