/**
 * Recomputing cheap activations instead of keeping them (rematerialisation), on the wasm backend.
 *
 * In a conv -> bn -> relu -> conv chain the tape keeps two tensors of the same size: the batch
 * norm's input (its gradient reads it) and the ReLU's output (the ReLU's gradient and the next
 * convolution's weight gradient read it). The second is `relu(bn(x))` of the first: two cheap
 * passes. So while the forward pass runs, a saved output of an op marked `recompute` (src/ops) has
 * its memory freed as soon as the forward pass no longer reads it, and during backprop
 * (src/runtime/tape.ts) it is computed again from its input, into the same tensor, right before the
 * first gradient that reads it. Then the chain keeps one tensor per convolution instead of two
 * (DenseNet: the concatenated features once, not twice). Only where the input is kept anyway (held
 * by some other saved tensor): otherwise keeping it for the recipe would cost as much as it saves.
 *
 * "No longer reads it" counts aliases: on wasm a reshape (flatten, channel_shuffle's view) returns a
 * tensor on the same data, which later layers read after the output itself is released. So the data
 * is freed only once every handle on it is a saved one (issue 17: freed under a reshape, a net's loss
 * came out wrong from the first step, then NaN).
 *
 * The results are the same to the bit: the same kernels run on the same input (batch norm with the
 * same batch statistics; it does not update its running statistics the second time).
 *
 * Wasm only: there a tensor is an offset into the heap, which can be freed and pointed at a new
 * allocation while every handle that shares it stays valid. (tfjs-node and the GPU have no 4 GiB
 * ceiling, so they keep everything as before.)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WasmData } from './wasm-optim.js';

type Tensor = tf.Tensor;
type DataId = object;

/** How to compute a tensor again: from `base` through each step in turn. */
export interface Recipe {
  /** A handle on the input (sharing its data), kept until the recipe is no longer needed. */
  base: Tensor;
  steps: ((x: Tensor) => Tensor)[];
}

