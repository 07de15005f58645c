/**
 * The native addon's convolution parameters are one named table on both sides: NETC_CONV_PARAMS in
 * native/src/netc_native.cc and CONV_PARAMS in src/runtime/native.ts. These tests hold the two lists
 * equal (from the C++ source, so without a build too, and from a built addon), and show that the
 * addon reads each field by its name's position.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONV_PARAMS, loadNative, packConvParams, packPoolParams, POOL_PARAMS, type ConvParams, type PoolParams } from '../../src/runtime/native.js';
import { maxPoolBackward } from '../../src/runtime/wasm-kernels.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const native = loadNative();
const skipNote = native.addon ? '' : ` [skipped: native addon ${native.reason}]`;

/** The field names of an X-macro table (NETC_CONV_PARAMS, NETC_POOL_PARAMS), in order, read from the C++ source. */
function cppTable(macro = 'NETC_CONV_PARAMS'): string[] {
  const source = readFileSync(join(ROOT, 'native/src/netc_native.cc'), 'utf8');
  const m = new RegExp(`#define ${macro}\\(X\\)((?:[^\\n]*\\\\\\n)*[^\\n]*)`).exec(source);
  expect(m, `native/src/netc_native.cc defines ${macro}(X)`).not.toBeNull();
  return [...m![1]!.matchAll(/X\((\w+)\)/g)].map((x) => x[1]!);
}

describe('the native conv parameter table', () => {
  it('src/runtime/native.ts lists the same fields as native/src/netc_native.cc, in the same order', () => {
    const cpp = cppTable();
    expect(cpp.length).toBeGreaterThan(10);
    expect([...CONV_PARAMS]).toEqual(cpp);
    // The C++ side's static_assert pins the count; it must be the table's length.
    const source = readFileSync(join(ROOT, 'native/src/netc_native.cc'), 'utf8');
    expect(source).toContain(`static_assert(kParams == ${cpp.length},`);
  });

  it('packConvParams puts each field at its place in the table', () => {
    const p = Object.fromEntries(CONV_PARAMS.map((name, i) => [name, 100 + i])) as ConvParams;
    expect(Array.from(packConvParams(p))).toEqual(CONV_PARAMS.map((_, i) => 100 + i));
  });

  it.skipIf(!native.addon)(`the built addon reports the same table${skipNote}`, () => {
    expect(native.addon!.convParamNames!()).toEqual([...CONV_PARAMS]);
  });

  it.skipIf(!native.addon)(`the addon reads the fields by name: a strided, padded, dilated conv equals the direct sum${skipNote}`, () => {
    // x [1, 5, 6, 1], filter 2x2 (1 in, 1 out), stride (1, 2), dilation (2, 1), pad top 1 / left 1.
    const [h, w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr] = [5, 6, 2, 2, 1, 2, 2, 1, 1, 0, 1, 0];
    const oh = Math.floor((h + pt + pb - ((kh - 1) * dh + 1)) / sh) + 1;
    const ow = Math.floor((w + pl + pr - ((kw - 1) * dw + 1)) / sw) + 1;
    const x = Float32Array.from({ length: h * w }, (_, i) => ((i * 7) % 11) - 5);
    const f = Float32Array.from([1, -2, 3, 0.5]);
    const y = new Float32Array(oh * ow);
    const params: ConvParams = { n: 1, h, w, ci: 1, kh, kw, co: 1, oh, ow, sh, sw, dh, dw, pt, pb, pl, pr, groups: 1, relu: 0 };
    native.addon!.conv2d(0, x, f, null, y, packConvParams(params));
    const want: number[] = [];
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let s = 0;
        for (let a = 0; a < kh; a++) {
          for (let b = 0; b < kw; b++) {
            const r = i * sh + a * dh - pt;
            const c = j * sw + b * dw - pl;
            if (r >= 0 && r < h && c >= 0 && c < w) s += x[r * w + c]! * f[a * kw + b]!;
          }
        }
        want.push(s);
      }
    }
    expect(Array.from(y)).toEqual(want);
  });
});

describe('the native max pool parameter table', () => {
  it('src/runtime/native.ts lists the same fields as native/src/netc_native.cc, in the same order', () => {
    const cpp = cppTable('NETC_POOL_PARAMS');
    expect([...POOL_PARAMS]).toEqual(cpp);
    const source = readFileSync(join(ROOT, 'native/src/netc_native.cc'), 'utf8');
    expect(source).toContain(`static_assert(kPoolParams == ${cpp.length},`);
  });

  it.skipIf(!native.addon)(`the built addon reports the same table${skipNote}`, () => {
    expect(native.addon!.poolParamNames!()).toEqual([...POOL_PARAMS]);
  });

  it.skipIf(!native.addon)(`the addon reads the fields by name: a strided, padded, dilated pool equals the JS kernel${skipNote}`, () => {
    // tfjs never asks for a dilated max pool gradient (netc lowers dilation itself), so only this
    // direct call reaches the addon's dilation; every field differs from its neighbours.
    const p: PoolParams = { n: 2, h: 7, w: 9, c: 3, oh: 0, ow: 0, kh: 2, kw: 3, sh: 2, sw: 1, dh: 2, dw: 1, pt: 1, pl: 2 };
    p.oh = Math.floor((p.h + p.pt - ((p.kh - 1) * p.dh + 1)) / p.sh) + 1;
    p.ow = Math.floor((p.w + p.pl - ((p.kw - 1) * p.dw + 1)) / p.sw) + 1;
    const x = Float32Array.from({ length: p.n * p.h * p.w * p.c }, (_, i) => ((i * 7) % 5) - 1);
    const dy = Float32Array.from({ length: p.n * p.oh * p.ow * p.c }, (_, i) => 1 + ((i * 3) % 7));
    const got = new Float32Array(x.length).fill(Number.NaN);
    native.addon!.maxPoolGrad!(x, dy, got, packPoolParams(p));
    const want = new Float32Array(x.length);
    const geometry = {
      outHeight: p.oh,
      outWidth: p.ow,
      strideHeight: p.sh,
      strideWidth: p.sw,
      effectiveFilterHeight: (p.kh - 1) * p.dh + 1,
      effectiveFilterWidth: (p.kw - 1) * p.dw + 1,
      dilationHeight: p.dh,
      dilationWidth: p.dw,
      padInfo: { top: p.pt, left: p.pl },
    };
    maxPoolBackward(x, dy, want, [p.n, p.h, p.w, p.c], geometry);
    expect(Array.from(got)).toEqual(Array.from(want));
  });
});
