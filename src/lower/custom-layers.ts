/**
 * Small custom tfjs layers for PyTorch semantics that tfjs-layers lacks. Each is registered with
 * tfjs's serialization so that checkpoints (model.json) load back with `tf.loadLayersModel`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SEQUENCE_LAYERS } from './sequence-layers.js';
import { TorchBatchNorm } from './batchnorm.js';

type Pads = [[number, number], [number, number]];
/** A layer's 4-D input shape (tfl.Shape has no length). */
type NHWC = [number | null, number | null, number | null, number | null];

/**
 * Pads H and W with -Infinity: PyTorch's max-pool padding. (Zero padding is wrong whenever the
 * input can be negative, e.g. a max-pool straight after a conv or a BN.)
 */
export class NegInfPadding2D extends tfl.layers.Layer {
  static className = 'NetcNegInfPadding2D';
  readonly padding: Pads;
  constructor(args: { padding: Pads; name?: string }) {
    super(args);
    this.padding = args.padding;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, h, w, c] = s as NHWC;
    const [[t, b], [l, r]] = this.padding;
    return [n, h == null ? null : h + t + b, w == null ? null : w + l + r, c];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const [[t, b], [l, r]] = this.padding;
    return tf.pad(
      x,
      [
        [0, 0],
        [t, b],
        [l, r],
        [0, 0],
      ],
      -Infinity,
    );
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), padding: this.padding };
  }
}

/**
 * x * gate, the gate broadcast over H and W: the `*` merge (squeeze-and-excitation). The IR allows
 * the gate on either side; it arrives as [C] or [1,1,C] per sample (or the same shape as x).
 */
export class ChannelScale extends tfl.layers.Layer {
  static className = 'NetcChannelScale';
  /**
   * Index of the feature map among the two inputs: the one with more elements per sample, or of higher
   * rank when they have as many (a [1,1,C] map gated by [C]: the IR's scaleFeatures rule).
   */
  private static featureIndex(shapes: (number | null)[][]): number {
    const size = (s: (number | null)[]) => s.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);
    const [a, b] = [shapes[0]!, shapes[1]!];
    const [s0, s1] = [size(a), size(b)];
    return s1 > s0 || (s1 === s0 && b.length > a.length) ? 1 : 0;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shapes = s as tfl.Shape[];
    return shapes[ChannelScale.featureIndex(shapes)]!;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const ins = inputs as tf.Tensor[];
    const xi = ChannelScale.featureIndex(ins.map((t) => t.shape));
    const x = ins[xi]!;
    const gate = ins[1 - xi]!;
    return tf.tidy(() => {
      if (gate.size === x.size) return tf.mul(x, tf.reshape(gate, x.shape));
      const c = gate.shape[gate.shape.length - 1]!;
      const g = x.rank === 4 ? tf.reshape(gate, [-1, 1, 1, c]) : tf.reshape(gate, [-1, c]);
      return tf.mul(x, g);
    });
  }
}

/**
 * x * factors[h][w], the same for every sample and channel. An average pool in ceil mode divides
 * its overhanging windows by the elements they cover inside the (padded) input, as PyTorch does,
 * not by k*k: the 'valid' pool over zero padding divides by k*k, and this rescales those windows.
 */
export class PositionScale extends tfl.layers.Layer {
  static className = 'NetcPositionScale';
  readonly factors: number[][];
  constructor(args: { factors: number[][]; name?: string }) {
    super(args);
    this.factors = args.factors;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return s as tfl.Shape;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => tf.mul(x, tf.tensor(this.factors).reshape([1, this.factors.length, this.factors[0]!.length, 1])));
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), factors: this.factors };
  }
}

/** Reshape a [N,F] to [N,1,1,F]: the [C,1,1] shape PyTorch keeps after a global average pool. */
export class ToMap11 extends tfl.layers.Layer {
  static className = 'NetcToMap11';
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const sh = s as tfl.Shape;
    return [sh[0] ?? null, 1, 1, sh[sh.length - 1] ?? null];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.reshape(x, [-1, 1, 1, x.shape[x.shape.length - 1]!]);
  }
}

