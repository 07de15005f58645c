/**
 * Will this network train in memory at this batch size? An estimate checked before
 * tfjs allocates anything, so that an impossible run ends with the numbers and a batch size that
 * fits instead of an out-of-memory crash (or a wasm "Cannot enlarge memory" abort) minutes later.
 *
 *   bytes = params * 4 * k                   k = 2 (weights, gradients) + optimizer slots per weight
 *         + max(per sample * batch,          per sample: (kept + in flight) * 4 + input * 4: the layer
 *               optimizer copies)            outputs the gradients read (each op's `keeps`; on wasm
 *                                            less those recomputed instead, src/runtime/remat.ts) and
 *                                            2x the largest output for the gradients being passed back;
 *                                            optimizer copies: OPTIMIZER_TEMPS x the largest weight
 *
 * Layer outputs nothing reads are freed as the forward pass goes (src/lower/lower.ts), and saved
 * tensors and gradients as the backward pass goes (src/runtime/tape.ts), so what a step holds at its
 * peak is about what the gradients keep. test/train/memory-measured.test.ts holds the estimate to
 * -10%..+20% of the live wasm allocations measured in a step of small nets (resnet20, a DenseNet-BC
 * with dropout, LeNet-5, a wide classifier under Adam); bench/train-zoo measures the seed nets (README).
 *
 * The limit is the machine's memory (os.totalmem), and on the wasm backend at most 4 GiB: a wasm32
 * heap cannot grow beyond 65536 pages of 64 KiB, and tfjs-backend-wasm keeps every tensor in it.
 * The heap grows past the live bytes by the allocator's fragmentation (measured 4-10% on the seed
 * nets), so on wasm the tensors may take 4 GiB / HEAP_FRAGMENTATION.
 */
import { totalmem } from 'node:os';
import type { IRGraph } from '../ir/types.js';
import { ALL_WEIGHTS, product, weightCount } from '../ir/size.js';
import { opOf } from '../ops/index.js';
import type { RunConfig } from './config.js';

export const GiB = 1024 ** 3;
export const WASM_HEAP_LIMIT = 4 * GiB;
/** How much larger the wasm heap grows than the bytes live in it (bench/train-zoo: 1.04-1.09). */
export const HEAP_FRAGMENTATION = 1.1;

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

/**
 * Copies of a weight alive at once while tfjs's optimizer updates it (each operation of its rule
 * makes one, freed when that weight is done): momentum m*buf, +g, c*buf, +w; Adam about a dozen.
 */
export const OPTIMIZER_TEMPS: Record<RunConfig['optimizer'], number> = {
  sgd: 2,
  momentum: 4,
  nesterov: 6,
  adam: 12,
  adamw: 12,
  rmsprop: 8,
};

export interface NetSize {
  /** Weights (running statistics included). */
  params: number;
  /** Elements of all layer outputs, per sample. */
  activations: number;
  /** Elements per sample a training step keeps for its backward pass. */
  kept: number;
  /**
   * The same on wasm, where outputs of ops marked `recompute` (batch norm, ReLU) are recomputed in
   * backprop from an input that is kept anyway, instead of kept (src/runtime/remat.ts).
   */
  keptRecomputing: number;
  /** Elements of the largest weight (the optimizer's temporaries are copies of it). */
  largestWeight: number;
  /** Elements per sample of gradients in flight: 2x the largest layer output. */
  transient: number;
  /** Elements of one input sample. */
  input: number;
}

