/**
 * The training loop: epochs of shuffled mini-batches with the chosen optimizer and schedule,
 * validation after each epoch, checkpoints (best by validation accuracy, and last), metrics and
 * plots in the run directory, a final test evaluation, NaN detection and clean interruption.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { makeRng } from '../random.js';
import { channelMeanStd, makeBatch, type Norm } from './batches.js';
import type { RunConfig } from './config.js';
import type { Dataset, Split } from './data/dataset.js';
import { gather } from './data/dataset.js';
import { Confusion } from './metrics.js';
import { makeOptim, restoreOptimizerScalars } from './optim.js';
import { curveSvg } from './plot.js';
import {
  checkpointProblem,
  findCheckpoint,
  readMetrics,
  runtimeOf,
  saveCheckpoint,
  writeFileAtomic,
  writeMetrics,
  type CheckpointState,
  type MetricsRow,
} from './rundir.js';
import { shuffleRng, stepRng, withRandom } from './random.js';
import { learningRate } from './schedule.js';
import { UserError } from '../diagnostics/user-error.js';

/** The run stopped for a reason the user must see (NaN loss): printed without a stack trace. */
export class TrainingError extends UserError {}

export interface TrainResult {
  testAccuracy: number | null;
  testLoss: number | null;
  perClassAccuracy: Record<string, number>;
  confusionMatrix: number[][];
  classes: string[];
  backend: string;
  epochs: number;
  bestValAccuracy: number | null;
  seconds: number;
  interrupted: boolean;
  runDir: string;
}

export interface TrainIO {
  /** A finished line (stderr). */
  log(line: string): void;
  /** A live progress line, overwritten in place on a TTY (stderr). */
  progress(line: string): void;
  /** Set on SIGINT/SIGTERM: the loop saves checkpoints/last at the current step and stops. */
  interrupted(): boolean;
}

export interface TrainInput {
  config: RunConfig;
  model: tfl.LayersModel;
  dataset: Dataset;
  runDir: string;
  io: TrainIO;
  /** The model's output is already a probability distribution (the net ends with softmax). */
  outputsProbabilities?: boolean;
  resume?: { state: CheckpointState; optimizerWeights: { name: string; tensor: tf.Tensor }[] };
}

/** Seeded Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, rand: () => number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

function fmtTime(s: number): string {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

/**
 * Loss of a batch: cross-entropy from logits (nn.CrossEntropyLoss), or from probabilities when the
 * net ends in softmax (nn.NLLLoss on log p; p clipped at 1e-7 so a zero cannot give -inf).
 * (tf.losses.logLoss is binary cross-entropy per class, not this: `netc verify` found it.)
 */
export function lossOf(out: tf.Tensor, oneHot: tf.Tensor, probs: boolean): tf.Scalar {
  if (!probs) return tf.losses.softmaxCrossEntropy(oneHot, out);
  return tf.neg(tf.mean<tf.Scalar>(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(out, 1e-7, 1))), 1)));
}

/**
 * Loss, accuracy and confusion over a whole split, in inference mode. `progress` hears after each
 * batch (images done, total): a 10,000-image test pass of a big net takes a minute.
 */
export async function evaluate(
  model: tfl.LayersModel,
  s: Split,
  shape: [number, number, number],
  norm: Norm | null,
  classes: number,
  probs: boolean,
  progress?: (done: number, total: number) => void,
  batchSize = 256,
) {
  const conf = new Confusion(classes);
  let lossSum = 0;
  for (let i = 0; i < s.count; i += batchSize) {
    if (progress && i > 0) {
      progress(i, s.count);
      // Let a TTY's progress line (and SIGINT handlers) through between batches.
      await new Promise<void>((r) => setImmediate(r));
    }
    const idx = Int32Array.from({ length: Math.min(batchSize, s.count - i) }, (_, k) => i + k);
    const b = makeBatch(s, idx, { shape, norm, crop: 0, flip: false, rand: Math.random });
    const [loss, pred] = tf.tidy(() => {
      const x = tf.tensor4d(b.x, [idx.length, shape[1], shape[2], shape[0]]);
      const out = model.predict(x) as tf.Tensor;
      const l = lossOf(out, tf.oneHot(tf.tensor1d(b.y, 'int32'), classes), probs);
      return [l.dataSync()[0], tf.argMax(out, 1).dataSync()];
    });
    lossSum += (loss as number) * idx.length;
    conf.add(b.y, pred as Int32Array);
  }
  return { loss: s.count ? lossSum / s.count : NaN, accuracy: conf.accuracy(), confusion: conf };
}

