/**
 * Will this network train in memory at this batch size? An estimate checked before
 * tfjs allocates anything, so that an impossible run ends with the numbers and a batch size that
 * fits instead of an out-of-memory crash (or a wasm "Cannot enlarge memory" abort) minutes later.
 *
 *   bytes = params * 4 * k                       k = 2 (weights, gradients) + optimizer slots per weight
 *         + (kept + in flight) * batch * 4 * 1.1 per sample: the layer outputs the gradients read
 *         + input * batch * 4                    (each op's `keeps`), and 2x the largest output
 *                                                for the gradients being passed back at any moment;
 *                                                1.1 for temporaries inside kernels
 *
 * Layer outputs nothing reads are freed as the forward pass goes (src/lower/lower.ts), and saved
 * tensors and gradients as the backward pass goes (src/runtime/tape.ts), so what a step holds at its
 * peak is about what the gradients keep. Estimate / measured by bench/train-zoo --force (live wasm
 * allocations in one step, momentum SGD, 3x32x32): resnet50_cifar at batch 128 4.17 / 3.65 GB,
 * densenet_bc_cifar at 32 2.23 / 2.40 GB, googlenet at 64 131 / 133 MB, resnet20_cifar at 64
 * 123 / 113 MB. (DenseNet's 8% above the estimate is not pinned down yet.)
 *
 * The limit is the machine's memory (os.totalmem), and on the wasm backend at most 4 GiB: a wasm32
 * heap cannot grow beyond 65536 pages of 64 KiB, and tfjs-backend-wasm keeps every tensor in it.
 */
import { totalmem } from 'node:os';
import type { IRGraph } from '../ir/types.js';
import { ALL_WEIGHTS, product, weightCount } from '../ir/size.js';
import { opOf } from '../ops/index.js';
import type { RunConfig } from './config.js';

export const GiB = 1024 ** 3;
/** Temporaries inside kernels and gradient sums beyond the count (calibrated: see above). */
const SLACK = 1.1;
export const WASM_HEAP_LIMIT = 4 * GiB;

/** Optimizer state per trainable weight, as tfjs keeps it. */
export const OPTIMIZER_SLOTS: Record<RunConfig['optimizer'], number> = {
  sgd: 0,
  momentum: 1,
  nesterov: 1,
  adam: 2,
  adamw: 2,
  // tfjs's RMSProp keeps the mean square and the momentum buffer even at momentum 0.
  rmsprop: 2,
};

export interface NetSize {
  /** Weights (running statistics included). */
  params: number;
  /** Elements of all layer outputs, per sample. */
  activations: number;
  /** Elements per sample a training step keeps for its backward pass. */
  kept: number;
  /** Elements per sample of gradients in flight: 2x the largest layer output. */
  transient: number;
  /** Elements of one input sample. */
  input: number;
}


export function sizeOfGraph(graph: IRGraph): NetSize {
  let params = 0;
  let activations = 0;
  let largest = 0;
  const keptIds = new Set<number>();
  let extra = 0;
  for (const n of graph.nodes) {
    params += weightCount(n, ALL_WEIGHTS);
    if (n.inputs.length === 0 || !n.shape) continue;
    const size = product(n.shape);
    activations += size;
    largest = Math.max(largest, size);
    const keeps = opOf(n).keeps;
    if (keeps?.output) keptIds.add(n.id);
    if (keeps?.input) for (const i of n.inputs) keptIds.add(i);
    extra += (keeps?.extra ?? 0) * size;
  }
  let kept = extra;
  // The network input is counted in `input`.
  for (const id of keptIds) if (graph.nodes[id]!.inputs.length > 0) kept += product(graph.nodes[id]!.shape ?? []);
  return { params, activations, kept, transient: 2 * largest, input: product(graph.input) };
}