export function sizeOfGraph(graph: IRGraph): NetSize {
  let params = 0;
  let activations = 0;
  let largest = 0;
  let largestWeight = 0;
  const keptIds = new Set<number>();
  let extra = 0;
  for (const n of graph.nodes) {
    params += weightCount(n, ALL_WEIGHTS);
    for (const w of n.weights) largestWeight = Math.max(largestWeight, product(w.shape));
    if (n.inputs.length === 0 || !n.shape) continue;
    const size = product(n.shape);
    activations += size;
    largest = Math.max(largest, size);
    const keeps = opOf(n).keeps;
    if (keeps?.output) keptIds.add(n.id);
    if (keeps?.input) for (const i of n.inputs) keptIds.add(i);
    extra += (keeps?.extra ?? 0) * size;
  }
  // A recomputable output's recipe starts at the first input up its chain of recomputable ops; it
  // is recomputed (not kept) when that input is kept anyway.
  const base = (id: number): number => {
    const n = graph.nodes[id]!;
    return opOf(n).recompute && n.inputs.length === 1 ? (opOf(graph.nodes[n.inputs[0]!]!).recompute ? base(n.inputs[0]!) : n.inputs[0]!) : -1;
  };
  let kept = extra;
  let keptRecomputing = extra;
  let largestRecomputed = 0;
  // The network input is counted in `input`.
  for (const id of keptIds) {
    if (graph.nodes[id]!.inputs.length === 0) continue;
    const size = product(graph.nodes[id]!.shape ?? []);
    kept += size;
    const b = base(id);
    if (b >= 0 && keptIds.has(b) && base(b) < 0) largestRecomputed = Math.max(largestRecomputed, size);
    else keptRecomputing += size;
  }
  // While backprop recomputes one output, it holds that and the intermediate of its chain.
  keptRecomputing += 2 * largestRecomputed;
  return { params, activations, kept, keptRecomputing, largestWeight, transient: 2 * largest, input: product(graph.input) };
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
  const largestWeight = Math.max(0, ...model.layers.flatMap((l) => (l as unknown as { weights: { shape: number[] }[] }).weights.map((w) => product(w.shape))));
  return {
    params: model.countParams(),
    activations: activations - input,
    kept: activations - input,
    keptRecomputing: activations - input,
    largestWeight,
    transient: 2 * largest,
    input,
  };
}

export interface MemoryEstimate {
  bytes: number;
  paramBytes: number;
  activationBytes: number;
  /** The optimizer step's copies of a weight (when they exceed the activations, they count instead). */
  optimizerBytes: number;
  k: number;
  limit: number;
  limitWhy: string;
  /** The limit is the wasm heap's ceiling (tfjs-node has none). */
  wasmCeiling: boolean;
  /** The largest batch size that fits (0: not even 1). */
  fits: number;
}

/** Bytes per sample of a step: what the gradients keep, what is in flight, the input. */
function perSampleBytes(size: NetSize, backend: string): number {
  // On wasm, recomputation runs only where keeping does not fit (recomputeNeeded); the caller has
  // already answered with the keeping figure where that fits.
  return ((backend === 'wasm' ? Math.min(size.keptRecomputing, size.kept) : size.kept) + size.transient) * 4 + size.input * 4;
}

export function estimateTrainingMemory(
  size: NetSize,
  cfg: Pick<RunConfig, 'optimizer' | 'batchSize'>,
  backend: string,
  limitOverride?: number,
): MemoryEstimate {
  // Recomputation is on only where keeping every saved tensor would not fit (recomputeNeeded, which
  // asks this with keptRecomputing = kept): where keeping fits, keeping is what the step costs.
  if (backend === 'wasm' && size.keptRecomputing < size.kept) {
    const keeping = estimateTrainingMemory({ ...size, keptRecomputing: size.kept }, cfg, backend, limitOverride);
    if (keeping.bytes <= keeping.limit) return keeping;
  }
  const k = 2 + OPTIMIZER_SLOTS[cfg.optimizer];
  const wasm = backend === 'wasm';
  // The optimizer's step makes copies of each weight in turn (OPTIMIZER_TEMPS), none where it runs
  // in place (momentum SGD on wasm: src/runtime/wasm-optim.ts). Activations are gone by then.
  const inPlace = wasm && (cfg.optimizer === 'momentum' || cfg.optimizer === 'nesterov');
  const optimizerBytes = inPlace ? 0 : OPTIMIZER_TEMPS[cfg.optimizer] * size.largestWeight * 4;
  const paramBytes = size.params * 4 * k;
  const perSample = perSampleBytes(size, backend);
  const activationBytes = Math.max(perSample * cfg.batchSize, optimizerBytes);
  const machine = totalmem();
  let limit = machine;
  let limitWhy = `this machine's ${fmt(machine)} of memory`;
  if (limitOverride != null) {
    limit = limitOverride;
    limitWhy = `the --memory-limit of ${fmt(limit)}`;
  }
  // --memory-limit can lower the wasm heap's bound, never raise it: past 4 GiB the heap cannot grow and
  // tfjs-backend-wasm fails with an out-of-bounds access instead of an error.
  let wasmCeiling = false;
  if (backend === 'wasm' && limit > WASM_HEAP_LIMIT / HEAP_FRAGMENTATION) {
    limit = WASM_HEAP_LIMIT / HEAP_FRAGMENTATION;
    wasmCeiling = true;
    limitWhy = `the 4 GiB the wasm backend can address (a wasm32 heap, ${fmt(limit)} of it for tensors and the rest for the allocator's fragmentation${limitOverride != null ? '; --memory-limit cannot raise it' : ''})`;
  }
  const fits = perSample <= 0 ? Infinity : limit - paramBytes > optimizerBytes ? Math.max(0, Math.floor((limit - paramBytes) / perSample)) : 0;
  return { bytes: paramBytes + activationBytes, paramBytes, activationBytes, optimizerBytes, k, limit, limitWhy, wasmCeiling, fits };
}