/**
 * A convolution tfjs cannot train as one layer: grouped (1 < groups), or dilated (1 < dilation, also
 * with stride > 1). tfjs's conv2d refuses dilation together with stride, and its Conv2D and
 * depthwise gradients assert dilation 1 on every backend. So:
 * - dilation: the kernel is expanded to its dilated extent (d*(k-1)+1, zeros between the taps) by
 *   reshape/pad/slice, whose gradients every backend has; the convolution is then undilated. It
 *   costs (d(k-1)+1)^2 / k^2 more multiply-adds (2.8x for k=3, d=2); no stdlib net dilates.
 * - groups: one convolution per group on that group's channels, concatenated (PyTorch's output
 *   order: group g owns out-channels [g*out/groups, (g+1)*out/groups)); a depthwise conv
 *   (groups = in-channels) is one tfjs depthwise conv where the backend has its gradients.
 * The kernel is [kh, kw, in/groups, out], the layout a conv2d layer's kernel has at groups=1, so
 * export and initialisation treat it as a `kernel`. Input padding is the lowering's (zero-padding
 * layer); this layer convolves 'valid'.
 */
export class GroupedConv2D extends tfl.layers.Layer {
  static className = 'NetcGroupedConv2D';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly useBias: boolean;
  private kernel!: ReturnType<tfl.layers.Layer['addWeight']>;
  private bias: ReturnType<tfl.layers.Layer['addWeight']> | null = null;

  constructor(args: {
    filters: number;
    kernelSize: [number, number];
    strides: [number, number];
    dilation: [number, number];
    groups: number;
    useBias: boolean;
    name?: string;
  }) {
    super(args);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides;
    this.dilation = args.dilation;
    this.groups = args.groups;
    this.useBias = args.useBias;
  }
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const cin = (inputShape as tfl.Shape)[3] as number;
    const [kh, kw] = this.kernelSize;
    this.kernel = this.addWeight('kernel', [kh, kw, cin / this.groups, this.filters], 'float32', tfl.initializers.glorotUniform({}));
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', tfl.initializers.zeros());
    this.built = true;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, h, w] = s as NHWC;
    const size = (x: number | null, axis: 0 | 1) =>
      x == null ? null : Math.floor((x - this.dilation[axis] * (this.kernelSize[axis] - 1) - 1) / this.strides[axis]) + 1;
    return [n, size(h, 0), size(w, 1), this.filters];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    return tf.tidy(() => {
      const k = dilateKernel(this.kernel.read() as tf.Tensor4D, this.dilation);
      const g = this.groups;
      const cin = x.shape[3];
      let y: tf.Tensor4D;
      if (g === 1) {
        y = tf.conv2d(x, k, this.strides, 'valid');
      } else if (g === cin && hasDepthwiseGradients() && !this.strided1x1()) {
        y = tf.depthwiseConv2d(x, tf.reshape(k, [k.shape[0], k.shape[1], cin, this.filters / cin]) as tf.Tensor4D, this.strides, 'valid');
      } else {
        const xs = tf.split(x, g, 3);
        const ks = tf.split(k, g, 3);
        y = tf.concat(
          xs.map((xg, i) => tf.conv2d(xg as tf.Tensor4D, ks[i] as tf.Tensor4D, this.strides, 'valid')),
          3,
        );
      }
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }
  /**
   * A strided 1x1 kernel: the native addon leaves its filter gradient to wasm (a oneDNN bug, see
   * src/runtime/native.ts), and wasm has no depthwise one, so such a depthwise conv takes the
   * per-group path (found by test/property/check-train.test.ts: `conv 3 k=1 stride=2 groups=3`).
   */
  private strided1x1(): boolean {
    return this.kernelSize[0] === 1 && this.kernelSize[1] === 1 && (this.strides[0] > 1 || this.strides[1] > 1);
  }
  override getConfig(): tf.serialization.ConfigDict {
    const { filters, kernelSize, strides, dilation, groups, useBias } = this;
    return { ...super.getConfig(), filters, kernelSize, strides, dilation, groups, useBias };
  }
}

