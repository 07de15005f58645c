/**
 * tfjs's momentum SGD step, in place on the wasm heap.
 *
 * tfjs's MomentumOptimizer makes four new tensors per weight and step (m * buf, + g, c * buf, + w)
 * before assigning two of them: about three copies of the largest weight at once on top of the
 * weights, gradients and momentum buffers. On VGG's 102.8M-element first classifier layer that is
 * 1.2 GB of a 4 GiB wasm heap, and ~5 kernel calls per weight (ResNet-50: ~800 calls per step).
 * Here one pass per weight updates the buffer and the weight where they lie, with the same float32
 * rounding after each operation as tfjs's kernels (Math.fround), so the result is the same to the bit.
 *
 * Only where nothing else shares a weight's or buffer's data (refCount 1); otherwise the caller
 * keeps tfjs's path. The wasm backend caches XNNPACK operators (packed weights) by tensor id, so a
 * weight changed in place is registered again under a new id, as an assign would give it.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The wasm backend's record of a tensor's data (tfjs-backend-wasm's TensorData; not exported by it). */
export interface WasmData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: string;
  refCount: number;
}
interface WasmBackend {
  dataIdNextNumber: number;
  dataIdMap: { has(d: object): boolean; get(d: object): WasmData };
  wasm: { HEAPU8: Uint8Array; tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void } };
}

interface MomentumLike {
  accumulations: { originalName: string; variable: tf.Variable }[];
  momentum: number;
  c: tf.Scalar;
  useNesterov: boolean;
  incrementIterations(): void;
}

/** The wasm backend when every tensor here is float32 data that nothing else shares, else null. */
function exclusive(ts: tf.Tensor[]): WasmBackend | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as WasmBackend;
  for (const t of ts) {
    if (t.dtype !== 'float32' || !b.dataIdMap.has(t.dataId) || b.dataIdMap.get(t.dataId).refCount !== 1) return null;
  }
  return b;
}

/**
 * One step of `opt` (tfjs's MomentumOptimizer: buf = m*buf + g; w += c*buf, or w += c*(g + m*buf)
 * with Nesterov; c = -lr) with weight decay `wd` added to the gradient as PyTorch does. Returns
 * false, having changed nothing, where it cannot run in place.
 */
export function momentumStepInPlace(opt: tf.Optimizer, grads: tf.NamedTensorMap, wd: number): boolean {
  const o = opt as unknown as MomentumLike;
  if (tf.getBackend() !== 'wasm' || !Array.isArray(o.accumulations)) return false;
  const names = Object.keys(grads);
  const vars = names.map((n) => tf.engine().registeredVariables[n]);
  if (vars.some((v) => v == null)) return false;
  // The buffers tfjs would create, under the same names (checkpoints save them).
  names.forEach((name, i) => {
    o.accumulations[i] ??= { originalName: `${name}/momentum`, variable: tf.tidy(() => tf.zerosLike(vars[i]!).variable(false)) };
  });
  const b = exclusive([...(vars as tf.Variable[]), ...o.accumulations.slice(0, names.length).map((a) => a.variable)]);
  if (!b) return false;
  const f = Math.fround;
  const m = f(o.momentum);
  const c = f(o.c.dataSync()[0]!);
  const wdf = f(wd);
  names.forEach((name, i) => {
    const w = vars[i]!;
    const g = grads[name]!;
    const buf = o.accumulations[i]!.variable;
    const heap = b.wasm.HEAPU8.buffer;
    const view = (t: tf.Tensor) => new Float32Array(heap, b.dataIdMap.get(t.dataId).memoryOffset, t.size);
    const W = view(w);
    const G = view(g);
    const B = view(buf);
    for (let k = 0; k < W.length; k++) {
      const gk = wd > 0 ? f(G[k]! + f(W[k]! * wdf)) : G[k]!;
      const a = f(f(m * B[k]!) + gk);
      B[k] = a;
      W[k] = o.useNesterov ? f(f(c * f(gk + f(a * m))) + W[k]!) : f(f(c * a) + W[k]!);
    }
    for (const t of [w, buf]) {
      const d = b.dataIdMap.get(t.dataId);
      b.wasm.tfjs.disposeData(d.id);
      d.id = b.dataIdNextNumber++;
      b.wasm.tfjs.registerTensor(d.id, t.size, d.memoryOffset);
    }
  });
  o.incrementIterations();
  return true;
}