/**
 * Whether this step needs batch norm and ReLU outputs recomputed in backprop (wasm only) to fit:
 * recomputing costs a second pass of those ops, so it is off when keeping them fits.
 */
export function recomputeNeeded(size: NetSize, cfg: Pick<RunConfig, 'optimizer' | 'batchSize'>, backend: string, limitOverride?: number): boolean {
  if (backend !== 'wasm') return false;
  const keeping = estimateTrainingMemory({ ...size, keptRecomputing: size.kept }, cfg, backend, limitOverride);
  return keeping.bytes > keeping.limit;
}

export function fmt(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

const slotNames: Record<number, string> = { 0: 'weights, gradients', 1: 'weights, gradients, momentum', 2: 'weights, gradients, two optimizer moments' };

/** A message when the estimate exceeds the limit, else null. */
export function memoryProblem(
  net: string,
  size: NetSize,
  cfg: Pick<RunConfig, 'optimizer' | 'batchSize'>,
  backend: string,
  limitOverride?: number,
): string | null {
  const e = estimateTrainingMemory(size, cfg, backend, limitOverride);
  if (e.bytes <= e.limit) return null;
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `training ${net} at batch size ${cfg.batchSize} needs about ${fmt(e.bytes)}, more than ${e.limitWhy}:`,
    `  parameters:  ${n(size.params)} x 4 bytes x ${e.k} (${slotNames[e.k - 2]}) = ${fmt(e.paramBytes)}`,
    `  activations: ${n(backend === 'wasm' ? Math.min(size.keptRecomputing, size.kept) : size.kept)} of ${n(size.activations)} per sample kept for the backward pass + ${n(size.transient)} in flight, x 4 bytes x ${cfg.batchSize} = ${fmt((perSampleBytes(size, backend) - size.input * 4) * cfg.batchSize)}`,
  ];
  if (e.optimizerBytes > 0)
    lines.push(
      `  optimizer step: ${n(size.largestWeight)} (the largest weight) x 4 bytes x ${OPTIMIZER_TEMPS[cfg.optimizer]} copies = ${fmt(e.optimizerBytes)}; the larger of this and the activations counts`,
    );
  if (e.fits >= 1) lines.push(`help: --batch-size ${largestPowerOfTwo(e.fits)} fits (at most ${e.fits} would)`);
  else
    lines.push(
      `help: the parameters alone (${fmt(e.paramBytes)}) exceed the limit: use a smaller network${e.k > 2 ? ', or --optimizer sgd (no optimizer state)' : ''}`,
    );
  if (e.wasmCeiling) {
    lines.push('help: the node backend (tfjs-node) keeps tensors outside the wasm heap, with no 4 GiB ceiling: `npm run setup:tfjs-node`, then --backend node');
  }
  lines.push(
    e.wasmCeiling
      ? '(--memory-limit GIB can lower this bound, not raise it; another --backend can)'
      : '(the estimate can be overridden with --memory-limit GIB)',
  );
  return lines.join('\n');
}

function largestPowerOfTwo(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}
