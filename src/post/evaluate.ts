/**
 * `netc eval`: a trained run's checkpoint on a dataset's test split, with the run's normalisation:
 * accuracy, loss, per-class accuracy and the confusion matrix (the same numbers `netc train` puts
 * in result.json, from the same evaluation code).
 */
import { evaluate } from '../train/loop.js';
import { loadDataset, type Dataset } from '../train/data/index.js';
import { runNormalization, RunError, type OpenRun } from './run.js';

export interface EvalReport {
  net: string;
  run: string;
  checkpoint: string;
  data: string;
  split: 'test';
  images: number;
  accuracy: number;
  loss: number;
  classes: string[];
  /** Class name -> accuracy on that class's images (0 for a class with no images). */
  perClassAccuracy: Record<string, number>;
  /** Images per class in the split. */
  support: number[];
  /** Rows: true class, columns: predicted class. */
  confusionMatrix: number[][];
  normalization: { mean: number[]; std: number[] } | null;
}

export interface EvalOptions {
  data?: string;
  dataDir?: string;
  /** The net ends with softmax. */
  outputsProbabilities: boolean;
  log?: (m: string) => void;
  /** After each batch of the test pass: images done, total. */
  progress?: (done: number, total: number) => void;
}

export async function evaluateRun(run: OpenRun, net: string, o: EvalOptions): Promise<EvalReport> {
  const spec = o.data ?? run.config.data;
  let dataset: Dataset;
  try {
    dataset = await loadDataset(spec, { dataDir: o.dataDir ?? run.config.dataDir, inputShape: run.inputShape, download: false, log: o.log });
  } catch (e) {
    throw new RunError((e as Error).message);
  }
  const [c, h, w] = run.inputShape;
  if (dataset.shape[0] !== c || dataset.shape[1] !== h || dataset.shape[2] !== w) {
    throw new RunError(`${dataset.name} has ${dataset.shape.join('x')} images but the net takes ${c}x${h}x${w}`);
  }
  if (dataset.classes.length !== run.outputs) {
    throw new RunError(`${dataset.name} has ${dataset.classes.length} classes but the net outputs ${run.outputs}`);
  }
  if (dataset.test.count === 0) throw new RunError(`${dataset.name} has no test images (an image folder needs test/ or val/, or class folders to split)`);
  const norm = await runNormalization(run, o.log);
  o.log?.(`evaluating ${dataset.test.count} test images of ${dataset.name}${norm ? ` (normalised with mean ${fmt(norm.mean)}, std ${fmt(norm.std)})` : ''}`);
  const r = await evaluate(run.model, dataset.test, dataset.shape, norm, dataset.classes.length, o.outputsProbabilities, o.progress);
  const perClass = r.confusion.perClass();
  return {
    net,
    run: run.dir,
    checkpoint: run.checkpoint,
    data: dataset.name,
    split: 'test',
    images: dataset.test.count,
    accuracy: r.accuracy,
    loss: r.loss,
    classes: dataset.classes,
    perClassAccuracy: Object.fromEntries(dataset.classes.map((name, i) => [name, perClass[i]!])),
    support: r.confusion.m.map((row) => row.reduce((a, b) => a + b, 0)),
    confusionMatrix: r.confusion.m,
    normalization: norm,
  };
}

function fmt(v: number[]): string {
  return `[${v.map((x) => x.toFixed(4)).join(', ')}]`;
}

/** The human report: accuracy, a per-class table and the confusion matrix with class-number headers. */
export function renderEvalReport(r: EvalReport): string {
  const out: string[] = [];
  out.push(`${r.net}, checkpoint ${r.checkpoint} of ${r.run}, on ${r.data} (${r.split}, ${r.images} images)`);
  out.push(`accuracy: ${(100 * r.accuracy).toFixed(2)}%  (loss ${r.loss.toFixed(4)})`);
  out.push('');
  const nameW = Math.max(5, ...r.classes.map((c) => c.length));
  out.push(`  ${'#'.padStart(3)}  ${'class'.padEnd(nameW)}  ${'accuracy'.padStart(8)}  ${'images'.padStart(6)}`);
  r.classes.forEach((c, i) => {
    out.push(`  ${String(i).padStart(3)}  ${c.padEnd(nameW)}  ${(100 * r.perClassAccuracy[c]!).toFixed(1).padStart(7)}%  ${String(r.support[i]).padStart(6)}`);
  });
  out.push('');
  out.push('confusion matrix (rows: true class, columns: predicted class):');
  const cw = Math.max(4, ...r.confusionMatrix.flat().map((v) => String(v).length + 1));
  out.push(`  ${'true'.padStart(4)} ${r.classes.map((_, j) => String(j).padStart(cw)).join('')}`);
  r.confusionMatrix.forEach((row, i) => out.push(`  ${String(i).padStart(4)} ${row.map((v) => String(v).padStart(cw)).join('')}`));
  return out.join('\n') + '\n';
}
