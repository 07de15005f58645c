/**
 * TensorFlow's fused training kernels for the tfjs-node backend (`tensorflow`).
 *
 * tfjs builds two gradients of a ResNet step from many small kernels, each one a round trip
 * through TensorFlow's eager runtime: ReLU's is mul(dy, cast(step(x))), and step is itself
 * select(isNaN(x), x, fill(...)) on tfjs-node; batch norm in training mode is moments + batchNorm,
 * and autodiff through them is ~25 kernels per layer. Measured on ResNet-20 (batch 128, 2 cores):
 * those composed ops took ~60% of a 1.6 s step, the convolutions the rest. TensorFlow has one fused
 * kernel for each (ReluGrad; FusedBatchNormV3 and FusedBatchNormGradV3), which tfjs-node can run
 * by name (`executeSingleOutput` / `executeMultipleOutputs`).
 *
 * They are registered as netc kernels on the `tensorflow` backend, and the gradients that use them
 * ask the registry whether the current backend has them (gradients.ts, lower/batchnorm.ts), so the
 * other backends keep their own paths:
 * - NetcReluGrad(dy, x) -> dx: the kernel the Relu gradient calls (native.ts registers the same
 *   kernel on wasm with the oneDNN addon);
 * - NetcBatchNormTrain(x, scale, offset, runningMean, runningVariance; epsilon, momentum) -> y, the
 *   updated running mean and variance, and the kernel's three reserve spaces, with a registered
 *   gradient that runs FusedBatchNormGradV3 on the reserve spaces (the oneDNN build of TensorFlow
 *   keeps a workspace in the third). FusedBatchNormV3 with exponential_avg_factor = PyTorch's
 *   momentum updates the running statistics itself, exactly as PyTorch does (the variance with
 *   Bessel's correction n/(n-1)), so no statistic is read back to JavaScript per layer and step.
 */
import type * as tfc from '@tensorflow/tfjs-core';

type TensorInfo = tfc.TensorInfo;

/** What netc uses of tfjs-node's NodeJSKernelBackend (nodejs_kernel_backend.d.ts). */
interface NodeBackendLike {
  binding: { TF_FLOAT: number; TF_ATTR_TYPE: number; TF_ATTR_FLOAT: number; TF_ATTR_STRING: number; TF_ATTR_BOOL: number };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: TensorInfo[]): tfc.Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: TensorInfo[], numOutputs: number): tfc.Tensor[];
}
interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

export const NODE_BACKEND = 'tensorflow';
export const BN_TRAIN = 'NetcBatchNormTrain';
const BN_TRAIN_GRAD = 'NetcBatchNormTrainGrad';
export const RELU_GRAD = 'NetcReluGrad';

/** True when the current backend has kernel `name` (so a gradient may call it). */
export function hasKernel(tf: typeof tfc, name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) != null;
}

/**
 * Batch norm in training mode over the last axis of x, by the current backend's NetcBatchNormTrain
 * kernel; differentiable in x, scale and offset. Returns y and the running mean and variance updated
 * with PyTorch's rule (running = (1 - momentum) * running + momentum * batch statistic, the
 * variance unbiased). Call only where `hasKernel(tf, BN_TRAIN)`.
 */
export function fusedBatchNormTrain(
  tf: typeof tfc,
  x: tfc.Tensor,
  scale: tfc.Tensor,
  offset: tfc.Tensor,
  running: { mean: tfc.Tensor; variance: tfc.Tensor; momentum: number },
  epsilon: number,
) {
  const inputs = { x, scale, offset, mean: running.mean, variance: running.variance };
  const [y, mean, variance] = tf.engine().runKernel(BN_TRAIN, inputs, { epsilon, momentum: running.momentum }) as [tfc.Tensor, tfc.Tensor, tfc.Tensor];
  return { y, mean, variance };
}

