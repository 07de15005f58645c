/**
 * Training kernels for the tfjs wasm backend.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` (so no conv layer can train) and its
 * `Conv2DBackpropInput` is a scalar loop (~1.5 GFLOP/s) while its forward `Conv2D` runs through
 * XNNPACK at 15-25 GFLOP/s. Both gradients of a convolution are themselves convolutions, so we
 * express them as forward `Conv2D` calls on rearranged tensors:
 *
 * - filter gradient: dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*s + kh*d - p, ..., ci] * dy[n,oh,ow,co].
 *   Swap batch and channels (x -> [Ci,H,W,N], dy -> [Ho,Wo,N,Co]) and it is a forward conv of
 *   x' with filter dy' at stride d and dilation s, giving [Ci,kh,kw,Co].
 * - input gradient: the forward conv of dy (zero-upsampled by the stride) with the filter flipped
 *   spatially and its channel axes swapped, dilation d, stride 1.
 *
 * The shims call the wasm backend's own kernel functions directly (not tfjs ops), so nothing is
 * recorded on a gradient tape and every intermediate is freed here.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { product } from '../ir/size.js';

type TensorInfo = tfc.TensorInfo;
type KernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }) => TensorInfo;

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Padding of a convolution as explicit amounts on each side. */
interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** tfjs's convolution geometry for a kernel's NHWC shapes and attributes (shared with native.ts). */
export function nhwcConvInfo(tf: typeof tfc, xShape: number[], filterShape: number[], attrs: Record<string, unknown>, depthwise = false) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number],
    (attrs.dilations as [number, number] | undefined) ?? [1, 1],
    attrs.pad as 'valid',
    attrs.dimRoundingMode as 'floor' | undefined,
    depthwise,
  );
}

/**
 * tfjs's pooling geometry for a MaxPoolGrad kernel's NHWC input and dy shapes and attributes (shared
 * with native.ts). The output size is dy's: tfjs-core 4.22's MaxPool gradient drops the forward's
 * dimRoundingMode, so a ceil-mode pool's gradient would otherwise be computed with floor's size
 * (and lose dy's last row and column). The pads do not depend on the rounding.
 */
export function maxPoolGradInfo(tf: typeof tfc, inputShape: number[], dyShape: number[], attrs: Record<string, unknown>) {
  const info = tf.backend_util.computePool2DInfo(
    inputShape as [number, number, number, number],
    attrs.filterSize as [number, number],
    attrs.strides as [number, number],
    1,
    attrs.pad as 'valid',
    attrs.dimRoundingMode as 'floor' | undefined,
  );
  return { ...info, outHeight: dyShape[1]!, outWidth: dyShape[2]! };
}

