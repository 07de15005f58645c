/**
 * verify's tensor files and the permutation that puts netc's layouts into PyTorch's (every map,
 * weight and gradient verify compares, and every weight `netc export --weights` writes, goes through
 * it; this pins it down on its own, against the definition: out[i0..ik] = in[i at axes[0]..axes[k]]).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { permuted, torchView } from '../../src/export/weights.js';
import { readTensors, writeTensors, type Named } from '../../src/verify/tensors.js';

function byDefinition(data: Float32Array, shape: number[], axes: number[]): Float32Array {
  const out = new Float32Array(data.length);
  const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const dims = axes.map((a) => shape[a]!);
  const index = dims.map(() => 0);
  for (let d = 0; d < out.length; d++) {
    let rest = d;
    for (let k = dims.length - 1; k >= 0; k--) {
      index[k] = rest % dims[k]!;
      rest = Math.floor(rest / dims[k]!);
    }
    out[d] = data[index.reduce((s, i, k) => s + i * stride[axes[k]!]!, 0)]!;
  }
  return out;
}

const permutations = (r: number): number[][] =>
  r === 1 ? [[0]] : permutations(r - 1).flatMap((p) => Array.from({ length: r }, (_, i) => [...p.slice(0, i), r - 1, ...p.slice(i)]));

describe('permuted', () => {
  it('equals the definition for every permutation of rank 1 to 5, sizes 1 to 33 (tiles cut at odd places, axes of 1 dropped)', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let cases = 0;
    for (let rank = 1; rank <= 5; rank++) {
      for (const axes of permutations(rank)) {
        for (let t = 0; t < 6; t++) {
          const shape = axes.map(() => [1, 2, 3, 5, 17, 33][Math.floor(next() * 6)]!);
          if (shape.reduce((a, b) => a * b, 1) > 50_000) continue;
          const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i);
          const [mine, theirs] = [permuted(data, shape, axes), byDefinition(data, shape, axes)];
          const wrong = mine.findIndex((v, i) => v !== theirs[i]);
          expect(wrong, `${shape} by ${axes}: element ${wrong} is ${mine[wrong]}, not ${theirs[wrong]}`).toBe(-1);
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(800);
  });

  it("puts tfjs's conv, depthwise and dense weights and NHWC maps into PyTorch's layouts", () => {
    // A 3x3 conv of 2 -> 4 channels: tfjs HWIO [3, 3, 2, 4]; PyTorch OIHW [4, 2, 3, 3], w[o][i][h][w].
    const hwio = Float32Array.from({ length: 72 }, (_, i) => i);
    const at = (h: number, w: number, i: number, o: number) => hwio[((h * 3 + w) * 2 + i) * 4 + o]!;
    const conv = torchView('conv', [3, 3, 2, 4])!;
    const oihw = permuted(hwio, [3, 3, 2, 4], conv.permute);
    expect(conv.shape).toEqual([4, 2, 3, 3]);
    expect(oihw[((3 * 2 + 1) * 3 + 2) * 3 + 0]).toBe(at(2, 0, 1, 3));
    // Depthwise [kh, kw, in, mult] -> [in*mult, 1, kh, kw], output channel in*mult + m.
    const dw = torchView('depthwise', [3, 3, 2, 2])!;
    expect(dw.shape).toEqual([4, 1, 3, 3]);
    const k = Float32Array.from({ length: 36 }, (_, i) => i);
    expect(permuted(k, [3, 3, 2, 2], dw.permute)[(1 * 2 + 1) * 9 + 1 * 3 + 2]).toBe(k[((1 * 3 + 2) * 2 + 1) * 2 + 1]);
    // Dense [in, out] -> [out, in]; a map NHWC -> NCHW.
    expect(torchView('dense', [3, 5])).toEqual({ permute: [1, 0], shape: [5, 3] });
    expect(torchView('same', [5])).toBeNull();
    const nhwc = Float32Array.from({ length: 2 * 4 * 5 * 3 }, (_, i) => i);
    const nchw = permuted(nhwc, [2, 4, 5, 3], [0, 3, 1, 2]);
    expect(nchw[((1 * 3 + 2) * 4 + 3) * 5 + 4]).toBe(nhwc[((1 * 4 + 3) * 5 + 4) * 3 + 2]);
  });
});

describe('writeTensors / readTensors', () => {
  it('round-trips F32, F64 and empty tensors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'netc-tensors-'));
    try {
      const tensors = new Map<string, Named>([
        ['a', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6]) }],
        ['b', { shape: [1], data: Float64Array.from([Math.PI]) }],
        ['empty', { shape: [0], data: new Float32Array(0) }],
        ['c', { shape: [3], data: Float32Array.from([7, 8, 9]) }],
      ]);
      const file = join(dir, 't.safetensors');
      writeTensors(file, tensors);
      const back = readTensors(file);
      expect([...back.keys()]).toEqual([...tensors.keys()]);
      for (const [k, t] of tensors) {
        expect(back.get(k)!.shape).toEqual(t.shape);
        expect(back.get(k)!.data).toEqual(t.data);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
