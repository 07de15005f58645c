/**
 * Opening a finished run directory for the post-training commands (eval, predict, cam): its
 * config, the chosen checkpoint, the class names and the normalisation the network was trained with.
 *
 * The checkpoint carries the model's topology, so the trained model is used as saved; the .net file
 * is compiled too (with the run's arguments and input shape) so that the commands can point into it
 * (CAM's head) and so that a checkpoint from a different net is refused instead of misread.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { compileFile, type CompileResult } from '../api.js';
import type { IRGraph } from '../ir/types.js';
import { ALL_WEIGHTS, weightCount } from '../ir/size.js';
import { channelMeanStd, type Norm } from '../train/batches.js';
import type { RunConfig } from '../train/config.js';
import { loadDataset, type Dataset } from '../train/data/index.js';
import { trainingSplit } from '../train/loop.js';
import { loadCheckpoint } from '../train/rundir.js';
import { readValidJson } from '../train/validate.js';
import { UserError } from '../diagnostics/user-error.js';

/** A problem with the run directory or its data that the user must fix (exit 1, no stack trace). */
export class RunError extends UserError {}

export type CheckpointName = 'best' | 'last';

export interface RunResultJson {
  testAccuracy: number | null;
  perClassAccuracy: Record<string, number>;
  confusionMatrix: number[][];
  classes?: string[];
  backend: string;
}

export interface OpenRun {
  dir: string;
  config: RunConfig;
  /** result.json, when the run finished. */
  result: RunResultJson | null;
  checkpoint: CheckpointName;
  model: tfl.LayersModel;
  /** [C, H, W] the model takes (PyTorch order). */
  inputShape: [number, number, number];
  /** Number of outputs (classes). */
  outputs: number;
}

/** config.json, valid against specs/run-config.schema.json (a hand-edited or damaged one is a RunError naming the field). */
export function readRunConfig(dir: string): RunConfig {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new RunError(`${dir}: not a run directory (no config.json); --weights names the folder \`netc train --out\` wrote`);
  return readValidJson<RunConfig>(file, 'run-config.schema.json', (m) => new RunError(m));
}

export async function openRun(dir: string, checkpoint: CheckpointName): Promise<OpenRun> {
  const config = readRunConfig(dir);
  const resultFile = join(dir, 'result.json');
  const result = existsSync(resultFile) ? readValidJson<RunResultJson>(resultFile, 'result.schema.json', (m) => new RunError(m)) : null;
  let model: tfl.LayersModel;
  try {
    ({ model } = await loadCheckpoint(dir, checkpoint));
  } catch (e) {
    const other = checkpoint === 'best' ? 'last' : 'best';
    const hint = existsSync(join(dir, 'checkpoints', other, 'model.json')) ? ` (try --checkpoint ${other})` : '';
    throw new RunError(`${dir}: cannot load checkpoint '${checkpoint}': ${(e as Error).message}${hint}`);
  }
  const s = model.inputs[0]!.shape;
  const inputShape: [number, number, number] = s.length === 4 ? [s[3]!, s[1]!, s[2]!] : [s[1]!, 1, 1];
  const o = model.outputs[0]!.shape;
  return { dir, config, result, checkpoint, model, inputShape, outputs: o[o.length - 1]! };
}

/** Total number of weight values (parameters and buffers) an IR graph declares. */
function irWeightCount(g: IRGraph): number {
  return g.nodes.reduce((n, node) => n + weightCount(node, ALL_WEIGHTS), 0);
}

/**
 * Compiles the .net file the way `netc train` did (the run's arguments, the model's input shape).
 * Returns the compile result; `mismatch` is set when the graph's weights cannot be the checkpoint's.
 */
