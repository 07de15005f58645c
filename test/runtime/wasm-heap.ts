/**
 * Live bytes of the wasm backend's allocations (its malloc/free), and their peak: what tensors
 * really hold in the heap, shared data counted once (the way bench/train-zoo measures).
 */
import * as tf from '@tensorflow/tfjs-core';

type Fn = (n: number) => number;

export function trackWasmHeap() {
  const wasm = (tf.backend() as unknown as { wasm: Record<string, Fn> & { asm?: Record<string, Fn> } }).wasm;
  // The raw exports: emscripten's _malloc/_free stubs replace themselves on first call.
  const malloc = wasm.asm?.['malloc'] ?? wasm['_malloc']!.bind(wasm);
  const free = wasm.asm?.['free'] ?? wasm['_free']!.bind(wasm);
  const saved = { malloc: wasm['_malloc']!, free: wasm['_free']! };
  const live = { now: 0, peak: 0, sizes: new Map<number, number>() };
  wasm['_malloc'] = (n: number) => {
    const p = malloc(n);
    live.sizes.set(p >>> 0, n);
    live.now += n;
    live.peak = Math.max(live.peak, live.now);
    return p;
  };
  wasm['_free'] = (p: number) => {
    live.now -= live.sizes.get(p >>> 0) ?? 0;
    live.sizes.delete(p >>> 0);
    return free(p);
  };
  return {
    live,
    restore: () => {
      wasm['_malloc'] = saved.malloc;
      wasm['_free'] = saved.free;
    },
  };
}