export function registerWasmTrainingKernels(tf: typeof tfc): string[] {
  const registered: string[] = [];
  const kernel = (name: string): KernelFunc => {
    const k = tf.getKernel(name, 'wasm');
    if (k == null) throw new Error(`wasm backend lacks kernel ${name}`);
    return k.kernelFunc as unknown as KernelFunc;
  };
  const conv2d = kernel('Conv2D');
  const transposeK = kernel('Transpose');
  const reverseK = kernel('Reverse');
  const padK = kernel('PadV2');
  const sliceK = kernel('Slice');

  const transpose = (b: unknown, x: TensorInfo, perm: number[]) => transposeK({ inputs: { x }, backend: b, attrs: { perm } });
  const free = (b: unknown, ...ts: TensorInfo[]) => {
    for (const t of ts) (b as WasmBackendLike).disposeData(t.dataId, true);
  };

  /**
   * Pads (positive amounts) or crops (negative amounts) the H and W axes of an NHWC tensor, so that
   * a 'valid' convolution of the result produces exactly the rows and columns we want.
   */
  function padOrCrop(b: unknown, x: TensorInfo, p: Pads): TensorInfo {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    let cur = x;
    let owned = false;
    const crop = { top: Math.max(0, -p.top), bottom: Math.max(0, -p.bottom), left: Math.max(0, -p.left), right: Math.max(0, -p.right) };
    if (crop.top || crop.bottom || crop.left || crop.right) {
      cur = sliceK({
        inputs: { x: cur },
        backend: b,
        attrs: { begin: [0, crop.top, crop.left, 0], size: [n, h - crop.top - crop.bottom, w - crop.left - crop.right, c] },
      });
      owned = true;
    }
    const pad = { top: Math.max(0, p.top), bottom: Math.max(0, p.bottom), left: Math.max(0, p.left), right: Math.max(0, p.right) };
    if (pad.top || pad.bottom || pad.left || pad.right) {
      const next = padK({
        inputs: { x: cur },
        backend: b,
        attrs: {
          paddings: [
            [0, 0],
            [pad.top, pad.bottom],
            [pad.left, pad.right],
            [0, 0],
          ],
          constantValue: 0,
        },
      });
      if (owned) free(b, cur);
      cur = next;
      owned = true;
    }
    return owned ? cur : x;
  }

  function convInfoOf(xShape: number[], filterShape: number[], attrs: Record<string, unknown>) {
    if (attrs.dataFormat != null && attrs.dataFormat !== 'NHWC') {
      throw new Error(`netc wasm conv gradient: only NHWC is supported, got ${String(attrs.dataFormat)}`);
    }
    return nhwcConvInfo(tf, xShape, filterShape, attrs);
  }

  // ---- Conv2DBackpropFilter: inputs x [N,H,W,Ci], dy [N,Ho,Wo,Co]; attrs filterShape, strides, pad.
  const backpropFilter: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs ?? {};
    const filterShape = a.filterShape as number[];
    const info = convInfoOf(x.shape, filterShape, a);
    const [kh, kw] = [info.filterHeight, info.filterWidth];
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    const [dh, dw] = [info.dilationHeight, info.dilationWidth];
    const [ho, wo] = [info.outHeight, info.outWidth];
    const pi = info.padInfo;
    // Rows of x that the filter gradient reads: (kh-1)*dh + (ho-1)*sh + 1 starting at -top.
    const needH = (kh - 1) * dh + (ho - 1) * sh + 1;
    const needW = (kw - 1) * dw + (wo - 1) * sw + 1;
    const xt = transpose(b, x, [3, 1, 2, 0]); // [Ci, H, W, N]
    const xp = padOrCrop(b, xt, {
      top: pi.top,
      left: pi.left,
      bottom: needH - (xt.shape[1]! + pi.top),
      right: needW - (xt.shape[2]! + pi.left),
    });
    const dyt = transpose(b, dy, [1, 2, 0, 3]); // [Ho, Wo, N, Co]
    // A 'valid' conv with stride = dilation and dilation = stride yields exactly [Ci, kh, kw, Co].
    const g = conv2d({
      inputs: { x: xp, filter: dyt },
      backend: b,
      attrs: { strides: [dh, dw], pad: 'valid', dilations: [sh, sw], dataFormat: 'NHWC', dimRoundingMode: undefined },
    });
    if (xp !== xt) free(b, xp);
    free(b, xt, dyt);
    const out = transpose(b, g, [1, 2, 0, 3]); // [kh, kw, Ci, Co]
    free(b, g);
    return out;
  };

  // ---- Conv2DBackpropInput: inputs dy [N,Ho,Wo,Co], filter [kh,kw,Ci,Co]; attrs inputShape, strides, pad.
  const backpropInput: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs ?? {};
    const inputShape = a.inputShape as number[];
    const info = convInfoOf(inputShape, filter.shape, a);
    const [kh, kw] = [info.filterHeight, info.filterWidth];
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    const [dh, dw] = [info.dilationHeight, info.dilationWidth];
    const [n, h, w] = inputShape as [number, number, number, number];
    const [, ho, wo, co] = dy.shape as [number, number, number, number];
    const pi = info.padInfo;

    // Zero-upsample dy by the stride: dyU[(i*sh), (j*sw)] = dy[i, j].
    let dyU = dy;
    if (sh > 1 || sw > 1) {
      const uh = (ho - 1) * sh + 1;
      const uw = (wo - 1) * sw + 1;
      dyU = (b as WasmBackendLike).makeOutput([n, uh, uw, co], 'float32');
      const src = (b as WasmBackendLike).typedArrayFromHeap(dy);
      const dst = (b as WasmBackendLike).typedArrayFromHeap(dyU);
      dst.fill(0);
      for (let bi = 0; bi < n; bi++) {
        for (let i = 0; i < ho; i++) {
          for (let j = 0; j < wo; j++) {
            const s0 = ((bi * ho + i) * wo + j) * co;
            const d0 = ((bi * uh + i * sh) * uw + j * sw) * co;
            dst.set(src.subarray(s0, s0 + co), d0);
          }
        }
      }
    }
    // dx[h] = sum_k' P[h + k'*d] * Wflip[k'] with P = dyU shifted down by (k-1)*d - top.
    const top = (kh - 1) * dh - pi.top;
    const left = (kw - 1) * dw - pi.left;
    const dyP = padOrCrop(b, dyU, {
      top,
      left,
      bottom: h + (kh - 1) * dh - (top + dyU.shape[1]!),
      right: w + (kw - 1) * dw - (left + dyU.shape[2]!),
    });
    const flipped = reverseK({ inputs: { x: filter }, backend: b, attrs: { dims: [0, 1] } });
    const wT = transpose(b, flipped, [0, 1, 3, 2]); // [kh, kw, Co, Ci]
    free(b, flipped);
    const dx = conv2d({
      inputs: { x: dyP, filter: wT },
      backend: b,
      attrs: { strides: [1, 1], pad: 'valid', dilations: [dh, dw], dataFormat: 'NHWC', dimRoundingMode: undefined },
    });
    if (dyP !== dyU) free(b, dyP);
    if (dyU !== dy) free(b, dyU);
    free(b, wT);
    return dx;
  };

  const replace = (kernelName: string, kernelFunc: KernelFunc) => {
    if (tf.getKernel(kernelName, 'wasm') != null) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tfc.KernelFunc });
    registered.push(kernelName);
  };
  replace('Conv2DBackpropFilter', backpropFilter);
  replace('Conv2DBackpropInput', backpropInput);

  // ---- MaxPoolGrad: tfjs-backend-wasm 4.22's own kernel is wrong (sum(maxPool(x,2,2,'valid')*w) on
  // [2,8,8,3]: max abs error 0.85 against the hand computation). Route each output gradient to the
  // first maximum of its window in row-major order, as PyTorch does (strict >, so ties go to the
  // first element: after a ReLU, all-zero windows are common and the choice must match).
  replace('MaxPoolGrad', ({ inputs, backend: b, attrs }) => {
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    const info = maxPoolGradInfo(tf, input.shape, dy.shape, attrs ?? {});
    const bk = b as WasmBackendLike;
    const out = bk.makeOutput([...input.shape], 'float32');
    const dx = bk.typedArrayFromHeap(out);
    dx.fill(0);
    maxPoolBackward(bk.typedArrayFromHeap(input), bk.typedArrayFromHeap(dy), dx, input.shape, info);
    return out;
  });

  // ---- Slice: the wasm kernel first copies the whole input out of the heap (readSync), then copies
  // the innermost axis one subarray at a time (16 floats for a 16-channel NHWC tensor): the
  // gradient of each zero-padding layer took ~7 ms at ResNet-20 sizes. Copy straight from heap to
  // heap in the longest contiguous runs instead (all trailing axes taken whole, plus the next one).
  const sliceWasm = kernel('Slice');
  replace('Slice', (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const a = args.attrs ?? {};
    const rank = x.shape.length;
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || rank === 0) return sliceWasm(args);
    const [begin, size] = tf.slice_util.parseSliceParams(x as tfc.TensorInfo as tfc.Tensor, a.begin as number[], a.size as number[]) as [number[], number[]];
    const b = args.backend as WasmBackendLike & { typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array };
    const out = b.makeOutput(size, x.dtype as 'float32');
    if (size.some((d) => d === 0)) return out;
    const src = b.typedArrayFromHeap(x);
    const dst = b.typedArrayFromHeap(out);
    const strides = tf.util.computeStrides(x.shape);
    // Axes inner..rank-1 form one contiguous run of `run` elements in both src and dst.
    let inner = rank - 1;
    while (inner > 0 && size[inner] === x.shape[inner]) inner--;
    const run = product(size.slice(inner));
    const outer = size.slice(0, inner);
    const count = product(outer);
    const idx = new Array<number>(inner).fill(0);
    let base = begin.reduce((p, bgn, i) => p + bgn * (i < rank - 1 ? strides[i]! : 1), 0);
    for (let n = 0, o = 0; n < count; n++, o += run) {
      dst.set(src.subarray(base, base + run), o);
      // Advance the outer multi-index (odometer), keeping `base` in step.
      for (let ax = inner - 1; ax >= 0; ax--) {
        if (++idx[ax]! < outer[ax]!) {
          base += strides[ax]!;
          break;
        }
        base -= (outer[ax]! - 1) * strides[ax]!;
        idx[ax] = 0;
      }
    }
    return out;
  });

  // ---- Identity: the wasm kernel copies the whole buffer, and tfjs clones (Identity) every tensor a
  // gradient saves (each conv's input, filter and output, each batch norm's input), ~0.1 s of a
  // ResNet-20 step. Share the data and count a reference instead, as the wasm Reshape kernel and
  // the cpu backend's Identity do (no wasm kernel writes into its inputs).
  // Cast to the same dtype is a copy too: it is Identity's gradient (once per variable per step).
  const share = (args: Parameters<KernelFunc>[0]) => {
    const x = (args.inputs as { x: TensorInfo }).x;
    (args.backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
  const identityK = kernel('Identity');
  replace('Identity', (args) => ((args.inputs as { x: TensorInfo }).x.dtype === 'string' ? identityK(args) : share(args)));
  const castK = kernel('Cast');
  replace('Cast', (args) => {
    const x = (args.inputs as { x: TensorInfo }).x;
    return x.dtype !== 'string' && x.dtype === args.attrs?.dtype ? share(args) : castK(args);
  });
  return registered;
}

/** The pooling geometry maxPoolBackward reads (a subset of tfjs's Conv2DInfo). */
export interface PoolGeometry {
  outHeight: number;
  outWidth: number;
  strideHeight: number;
  strideWidth: number;
  effectiveFilterHeight: number;
  effectiveFilterWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padInfo: { top: number; left: number };
}

/**
 * dx of an NHWC max pool: each dy goes to the first maximum of its window (row-major, strict >),
 * PyTorch's choice (the first element inside the input starts each window, a NaN always wins).
 * Padding positions are skipped (PyTorch pads max-pools with -inf). dx must be zeroed by the
 * caller; the inner loops run over channels, the contiguous axis. The native addon's maxPoolGrad
 * (native/src/netc_native.cc) is the same loop; this one runs where the addon is not loaded.
 */
export function maxPoolBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, shape: number[], g: PoolGeometry): void {
  const [n, h, w, c] = shape as [number, number, number, number];
  const { outHeight, outWidth, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = g;
  const [kEndH, kEndW] = [g.effectiveFilterHeight, g.effectiveFilterWidth];
  const [top, left] = [g.padInfo.top, g.padInfo.left];
  // The first window offset (a multiple of the dilation) that lands inside the input.
  const firstInside = (start: number, d: number) => (start >= 0 ? 0 : Math.ceil(-start / d) * d);
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let bi = 0, o = 0; bi < n; bi++) {
    const base = bi * h * w * c;
    for (let oh = 0; oh < outHeight; oh++, o += outWidth * c) {
      const h0 = oh * sh - top;
      const khFirst = firstInside(h0, dh);
      if (khFirst >= kEndH || h0 + khFirst >= h) continue; // a window of padding only: no gradient
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * sw - left;
        const kwFirst = firstInside(w0, dw);
        if (kwFirst >= kEndW || w0 + kwFirst >= w) continue;
        const first = base + ((h0 + khFirst) * w + w0 + kwFirst) * c;
        for (let k = 0; k < c; k++) {
          best[k] = x[first + k]!;
          at[k] = first + k;
        }
        for (let kh = khFirst; kh < kEndH; kh += dh) {
          const ih = h0 + kh;
          if (ih >= h) break;
          for (let kw = kwFirst; kw < kEndW; kw += dw) {
            const iw = w0 + kw;
            if (iw >= w) break;
            const p = base + (ih * w + iw) * c;
            if (p === first) continue;
            for (let k = 0; k < c; k++) {
              const v = x[p + k]!;
              // A NaN takes the window, as in PyTorch.
              if (v > best[k]! || Number.isNaN(v)) {
                best[k] = v;
                at[k] = p + k;
              }
            }
          }
        }
        const od = o + ow * c;
        for (let k = 0; k < c; k++) dx[at[k]!]! += dy[od + k]!;
      }
    }
  }
}