export function compileForRun(file: string, run: OpenRun, net?: string): { compiled: CompileResult; graph: IRGraph | null; mismatch: string | null } {
  const args = { ...(run.config.args ?? {}) } as Record<string, number | boolean | string>;
  const input = run.inputShape;
  let compiled = compileFile(file, { args, input, net: net ?? (run.config.net || undefined) });
  // No --net and the file has no net of the run's name: its first net, as `netc train` chose.
  const noSuchNet = (c: CompileResult) => c.graphs.length === 0 && c.diagnostics.some((d) => d.code === 'NET1001' && d.span.start === 0 && d.span.end === 0);
  if (!net && run.config.net && noSuchNet(compiled)) {
    const all = compileFile(file, { args, input });
    const first = [...all.program.entry.own.values()].find((d) => d.kind === 'net');
    if (first) compiled = compileFile(file, { args, input, net: first.name });
  }
  const hasErrors = compiled.diagnostics.some((d) => d.severity === 'error');
  const graph = hasErrors ? null : (compiled.graphs[0] ?? null);
  let mismatch: string | null = null;
  if (graph) {
    const mine = irWeightCount(graph);
    const theirs = run.model.countParams();
    const out = graph.nodes[graph.output]!.shape;
    if (mine !== theirs) {
      mismatch = `${file} (net ${graph.net}) has ${mine.toLocaleString('en-US')} weights but the checkpoint in ${run.dir} has ${theirs.toLocaleString('en-US')}: the run trained a different net (it trained ${run.config.net}${run.config.file ? ` from ${run.config.file}` : ''})`;
    } else if (out?.length !== 1 || out[0] !== run.outputs) {
      mismatch = `${graph.net} outputs ${JSON.stringify(out)} per sample but the checkpoint outputs ${run.outputs} classes`;
    }
  }
  return { compiled, graph, mismatch };
}

/**
 * The per-channel mean/std the run normalised its inputs with (null when it trained with
 * --no-normalize). netc train computes them from the training images after --subset and the
 * validation split; when the run directory does not store them they are recomputed the same way
 * from the run's dataset (same seed, same split), which needs that dataset to be readable.
 */
export async function runNormalization(run: OpenRun, log?: (m: string) => void): Promise<Norm | null> {
  const cfg = run.config as RunConfig & { normalization?: Norm };
  if (!cfg.normalize) return null;
  const stored = cfg.normalization;
  if (stored) {
    // The schema has checked numbers, non-empty lists and std > 0; their length must be the input's channels.
    const channels = run.inputShape[0];
    const bad = [
      ['mean', stored.mean],
      ['std', stored.std],
    ].find(([, v]) => (v as number[]).length !== channels || !(v as number[]).every(Number.isFinite));
    if (bad) {
      throw new RunError(
        `${join(run.dir, 'config.json')}: normalization.${bad[0]} holds ${(bad[1] as number[]).length} values, but the model takes ${channels} channel${channels === 1 ? '' : 's'}; the file is damaged or was edited by hand`,
      );
    }
    return stored;
  }
  let dataset: Dataset;
  try {
    dataset = await loadDataset(cfg.data, { dataDir: cfg.dataDir, download: false, log });
  } catch (e) {
    throw new RunError(
      `the run normalised its inputs with the mean/std of its training data (${cfg.data}), which cannot be read here: ${(e as Error).message}`,
    );
  }
  return trainingNormalization(dataset, cfg);
}

/** The mean/std of the training images exactly as `train()` splits them (subset, then seeded validation split). */
export function trainingNormalization(dataset: Dataset, cfg: Pick<RunConfig, 'subset' | 'seed' | 'valSplit'>): Norm {
  return channelMeanStd(trainingSplit(dataset, cfg).train, dataset.shape[0]);
}

/** Class names: result.json's, else the run's dataset's, else `0..n-1`. */
export async function runClasses(run: OpenRun): Promise<string[]> {
  const fromResult = run.result?.classes;
  if (fromResult && fromResult.length === run.outputs) return fromResult;
  try {
    const d = await loadDataset(run.config.data, { dataDir: run.config.dataDir, download: false });
    if (d.classes.length === run.outputs) return d.classes;
  } catch {
    // fall through: numbered classes
  }
  return Array.from({ length: run.outputs }, (_, i) => String(i));
}