/** The same numbers from a tfjs model (a resumed run has no IR graph). */
export function sizeOfModel(model: { countParams(): number; layers: { outputShape: unknown }[]; inputs: { shape: (number | null)[] }[] }): NetSize {
  let activations = 0;
  let largest = 0;
  for (const l of model.layers) {
    const os = l.outputShape as (number | null)[] | (number | null)[][];
    const shapes = (Array.isArray(os[0]) ? os : [os]) as (number | null)[][];
    for (const s of shapes) {
      const size = product(s.slice(1).map((d) => d ?? 1));
      activations += size;
      largest = Math.max(largest, size);
    }
  }
  const input = product(model.inputs[0]!.shape.slice(1).map((d) => d ?? 1));
  // The input layer's "output" is the input itself, counted separately. A model loaded from a
  // checkpoint keeps every layer output through its forward pass (no IR: no release as it goes).
  return { params: model.countParams(), activations: activations - input, kept: activations - input, transient: 2 * largest, input };
}

export interface MemoryEstimate {
  bytes: number;
  paramBytes: number;
  activationBytes: number;
  k: number;
  limit: number;
  limitWhy: string;
  /** The largest batch size that fits (0: not even 1). */
  fits: number;
}

export function estimateTrainingMemory(size: NetSize, cfg: Pick<RunConfig, 'optimizer' | 'batchSize'>, backend: string, limitOverride?: number): MemoryEstimate {
  const k = 2 + OPTIMIZER_SLOTS[cfg.optimizer];
  const paramBytes = size.params * 4 * k;
  const perSample = (size.kept + size.transient) * 4 * SLACK + size.input * 4;
  const activationBytes = perSample * cfg.batchSize;
  const machine = totalmem();
  let limit = machine;
  let limitWhy = `this machine's ${fmt(machine)} of memory`;
  if (limitOverride != null) {
    limit = limitOverride;
    limitWhy = `the --memory-limit of ${fmt(limit)}`;
  }
  // --memory-limit can lower the wasm heap's bound, never raise it: past 4 GiB the heap cannot grow and
  // tfjs-backend-wasm fails with an out-of-bounds access instead of an error.
  if (backend === 'wasm' && limit > WASM_HEAP_LIMIT) {
    limit = WASM_HEAP_LIMIT;
    limitWhy = `the 4 GiB the wasm backend can address (a wasm32 heap${limitOverride != null ? '; --memory-limit cannot raise it' : ''})`;
  }
  const fits = perSample > 0 ? Math.max(0, Math.floor((limit - paramBytes) / perSample)) : Infinity;
  return { bytes: paramBytes + activationBytes, paramBytes, activationBytes, k, limit, limitWhy, fits };
}

export function fmt(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

const slotNames: Record<number, string> = { 0: 'weights, gradients', 1: 'weights, gradients, momentum', 2: 'weights, gradients, two optimizer moments' };

/** A message when the estimate exceeds the limit, else null. */
export function memoryProblem(net: string, size: NetSize, cfg: Pick<RunConfig, 'optimizer' | 'batchSize'>, backend: string, limitOverride?: number): string | null {
  const e = estimateTrainingMemory(size, cfg, backend, limitOverride);
  if (e.bytes <= e.limit) return null;
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `training ${net} at batch size ${cfg.batchSize} needs about ${fmt(e.bytes)}, more than ${e.limitWhy}:`,
    `  parameters:  ${n(size.params)} x 4 bytes x ${e.k} (${slotNames[e.k - 2]}) = ${fmt(e.paramBytes)}`,
    `  activations: ${n(size.kept)} of ${n(size.activations)} per sample kept for the backward pass + ${n(size.transient)} in flight, x 4 bytes x ${SLACK} x ${cfg.batchSize} = ${fmt(e.activationBytes)}`,
  ];
  if (e.fits >= 1) lines.push(`help: --batch-size ${largestPowerOfTwo(e.fits)} fits (at most ${e.fits} would)`);
  else lines.push(`help: the parameters alone (${fmt(e.paramBytes)}) exceed the limit: use a smaller network${e.k > 2 ? ', or --optimizer sgd (no optimizer state)' : ''}`);
  if (e.limit === WASM_HEAP_LIMIT && backend === 'wasm') {
    lines.push('help: the node backend (tfjs-node) keeps tensors outside the wasm heap, with no 4 GiB ceiling: `npm run setup:tfjs-node`, then --backend node');
  }
  lines.push(e.limit === WASM_HEAP_LIMIT && backend === 'wasm' ? '(--memory-limit GIB can lower this bound, not raise it; another --backend can)' : '(the estimate can be overridden with --memory-limit GIB)');
  return lines.join('\n');
}

function largestPowerOfTwo(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}
