/**
 * Training kernels for tfjs's cpu backend (pure JavaScript, the last resort and `--backend cpu`).
 *
 * Its `Conv2DBackpropFilter` reads both operands through `TensorBuffer.get(...locs)` once per
 * multiply-add: three quarters of a DenseNet-BC training step on cpu (210 s for one step at batch 2,
 * 73% in that kernel). The same sum over typed arrays, with the channel axes innermost, is the kernel
 * below. Like tfjs's it accumulates in float64 (JavaScript numbers) and stores float32.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { nhwcConvInfo } from './wasm-kernels.js';

interface CpuBackendLike {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tfc.TensorInfo;
}

/**
 * dW[kh,kw,ci,co] = sum over n, oh, ow of x[n, oh*sh + kh*dh - top, ow*sw + kw*dw - left, ci] *
 * dy[n, oh, ow, co], for NHWC x and dy; positions in the padding contribute nothing.
 */
export function conv2dFilterGradient(
  x: Float32Array,
  dy: Float32Array,
  xShape: number[],
  g: {
    batchSize: number;
    outHeight: number;
    outWidth: number;
    outChannels: number;
    filterHeight: number;
    filterWidth: number;
    strideHeight: number;
    strideWidth: number;
    dilationHeight: number;
    dilationWidth: number;
    padInfo: { top: number; left: number };
  },
): Float32Array {
  const [n, h, w, ci] = xShape as [number, number, number, number];
  const { outHeight: ho, outWidth: wo, outChannels: co, filterHeight: kh, filterWidth: kw } = g;
  const acc = new Float64Array(kh * kw * ci * co);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const dyAt = ((b * ho + oy) * wo + ox) * co;
        for (let fy = 0; fy < kh; fy++) {
          const iy = oy * g.strideHeight + fy * g.dilationHeight - g.padInfo.top;
          if (iy < 0 || iy >= h) continue;
          for (let fx = 0; fx < kw; fx++) {
            const ix = ox * g.strideWidth + fx * g.dilationWidth - g.padInfo.left;
            if (ix < 0 || ix >= w) continue;
            const xAt = ((b * h + iy) * w + ix) * ci;
            const wAt = (fy * kw + fx) * ci * co;
            for (let c = 0; c < ci; c++) {
              const xv = x[xAt + c]!;
              if (xv === 0) continue; // after a ReLU, half the inputs
              const row = wAt + c * co;
              for (let o = 0; o < co; o++) acc[row + o]! += xv * dy[dyAt + o]!;
            }
          }
        }
      }
    }
  }
  return Float32Array.from(acc);
}

/** Registers the cpu backend's replacement kernels; returns their names. */
export function registerCpuTrainingKernels(tf: typeof tfc): string[] {
  const kernelName = 'Conv2DBackpropFilter';
  if (tf.getKernel(kernelName, 'cpu') != null) tf.unregisterKernel(kernelName, 'cpu');
  tf.registerKernel({
    kernelName,
    backendName: 'cpu',
    kernelFunc: (({ inputs, backend, attrs }: { inputs: Record<string, tfc.TensorInfo>; backend: unknown; attrs: Record<string, unknown> }) => {
      const { x, dy } = inputs as { x: tfc.TensorInfo; dy: tfc.TensorInfo };
      if (attrs.dataFormat != null && attrs.dataFormat !== 'NHWC')
        throw new Error(`netc cpu conv gradient: only NHWC is supported, got ${String(attrs.dataFormat)}`);
      const filterShape = attrs.filterShape as number[];
      const info = nhwcConvInfo(tf, x.shape, filterShape, attrs);
      const b = backend as CpuBackendLike;
      const dw = conv2dFilterGradient(b.data.get(x.dataId).values, b.data.get(dy.dataId).values, x.shape, info);
      return b.makeTensorInfo(filterShape, 'float32', dw);
    }) as unknown as tfc.KernelFunc,
  });
  return [kernelName];
}