interface WasmBackendLike {
  dataIdMap: { has(d: DataId): boolean; get(d: DataId): WasmData | undefined };
  wasm: {
    _malloc(n: number): number;
    _free(p: number): void;
    HEAPU8: Uint8Array;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
}

/** Saved tensors whose memory was freed, with what recomputes them. */
const evicted = new Map<DataId, Recipe>();
/** Saved outputs released by the forward pass whose data other live tensors still share, with their recipes. */
const waiting = new Map<DataId, Recipe>();
/** Recipes made in this step and not yet used or dropped (their inputs are held). */
const pending = new Set<Recipe>();

function wasmBackend(): WasmBackendLike | null {
  return tf.getBackend() === 'wasm' ? (tf.backend() as unknown as WasmBackendLike) : null;
}

/** The backend's record of a tensor's data (its `get` of a missing id would try to move data in). */
function dataOf(b: WasmBackendLike | null, dataId: DataId): WasmData | undefined {
  return b?.dataIdMap.has(dataId) ? b.dataIdMap.get(dataId) : undefined;
}

/**
 * Off by default: `netc train` turns it on only where keeping every saved tensor would not fit the wasm
 * heap (src/train/plan.ts, NetPlan.recompute), as recomputing costs time; `netc verify` and the API
 * keep it off. Tests turn it on themselves (test/runtime/remat.test.ts,
 * test/property/remat-equal.test.ts, and test/property/check-train.test.ts with NETC_RECOMPUTE=1).
 */
export const recomputation = { enabled: false };

/** Whether this backend can free a tensor's memory and refill it later. */
export function canRecompute(): boolean {
  return recomputation.enabled && wasmBackend() != null;
}

/** A recipe for a tensor the forward pass just made; `evictOrDrop` or `endStep` releases it. */
export function recipe(base: Tensor, steps: Recipe['steps']): Recipe {
  const r = { base: tf.keep(tf.clone(base)), steps };
  pending.add(r);
  return r;
}

/** How many handles share this tensor's data (0 when it is gone). */
export function holders(t: Tensor): number {
  return dataOf(wasmBackend(), t.dataId)?.refCount ?? 0;
}

/**
 * `t` was just released by the forward pass. If the recipe's input is held by someone besides the
 * recipe, `t`'s data is freed as soon as only saved tensors (the gradients') hold it: now, or when
 * the last tensor the forward pass still reads that shares it is released (`released`). Else the
 * recipe is dropped. Returns whether it was freed now.
 */
export function evictOrDrop(t: Tensor, recipe: Recipe): boolean {
  pending.delete(recipe);
  const b = wasmBackend();
  const data = dataOf(b, t.dataId);
  if (!b || !data || data.memoryOffset === 0 || evicted.has(t.dataId) || waiting.has(t.dataId) || holders(recipe.base) <= 1) {
    recipe.base.dispose();
    return false;
  }
  waiting.set(t.dataId, recipe);
  return evictIfOnlySaved(b, t.dataId);
}

/**
 * The forward pass released `t` (a layer output read by no later layer). If `t` shared its data with
 * a saved output waiting to be freed (a reshape's or flatten's result shares its input's data on
 * wasm), that output may be freed now.
 */
export function released(t: Tensor): void {
  const b = wasmBackend();
  if (b && waiting.has(t.dataId)) evictIfOnlySaved(b, t.dataId);
}

/**
 * Frees the data when every handle on it is a tensor saved on the tape being recorded, which only a
 * gradient reads (and `rematerialize` refills first). Any other handle is a tensor the forward pass
 * may still read (an alias a reshape made, a recipe's input), so the data stays until it is released.
 */
function evictIfOnlySaved(b: WasmBackendLike, dataId: DataId): boolean {
  const data = dataOf(b, dataId);
  const recipe = waiting.get(dataId)!;
  if (!data) {
    waiting.delete(dataId);
    recipe.base.dispose();
    return false;
  }
  if (data.refCount !== savedHandles(dataId)) return false;
  waiting.delete(dataId);
  // The C++ side keeps its (now stale) registration: no kernel reads this tensor until refill.
  b.wasm._free(data.memoryOffset);
  data.memoryOffset = 0;
  evicted.set(dataId, recipe);
  return true;
}

/** How many tensors saved for a gradient on the tape being recorded share this data. */
function savedHandles(dataId: DataId): number {
  const tape = (tf.engine() as unknown as { state: { activeTape: { saved?: Tensor[] }[] | null } }).state.activeTape;
  let n = 0;
  for (const node of tape ?? []) for (const t of node.saved ?? []) if (t.dataId === dataId && !t.isDisposed) n++;
  return n;
}

/** Before a gradient runs: recompute every tensor it saved whose memory was freed. */
export function rematerialize(saved: readonly Tensor[] | undefined): void {
  if (!saved || evicted.size === 0) return;
  const b = wasmBackend();
  if (!b) return;
  for (const t of saved) {
    const recipe = evicted.get(t.dataId);
    if (!recipe) continue;
    evicted.delete(t.dataId);
    const data = b.dataIdMap.get(t.dataId)!;
    const r = tf.tidy(() => recipe.steps.reduce((x, step) => step(x), recipe.base));
    recipe.base.dispose();
    const rd = b.dataIdMap.get(r.dataId)!;
    let offset: number;
    if (rd.refCount === 1) {
      // Take over the result's memory: no copy, no second allocation.
      offset = rd.memoryOffset;
      rd.memoryOffset = 0;
    } else {
      offset = b.wasm._malloc(r.size * 4) >>> 0;
      b.wasm.HEAPU8.copyWithin(offset, rd.memoryOffset, rd.memoryOffset + r.size * 4);
    }
    r.dispose();
    data.memoryOffset = offset;
    b.wasm.tfjs.disposeData(data.id);
    b.wasm.tfjs.registerTensor(data.id, r.size, offset);
  }
}

/** After a step: recipes never needed (their tensors already gone) release their inputs. */
export function endStep(): void {
  for (const r of [...evicted.values(), ...waiting.values(), ...pending]) r.base.dispose();
  evicted.clear();
  waiting.clear();
  pending.clear();
}