/** Registers the kernels above on the `tensorflow` backend; returns their TensorFlow op names. */
export function registerNodeTrainingKernels(tf: typeof tfc): string[] {
  const register = (
    kernelName: string,
    kernelFunc: (args: { inputs: Record<string, TensorInfo>; backend: NodeBackendLike; attrs: Record<string, unknown> }) => TensorInfo | TensorInfo[],
  ) => {
    if (tf.getKernel(kernelName, NODE_BACKEND) != null) tf.unregisterKernel(kernelName, NODE_BACKEND);
    tf.registerKernel({ kernelName, backendName: NODE_BACKEND, kernelFunc: kernelFunc as unknown as tfc.KernelFunc });
  };
  const floatAttrs = (b: NodeBackendLike, epsilon: number): OpAttr[] => [
    { name: 'T', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT },
    { name: 'U', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT },
    { name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: b.binding.TF_ATTR_BOOL, value: true },
  ];
  /** FusedBatchNorm wants NHWC; any other rank is the same statistics over [rows, 1, 1, C]. */
  const as4d = (t: TensorInfo, c: number) => (t.shape.length === 4 ? t : tf.reshape(t as tfc.Tensor, [-1, 1, 1, c]));

  register(RELU_GRAD, ({ inputs, backend }) => backend.executeSingleOutput('ReluGrad', [floatAttrs(backend, 0)[0]!], [inputs.dy!, inputs.x!]));

  register(BN_TRAIN, ({ inputs, backend, attrs }) => {
    const { x, scale, offset, mean, variance } = inputs as Record<string, TensorInfo>;
    const c = scale!.shape[0]!;
    const avg = { name: 'exponential_avg_factor', type: backend.binding.TF_ATTR_FLOAT, value: attrs.momentum as number };
    return tf.tidy(() => {
      // outputs: y, the running mean and variance (updated), reserve spaces 1-3.
      const outs = backend.executeMultipleOutputs(
        'FusedBatchNormV3',
        [...floatAttrs(backend, attrs.epsilon as number), avg],
        [as4d(x!, c), scale!, offset!, mean!, variance!],
        6,
      );
      return x!.shape.length === 4 ? outs : [tf.reshape(outs[0]!, x!.shape), ...outs.slice(1)];
    }) as tfc.Tensor[];
  });

  register(BN_TRAIN_GRAD, ({ inputs, backend, attrs }) => {
    const { dy, x, scale, r1, r2, r3 } = inputs as Record<string, TensorInfo>;
    const c = scale!.shape[0]!;
    return tf.tidy(() => {
      const outs = backend.executeMultipleOutputs(
        'FusedBatchNormGradV3',
        floatAttrs(backend, attrs.epsilon as number),
        [as4d(dy!, c), as4d(x!, c), scale!, r1!, r2!, r3!],
        5,
      );
      return [x!.shape.length === 4 ? outs[0]! : tf.reshape(outs[0]!, x!.shape), outs[1]!, outs[2]!];
    }) as tfc.Tensor[];
  });

  // TensorFlow 2.21's oneDNN weight gradient of a strided 1x1 convolution corrupts the heap
  // ("free(): invalid next size" in ~MklConvBwdFilterPrimitive; netc train of conv 8 -> conv 16 k=1
  // stride=2 at 28x28 aborted in every run), the same fault native.ts avoids in oneDNN 2.6. Such a
  // gradient is a matrix product: the strided input's pixels (there is no padding at 1x1) times dy.
  const conv2dFilterGrad = tf.getKernel('Conv2DBackpropFilter', NODE_BACKEND)?.kernelFunc;
  if (conv2dFilterGrad) {
    register('Conv2DBackpropFilter', (args) => {
      const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
      const { strides, pad, dataFormat, filterShape } = args.attrs as {
        strides: number | [number, number];
        pad: unknown;
        dataFormat?: string;
        filterShape: number[];
      };
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      const noPad = pad === 'valid' || pad === 'same' || pad === 0 || (Array.isArray(pad) && pad.flat().every((p) => p === 0));
      const [n, h, w, ci] = x.shape as number[];
      const rows = Math.ceil(h! / sh) * Math.ceil(w! / sw);
      const strided1x1 = filterShape[0] === 1 && filterShape[1] === 1 && (sh > 1 || sw > 1) && noPad && dataFormat !== 'NCHW';
      if (!strided1x1 || x.dtype !== 'float32' || dy.shape[1]! * dy.shape[2]! !== rows) {
        return conv2dFilterGrad(args as unknown as Parameters<tfc.KernelFunc>[0]) as TensorInfo;
      }
      return tf.tidy(() => {
        // Where the stride divides the input, the strided pixels are one slice of a 6-d view
        // [n, h/sh, sh, w/sw, sw, c] (TensorFlow's Slice: ~4x faster here than its StridedSlice,
        // which took 5-10 ms per call at ResNet-20's shapes, batch 128).
        const picked =
          h! % sh === 0 && w! % sw === 0
            ? tf.slice(tf.reshape(x as tfc.Tensor, [n!, h! / sh, sh, w! / sw, sw, ci!]), [0, 0, 0, 0, 0, 0], [n!, h! / sh, 1, w! / sw, 1, ci!])
            : tf.stridedSlice(x as tfc.Tensor, [0, 0, 0, 0], [n!, h!, w!, ci!], [1, sh, sw, 1]);
        const dw = tf.matMul(tf.reshape(picked, [-1, ci!]), tf.reshape(dy as tfc.Tensor, [-1, filterShape[3]!]), true, false);
        return tf.reshape(dw, filterShape);
      });
    });
  }

  tf.registerGradient({
    kernelName: BN_TRAIN,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, false, false, true, true, true],
    gradFunc: (dys, saved, attrs) => {
      // Only y reaches the loss: the statistics feed the running averages, outside the gradient.
      const dy = (dys as tfc.Tensor[])[0]!;
      const [x, scale, r1, r2, r3] = saved;
      // One kernel gives all three gradients; they belong to the engine's backward scope, which
      // frees any that are not used.
      const [dx, dscale, doffset] = tf
        .engine()
        .runKernel(BN_TRAIN_GRAD, { dy, x: x!, scale: scale!, r1: r1!, r2: r2!, r3: r3! }, attrs as unknown as tfc.NamedAttrMap) as tfc.Tensor[];
      return { x: () => dx!, scale: () => dscale!, offset: () => doffset! };
    },
  });
  return ['ReluGrad', 'FusedBatchNormV3', 'FusedBatchNormGradV3', 'MatMul (strided 1x1 filter gradients)'];
}