/** The images a run trains and validates on: --subset, then a seeded validation split. */
export function trainingSplit(dataset: Dataset, cfg: Pick<RunConfig, 'subset' | 'seed' | 'valSplit'>): { train: Split; val: Split | null } {
  const per = dataset.shape[0] * dataset.shape[1] * dataset.shape[2];
  let all = dataset.train;
  if (cfg.subset != null)
    all = gather(
      all,
      Int32Array.from({ length: Math.min(cfg.subset, all.count) }, (_, i) => i),
      per,
    );
  const perm = permutation(all.count, makeRng(cfg.seed + 7).uniform);
  const nVal = Math.floor(all.count * cfg.valSplit);
  if (nVal === 0) return { train: all, val: null };
  return { train: gather(all, perm.subarray(nVal), per), val: gather(all, perm.subarray(0, nVal), per) };
}

/**
 * Trains; running out of memory anyway (the estimate in memory.ts ignores kernels' scratch space) is a
 * TrainingError with what to try (exit 1), not a wasm out-of-bounds trap or an allocation failure's stack.
 */
export async function train(inp: TrainInput): Promise<TrainResult> {
  try {
    return await trainSteps(inp);
  } catch (e) {
    const message = String((e as Error)?.message ?? e);
    const outOfMemory =
      (e as Error)?.name === 'RuntimeError' || /Array buffer allocation failed|Cannot enlarge memory|out of memory|Invalid typed array length/i.test(message);
    if (!outOfMemory) throw e;
    throw new TrainingError(
      `ran out of memory while training (${message.split('\n')[0]}); the last checkpoint, if any, is intact; try a smaller --batch-size, or --memory-limit below this machine's memory so that the estimate refuses such runs up front`,
    );
  }
}

