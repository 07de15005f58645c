/**
 * What `netc train` will do, decided before anything is written or trained: the run's config, the
 * images it uses, how the net is fitted to the data, and its memory estimate against the limit.
 * Nothing here prints, loads data or touches the run directory (the compiler is passed in), so the
 * decisions can be tested directly; src/cli/train.ts prints the plan and carries it out.
 */
import type { CompileOptions, CompileResult } from '../api.js';
import type { IRGraph } from '../ir/types.js';
import { outputsProbabilities } from '../ops/index.js';
import { DEFAULTS, type RunConfig } from './config.js';
import { estimateTrainingMemory, memoryProblem, recomputeNeeded, sizeOfGraph, type MemoryEstimate } from './memory.js';

/** The `netc train` options a new run's config is made of (`args` is `--set`, parsed). */
export type ConfigOptions = Pick<
  RunConfig,
  | 'data'
  | 'dataDir'
  | 'epochs'
  | 'batchSize'
  | 'optimizer'
  | 'lr'
  | 'momentum'
  | 'weightDecay'
  | 'schedule'
  | 'stepSize'
  | 'gamma'
  | 'normalize'
  | 'valSplit'
  | 'subset'
  | 'testSubset'
  | 'seed'
> & { args: NonNullable<RunConfig['args']>; crop: number; flip: boolean };

/**
 * The run's config: a new one from the options, or the resumed run's own (`prior`) with only
 * --epochs (when given) and the backend now used replacing what it recorded. `net`, `out` and
 * `outputsProbabilities` are filled in once the net is compiled and the run directory named.
 */
export function runConfig(o: ConfigOptions, file: string | undefined, prior: RunConfig | null, backend: { name: string; kernels: string }): RunConfig {
  if (prior) return { ...prior, epochs: o.epochs !== DEFAULTS.epochs ? o.epochs : prior.epochs, backend: backend.name, kernels: backend.kernels };
  return {
    net: '',
    file,
    args: o.args,
    data: o.data,
    dataDir: o.dataDir,
    backend: backend.name,
    kernels: backend.kernels,
    epochs: o.epochs,
    batchSize: o.batchSize,
    optimizer: o.optimizer,
    lr: o.lr,
    momentum: o.momentum,
    weightDecay: o.weightDecay,
    schedule: o.schedule,
    stepSize: o.stepSize,
    gamma: o.gamma,
    augment: { crop: o.crop, flip: o.flip },
    normalize: o.normalize,
    valSplit: o.valSplit,
    subset: o.subset,
    testSubset: o.testSubset,
    seed: o.seed,
    out: '',
  };
}

/** What a dataset offers, without its pixels. */
export interface DataSummary {
  name: string;
  source: string;
  shape: [number, number, number];
  classes: string[];
  train: { count: number };
  test: { count: number };
}

/** The images a run really uses, and the steps they make. */
export interface DataPlan {
  train: number;
  validation: number;
  test: number;
  batchSize: number;
  /** Training steps per epoch (the last one may be a partial batch). */
  stepsPerEpoch: number;
  /** `data: ... 2000 of 50000 training images (1800 train + 200 validation), 500 of 10000 test, ...` */
  line: string;
}

export function planData(d: DataSummary, cfg: Pick<RunConfig, 'subset' | 'testSubset' | 'valSplit' | 'batchSize'>): DataPlan {
  const n = cfg.subset != null ? Math.min(cfg.subset, d.train.count) : d.train.count;
  const validation = Math.floor(n * cfg.valSplit);
  const test = cfg.testSubset != null ? Math.min(cfg.testSubset, d.test.count) : d.test.count;
  const of = (used: number, all: number) => (used === all ? `${all}` : `${used} of ${all}`);
  const line =
    `data: ${d.name} from ${d.source}: ${of(n, d.train.count)} training images (${n - validation} train + ${validation} validation),` +
    ` ${of(test, d.test.count)} test, ${d.shape.join('x')}, ${d.classes.length} class${d.classes.length === 1 ? '' : 'es'}`;
  return { train: n - validation, validation, test, batchSize: cfg.batchSize, stepsPerEpoch: Math.ceil((n - validation) / cfg.batchSize), line };
}

/** The net as it will be trained. */
export interface NetPlan {
  graph: IRGraph;
  /** config.json's net, args and loss choice. */
  net: string;
  args: NonNullable<RunConfig['args']>;
  outputsProbabilities: boolean;
  /** What was fitted to the data, e.g. `input 3x224x224 -> 3x32x32`, `classes 1000 -> 10` (none on a resume). */
  adaptations: string[];
  /** Why the net cannot train on this data (its output is not one score per class), or null. */
  classMismatch: string | null;
  memory: MemoryEstimate;
  /** The estimate's refusal, with the numbers and a batch size that fits, or null when it fits. */
  memoryProblem: string | null;
  /** Batch norm and ReLU outputs recomputed in backprop (wasm), because keeping them would not fit. */
  recompute: boolean;
}

/**
 * Compiles the net for the data: the dataset decides the input shape and, when the net has a
 * `classes` parameter not given with --set, the number of classes. `plan` is null when the file
 * has errors (`compiled.diagnostics` says which).
 */
export function planNet(
  compile: (options: Pick<CompileOptions, 'args' | 'input'>) => CompileResult,
  cfg: RunConfig,
  data: Pick<DataSummary, 'name' | 'shape' | 'classes'>,
  backend: string,
  options: { resuming: boolean; memoryLimit?: number },
): { compiled: CompileResult; plan: NetPlan | null } {
  const args = { ...cfg.args };
  const classes = data.classes.length;
  const declared = compile({ args }).graphs[0];
  const fitClasses = declared !== undefined && 'classes' in declared.args && args.classes == null;
  const compiled = compile({ args: fitClasses ? { ...args, classes } : args, input: data.shape });
  const graph = compiled.graphs[0];
  if (compiled.diagnostics.some((d) => d.severity === 'error') || !graph) return { compiled, plan: null };

  const outShape = graph.nodes[graph.output]!.shape;
  let classMismatch: string | null = null;
  if (outShape?.length !== 1 || outShape[0] !== classes) {
    const fix =
      args.classes != null
        ? `drop --set classes=${String(args.classes)} to fit it to the data, or --set classes=${classes}`
        : 'classes' in graph.args
          ? `its last layer must output \`classes\` values (\`linear classes\`)`
          : `give the net a \`classes\` parameter that its last layer outputs (\`net ${graph.net}(classes=${classes})\` ... \`linear classes\`), so that netc can fit it to the data`;
    classMismatch = `${graph.net} outputs ${JSON.stringify(outShape)} per sample, but ${data.name} has ${classes} classes: ${fix}`;
  }
  const adaptations: string[] = [];
  if (declared && !options.resuming) {
    if (declared.input.join('x') !== data.shape.join('x')) adaptations.push(`input ${declared.input.join('x')} -> ${data.shape.join('x')}`);
    if (fitClasses && declared.args.classes !== classes) adaptations.push(`classes ${String(declared.args.classes)} -> ${classes}`);
  }
  const size = sizeOfGraph(graph);
  return {
    compiled,
    plan: {
      graph,
      net: graph.net,
      args: graph.args as NonNullable<RunConfig['args']>,
      outputsProbabilities: outputsProbabilities(graph),
      adaptations,
      classMismatch,
      memory: estimateTrainingMemory(size, cfg, backend, options.memoryLimit),
      memoryProblem: memoryProblem(graph.net, size, cfg, backend, options.memoryLimit),
      recompute: recomputeNeeded(size, cfg, backend, options.memoryLimit),
    },
  };
}