/** Whether the current backend can differentiate a depthwise convolution (wasm only with netc's native addon). */
function hasDepthwiseGradients(): boolean {
  const b = tf.getBackend();
  return tf.getKernel('DepthwiseConv2dNativeBackpropFilter', b) != null && tf.getKernel('DepthwiseConv2dNativeBackpropInput', b) != null;
}

/** [kh, kw, i, o] -> [d_h(kh-1)+1, d_w(kw-1)+1, i, o] with zeros between the taps (differentiable ops only). */
function dilateKernel(k: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
  if (dh === 1 && dw === 1) return k;
  const [kh, kw, ci, co] = k.shape;
  const x = ci * co;
  // Along H: [kh, 1, kw*x] padded to [kh, dh, kw*x], rows flattened, the trailing zeros cut.
  let t = tf.reshape(k, [kh, 1, kw * x]);
  t = tf.pad(t, [
    [0, 0],
    [0, dh - 1],
    [0, 0],
  ]);
  const eh = dh * (kh - 1) + 1;
  t = tf.slice(tf.reshape(t, [kh * dh, kw * x]), [0, 0], [eh, kw * x]);
  // Along W, the same on [eh*kw, 1, x].
  t = tf.pad(tf.reshape(t, [eh * kw, 1, x]), [
    [0, 0],
    [0, dw - 1],
    [0, 0],
  ]);
  const ew = dw * (kw - 1) + 1;
  t = tf.slice(tf.reshape(t, [eh, kw * dw, x]), [0, 0, 0], [eh, ew, x]);
  return tf.reshape(t, [eh, ew, ci, co]);
}

/**
 * PyTorch's AdaptiveAvgPool2d for any input and output size (also upsampling, 1x1 -> 7x7 as VGG
 * on CIFAR-size input): output cell i averages input rows [floor(i*H/oh), ceil((i+1)*H/oh)), and
 * likewise along W. The windows are rectangles, so the pool is y = A_h x A_w^T per sample and
 * channel: two matrix products with constant averaging matrices, differentiable everywhere.
 * (The lowering uses a plain average pool where the windows are uniform and disjoint.)
 */
export class AdaptiveAvgPool2D extends tfl.layers.Layer {
  static className = 'NetcAdaptiveAvgPool2D';
  readonly size: [number, number];
  constructor(args: { size: [number, number]; name?: string }) {
    super(args);
    this.size = args.size;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, , , c] = s as NHWC;
    return [n, this.size[0], this.size[1], c];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    const [n, h, w, c] = x.shape;
    const [oh, ow] = this.size;
    return tf.tidy(() => {
      // [H, N*W*C] -> A_h -> [oh, N, W, C] -> [W, N*oh*C] -> A_w -> [ow, N, oh, C] -> [N, oh, ow, C]
      const rows = tf.matMul(adaptiveMatrix(oh, h), tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]));
      const t = tf.transpose(tf.reshape(rows, [oh, n, w, c]), [2, 1, 0, 3]);
      const cols = tf.matMul(adaptiveMatrix(ow, w), tf.reshape(t, [w, n * oh * c]));
      return tf.transpose(tf.reshape(cols, [ow, n, oh, c]), [1, 2, 0, 3]);
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), size: this.size };
  }
}

/** [out, in]: row i averages input cells [floor(i*in/out), ceil((i+1)*in/out)) (PyTorch's windows). */
export function adaptiveMatrix(out: number, size: number): tf.Tensor2D {
  const m = new Float32Array(out * size);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * size) / out);
    const end = Math.ceil(((i + 1) * size) / out);
    for (let j = start; j < end; j++) m[i * size + j] = 1 / (end - start);
  }
  return tf.tensor2d(m, [out, size]);
}