async function trainSteps(inp: TrainInput): Promise<TrainResult> {
  const { config: cfg, model, dataset, runDir, io } = inp;
  const t0 = performance.now();
  const shape = dataset.shape;
  const classes = dataset.classes.length;
  const probs = inp.outputsProbabilities ?? false;

  const { train: trn, val } = trainingSplit(dataset, cfg);
  const norm = cfg.normalize ? channelMeanStd(trn, shape[0]) : null;
  // Recorded so that eval, predict, cam and export normalise inputs as training did, without the data.
  if (norm && !inp.resume) writeFileAtomic(join(runDir, 'config.json'), JSON.stringify({ ...cfg, normalization: norm }, null, 2) + '\n');

  const optim = makeOptim(cfg);
  const vars = new Map<string, tf.Variable>();
  for (const w of model.trainableWeights) {
    const v = w.read() as tf.Variable;
    vars.set(v.name, v);
  }
  const varList = [...vars.values()];
  // Every weight, running statistics included, is checked for NaN/Inf after each update.
  const allWeights = model.weights.map((w) => ({ name: w.originalName ?? w.name, v: w.read() }));
  let startEpoch = 0;
  let startStep = 0;
  let partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
  let best = -1;
  let history: MetricsRow[] = [];
  if (inp.resume) {
    const st = inp.resume.state;
    startEpoch = st.epoch;
    startStep = st.step ?? 0;
    if (startStep > 0 && st.partial) partial = st.partial;
    best = st.bestValAccuracy;
    await optim.tf.setWeights(inp.resume.optimizerWeights);
    restoreOptimizerScalars(optim.tf, st.optimizerScalars);
    history = (st.history ?? readMetrics(runDir)).filter((r) => r.epoch <= startEpoch);
    // metrics.jsonl may be one epoch ahead of the checkpoint (killed between the two writes).
    writeMetrics(runDir, history);
  }

  const steps = Math.ceil(trn.count / cfg.batchSize);
  let interrupted = false;
  let epoch = startEpoch;
  for (; epoch < cfg.epochs && !interrupted; epoch++) {
    const te = performance.now();
    const order = permutation(trn.count, shuffleRng(cfg.seed, epoch).uniform);
    const resumed = epoch === startEpoch && startStep > 0;
    let lossSum = resumed ? partial.lossSum : 0;
    let correct = resumed ? partial.correct : 0;
    let seen = resumed ? partial.seen : 0;
    const before = resumed ? partial.seconds : 0;
    let lr = cfg.lr;
    let s = resumed ? startStep : 0;
    for (; s < steps; s++) {
      // Let SIGINT/SIGTERM handlers run between steps.
      await new Promise<void>((r) => setImmediate(r));
      if (io.interrupted()) {
        interrupted = true;
        break;
      }
      const idx = order.subarray(s * cfg.batchSize, Math.min(trn.count, (s + 1) * cfg.batchSize));
      const rng = stepRng(cfg.seed, epoch, s);
      const b = makeBatch(trn, idx, { shape, norm, crop: cfg.augment.crop, flip: cfg.augment.flip, rand: rng.uniform });
      lr = learningRate(cfg, epoch, s, steps);
      const [loss, hits] = tf.tidy(() => {
        const x = tf.tensor4d(b.x, [idx.length, shape[1], shape[2], shape[0]]);
        const y = tf.oneHot(tf.tensor1d(b.y, 'int32'), classes);
        let out: tf.Tensor | null = null;
        const { value, grads } = tf.variableGrads(() => {
          // Kept: variableGrads disposes its scope, and the accuracy needs the outputs.
          // Dropout draws its mask seed from Math.random: the step's generator makes it reproducible.
          out = tf.keep(withRandom(rng.uniform, () => model.apply(x, { training: true }) as tf.Tensor));
          return lossOf(out, y, probs);
        }, varList);
        const lv = value.dataSync()[0]!;
        const logits = out as unknown as tf.Tensor;
        if (!Number.isFinite(lv)) {
          logits.dispose();
          return [lv, 0];
        }
        optim.step(grads, vars, lr);
        const h = tf.sum(tf.equal(tf.argMax(logits, 1), tf.tensor1d(b.y, 'int32'))).dataSync()[0]!;
        logits.dispose();
        return [lv, h];
      });
      const where = `at epoch ${epoch + 1}, step ${s + 1} of ${steps} (learning rate ${lr})`;
      if (!Number.isFinite(loss)) {
        throw new TrainingError(`loss became ${loss} ${where}; ${lastGood(runDir)}; try a smaller --lr, or --normalize`);
      }
      const bad = nonFinite(allWeights);
      if (bad) {
        throw new TrainingError(`weight ${bad} became NaN or infinite after the update ${where} (loss was ${loss}); ${lastGood(runDir)}; try a smaller --lr`);
      }
      lossSum += loss * idx.length;
      correct += hits;
      seen += idx.length;
      const el = before + (performance.now() - te) / 1000;
      const ips = seen / el;
      const eta = (steps - s - 1) * (el / (s + 1)) + (cfg.epochs - epoch - 1) * steps * (el / (s + 1));
      io.progress(
        `epoch ${epoch + 1}/${cfg.epochs} step ${s + 1}/${steps} ${ips.toFixed(1)} img/s loss ${(lossSum / seen).toFixed(4)} acc ${((100 * correct) / seen).toFixed(1)}% ETA ${fmtTime(eta)}`,
      );
    }
    const seconds = before + (performance.now() - te) / 1000;
    if (interrupted) {
      // Mid-epoch: the checkpoint records the step, so --resume replays exactly the remaining steps.
      if (s > (resumed ? startStep : 0)) {
        const st: CheckpointState = {
          epoch,
          step: s,
          partial: { lossSum, correct, seen, seconds },
          bestValAccuracy: best,
          optimizer: cfg.optimizer,
          history,
          runtime: runtimeOf(cfg),
        };
        await saveCheckpoint(runDir, 'last', model, optim.tf, st);
      }
      break;
    }
    const v = val ? await evaluate(model, val, shape, norm, classes, probs, passProgress(io, `epoch ${epoch + 1}/${cfg.epochs} validation`)) : null;
    const row: MetricsRow = {
      epoch: epoch + 1,
      trainLoss: lossSum / seen,
      trainAccuracy: correct / seen,
      valLoss: v ? v.loss : null,
      valAccuracy: v ? v.accuracy : null,
      lr,
      imagesPerSecond: seen / seconds,
      seconds,
    };
    history.push(row);
    io.log(
      `epoch ${row.epoch}/${cfg.epochs}: train loss ${row.trainLoss.toFixed(4)} acc ${(100 * row.trainAccuracy).toFixed(2)}%` +
        (v ? ` | val loss ${v.loss.toFixed(4)} acc ${(100 * v.accuracy).toFixed(2)}%` : '') +
        ` | ${row.imagesPerSecond.toFixed(1)} img/s, ${seconds.toFixed(1)} s`,
    );
    const score = v ? v.accuracy : row.trainAccuracy;
    const state = (bestAcc: number): CheckpointState => ({
      epoch: epoch + 1,
      step: 0,
      bestValAccuracy: bestAcc,
      optimizer: cfg.optimizer,
      history,
      runtime: runtimeOf(cfg),
    });
    if (score > best) {
      best = score;
      await saveCheckpoint(runDir, 'best', model, optim.tf, state(best));
    }
    await saveCheckpoint(runDir, 'last', model, optim.tf, state(best));
    writeMetrics(runDir, history);
    await writePlots(runDir, history);
  }

  let test: Awaited<ReturnType<typeof evaluate>> | null = null;
  if (!interrupted && dataset.test.count > 0) {
    const tt = performance.now();
    test = await evaluate(model, dataset.test, shape, norm, classes, probs, passProgress(io, 'test'));
    io.log(`test: ${dataset.test.count} images in ${((performance.now() - tt) / 1000).toFixed(1)} s`);
  }
  const result: TrainResult = {
    testAccuracy: test ? test.accuracy : null,
    testLoss: test ? test.loss : null,
    perClassAccuracy: Object.fromEntries(dataset.classes.map((c, i) => [c, test ? test.confusion.perClass()[i]! : 0])),
    confusionMatrix: test ? test.confusion.m : [],
    classes: dataset.classes,
    backend: cfg.backend,
    epochs: epoch,
    bestValAccuracy: best >= 0 ? best : null,
    seconds: (performance.now() - t0) / 1000,
    interrupted,
    runDir,
  };
  if (!interrupted) writeFileAtomic(join(runDir, 'result.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

/** A progress callback for an evaluation pass: `test 2304/10000 images (23%) ETA 0:41`. */
function passProgress(io: TrainIO, what: string): (done: number, total: number) => void {
  const t0 = performance.now();
  return (done, total) => {
    const el = (performance.now() - t0) / 1000;
    io.progress(`${what} ${done}/${total} images (${Math.floor((100 * done) / total)}%) ETA ${fmtTime((el / done) * (total - done))}`);
  };
}

/** The name of the first weight holding a NaN or an infinity, or null (x*0 is NaN exactly for those). */
function nonFinite(weights: { name: string; v: tf.Tensor }[]): string | null {
  const flags = tf.tidy(() => tf.stack(weights.map(({ v }) => tf.sum(tf.mul(v, 0)))).dataSync());
  const i = flags.findIndex((f) => !Number.isFinite(f));
  return i < 0 ? null : weights[i]!.name;
}

/** Where the last good checkpoint is, for the NaN message. */
function lastGood(runDir: string): string {
  const d = findCheckpoint(runDir, 'last');
  if (!d) return 'no checkpoint was written yet';
  // Called good only when it verifies (checksums, sizes, schema): a damaged one is said to be damaged.
  const problem = checkpointProblem(d);
  return problem ? `the last checkpoint is damaged too (${problem})` : `the last good checkpoint is ${d}`;
}

async function writePlots(dir: string, history: MetricsRow[]): Promise<void> {
  writeFileAtomic(join(dir, 'loss.svg'), await curveSvg(history, 'loss', 'loss'));
  writeFileAtomic(join(dir, 'accuracy.svg'), await curveSvg(history, 'accuracy', 'accuracy'));
}
