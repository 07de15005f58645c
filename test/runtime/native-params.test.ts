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
import { CONV_PARAMS, loadNative, packConvParams, type ConvParams } from '../../src/runtime/native.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const native = loadNative();
const skipNote = native.addon ? '' : ` [skipped: native addon ${native.reason}]`;

/** The field names of the NETC_CONV_PARAMS X-macro, in order, read from the C++ source. */
function cppTable(): string[] {
  const source = readFileSync(join(ROOT, 'native/src/netc_native.cc'), 'utf8');
  const m = /#define NETC_CONV_PARAMS\(X\)((?:[^\n]*\\\n)*[^\n]*)/.exec(source);
  expect(m, 'native/src/netc_native.cc defines NETC_CONV_PARAMS(X)').not.toBeNull();
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