/**
 * The sum of same-shaped tensors (the residual `+`). tfjs's Add/AddN gradients save every input
 * only to read their shapes for broadcasting; the IR's `+` never broadcasts, so this sum saves
 * nothing and passes dy to each input: a ResNet bottleneck's last BN output is no longer kept for
 * the backward pass (measured on resnet50_cifar: 0.73 -> see README).
 */
export class Sum extends tfl.layers.Layer {
  static className = 'NetcSum';
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return (s as tfl.Shape[])[0]!;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const xs = Array.isArray(inputs) ? inputs : [inputs];
    const sum = tf.customGrad(((...args: tf.Tensor[]) => ({
      value: xs.length === 2 ? tf.add(args[0]!, args[1]!) : tf.addN(args.slice(0, xs.length)),
      gradFunc: (dy: tf.Tensor) => xs.map(() => tf.clone(dy)),
    })) as unknown as Parameters<typeof tf.customGrad>[0]);
    return sum(...xs);
  }
}

/**
 * Max pooling with dilated windows over an already padded input ('valid'): PyTorch's MaxPool2d with
 * dilation, which tfjs lacks. Each window tap is a strided view of the input (a slice, then every
 * stride-th row and column through a reshape), and the result their running maximum. Every op here
 * has a gradient on every backend; tf.maximum sends a tie's gradient to the earlier tap, PyTorch's
 * first-maximum rule.
 */
export class DilatedMaxPool2D extends tfl.layers.Layer {
  static className = 'NetcDilatedMaxPool2D';
  readonly kernel: [number, number];
  readonly strides: [number, number];
  readonly dilation: [number, number];
  constructor(args: { kernel: [number, number]; strides: [number, number]; dilation: [number, number]; name?: string }) {
    super(args);
    [this.kernel, this.strides, this.dilation] = [args.kernel, args.strides, args.dilation];
  }
  private outSize(h: number, w: number): [number, number] {
    const o = (n: number, a: 0 | 1) => Math.floor((n - this.dilation[a] * (this.kernel[a] - 1) - 1) / this.strides[a]) + 1;
    return [o(h, 0), o(w, 1)];
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, h, w, c] = s as tfl.Shape;
    const [oh, ow] = this.outSize(h!, w!);
    return [n ?? null, oh, ow, c ?? null];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const [n, h, w, c] = x.shape;
    const [oh, ow] = this.outSize(h, w);
    const [sh, sw] = this.strides;
    return tf.tidy(() => {
      let out: tf.Tensor | null = null;
      for (let i = 0; i < this.kernel[0]; i++) {
        for (let j = 0; j < this.kernel[1]; j++) {
          // Rows i*d, i*d + s, ..., taken as the first of each group of s rows.
          const [top, left] = [i * this.dilation[0], j * this.dilation[1]];
          const rows = Math.min(oh * sh, h - top);
          const cols = Math.min(ow * sw, w - left);
          let tap = tf.slice(x, [0, top, left, 0], [n, rows, cols, c]);
          if (rows < oh * sh || cols < ow * sw)
            tap = tf.pad(tap, [
              [0, 0],
              [0, oh * sh - rows],
              [0, ow * sw - cols],
              [0, 0],
            ]);
          tap = tf.reshape(tf.slice(tf.reshape(tap, [n, oh, sh, ow, sw, c]), [0, 0, 0, 0, 0, 0], [n, oh, 1, ow, 1, c]), [n, oh, ow, c]);
          out = out ? tf.maximum(out, tap) : tap;
        }
      }
      return out!;
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), kernel: this.kernel, strides: this.strides, dilation: this.dilation };
  }
}

let registered = false;
/** Every layer class of netc's own, so that a checkpoint's model.json names them and loads back. */
export function registerCustomLayers(): void {
  if (registered) return;
  registered = true;
  for (const cls of [
    NegInfPadding2D,
    ChannelScale,
    ToMap11,
    PositionScale,
    GroupedConv2D,
    AdaptiveAvgPool2D,
    Sum,
    DilatedMaxPool2D,
    TorchBatchNorm,
    ...SEQUENCE_LAYERS,
  ]) {
    tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  }
}
