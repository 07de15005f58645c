/**
 * Small custom tfjs layers for PyTorch semantics that tfjs-layers lacks. Each is registered with
 * tfjs's serialization so that checkpoints (model.json) load back with `tf.loadLayersModel`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Pads = [[number, number], [number, number]];

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
    const [n, h, w, c] = s as tfl.Shape;
    const [[t, b], [l, r]] = this.padding;
    return [n, h == null ? null : h + t + b, w == null ? null : w + l + r, c];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const [[t, b], [l, r]] = this.padding;
    return tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]], -Infinity);
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
  /** Index of the feature map among the two inputs: the one with more elements per sample. */
  private static featureIndex(shapes: (number | null)[][]): number {
    const size = (s: (number | null)[]) => s.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);
    return size(shapes[1]) > size(shapes[0]) ? 1 : 0;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shapes = s as tfl.Shape[];
    return shapes[ChannelScale.featureIndex(shapes)];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const ins = inputs as tf.Tensor[];
    const xi = ChannelScale.featureIndex(ins.map((t) => t.shape));
    const x = ins[xi];
    const gate = ins[1 - xi];
    return tf.tidy(() => {
      if (gate.size === x.size) return tf.mul(x, gate);
      const c = gate.shape[gate.shape.length - 1];
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
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
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
    return [sh[0], 1, 1, sh[sh.length - 1]];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.reshape(x, [-1, 1, 1, x.shape[x.shape.length - 1]]);
  }
}

let registered = false;
export function registerCustomLayers(): void {
  if (registered) return;
  registered = true;
  for (const cls of [NegInfPadding2D, ChannelScale, ToMap11, PositionScale]) {
    tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  }
}
