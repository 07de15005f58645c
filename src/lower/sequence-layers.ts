/**
 * tfjs layers for the parameters torchvision keeps outside any module (ConvNeXt's `layer_scale`, ViT's
 * `class_token` and `pos_embedding`) and for nn.MultiheadAttention. Each holds its weights in
 * PyTorch's shape and layout, so export and verify map them one to one ('same' layout).
 *
 * Layout (src/lower/context.ts): a `[C, H, W]` value is a `[N, H, W, C]` tensor, a `[L, D]` value a
 * `[N, L, D]` tensor.
 *
 * Weight names: `param` is a parameter that is its node's own state-dict key (`features.1.0.layer_scale`);
 * the attention's are PyTorch's (`in_proj_weight`, `out_proj.weight`, ...). src/lower/lower.ts maps them.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type LayerVariable = ReturnType<tfl.layers.Layer['addWeight']>;

const one = (inputs: tf.Tensor | tf.Tensor[]) => (Array.isArray(inputs) ? inputs[0]! : inputs);

/** A layer with one parameter of a fixed (PyTorch) shape; values come from netc's initialisation. */
abstract class ParameterLayer extends tfl.layers.Layer {
  readonly paramShape: number[];
  protected param!: LayerVariable;
  constructor(args: { paramShape: number[]; name?: string }) {
    super(args);
    this.paramShape = args.paramShape;
  }
  override build(): void {
    this.param = this.addWeight('param', this.paramShape, 'float32', tfl.initializers.zeros());
    this.built = true;
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), paramShape: this.paramShape };
  }
}

/** x * gamma, gamma of PyTorch shape [C, 1, 1] scaling channels (ConvNeXt's layer_scale). */
export class LayerScale extends ParameterLayer {
  static className = 'NetcLayerScale';
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return s as tfl.Shape;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = one(inputs);
    // [C, 1, 1] -> [C]: broadcast over the channels-last axis.
    return tf.tidy(() => tf.mul(x, tf.reshape(this.param.read(), [this.paramShape[0]!])));
  }
}

/** [N, L, D] -> [N, 1 + L, D]: a learned token [1, 1, D] put first (ViT's class_token). */
export class ClassToken extends ParameterLayer {
  static className = 'NetcClassToken';
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, l, d] = s as tfl.Shape;
    return [n ?? null, l == null ? null : l + 1, d ?? null];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = one(inputs);
    return tf.tidy(() => tf.concat([tf.tile(this.param.read(), [x.shape[0]!, 1, 1]), x], 1));
  }
}

/** x + E, E of shape [1, L, D] (ViT's pos_embedding). */
export class PositionEmbedding extends ParameterLayer {
  static className = 'NetcPositionEmbedding';
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return s as tfl.Shape;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.add(one(inputs), this.param.read()));
  }
}

/**
 * nn.MultiheadAttention(D, heads, batch_first=True) as self-attention (query = key = value = x), with
 * its parameters: in_proj_weight [3D, D] (q, k, v stacked), in_proj_bias [3D], out_proj.weight [D, D],
 * out_proj.bias [D]. PyTorch 1.13's computation: q, k, v = x W^T + b; per head softmax(q k^T / sqrt(D/heads)) v;
 * heads concatenated; out_proj.
 */
export class SelfAttention extends tfl.layers.Layer {
  static className = 'NetcSelfAttention';
  readonly heads: number;
  private w: Record<string, LayerVariable> = {};
  constructor(args: { heads: number; name?: string }) {
    super(args);
    this.heads = args.heads;
  }
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const d = (inputShape as tfl.Shape)[2] as number;
    const zeros = tfl.initializers.zeros();
    const shapes: [string, number[]][] = [
      ['in_proj_weight', [3 * d, d]],
      ['in_proj_bias', [3 * d]],
      ['out_proj.weight', [d, d]],
      ['out_proj.bias', [d]],
    ];
    for (const [name, shape] of shapes) this.w[name] = this.addWeight(name, shape, 'float32', zeros);
    this.built = true;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return s as tfl.Shape;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = one(inputs);
    const [n, l, d] = x.shape as [number, number, number];
    const h = this.heads;
    const dh = d / h;
    return tf.tidy(() => {
      const rows = tf.reshape(x, [n * l, d]);
      const qkv = tf.add(tf.matMul(rows, this.w['in_proj_weight']!.read(), false, true), this.w['in_proj_bias']!.read());
      // [N*L, D] -> [N, heads, L, D/heads]
      const split = (i: number) => tf.transpose(tf.reshape(tf.slice(qkv, [0, i * d], [n * l, d]), [n, l, h, dh]), [0, 2, 1, 3]);
      const q = tf.mul(split(0), 1 / Math.sqrt(dh));
      const attention = tf.softmax(tf.matMul(q, split(1), false, true));
      const heads = tf.reshape(tf.transpose(tf.matMul(attention, split(2)), [0, 2, 1, 3]), [n * l, d]);
      const out = tf.add(tf.matMul(heads, this.w['out_proj.weight']!.read(), false, true), this.w['out_proj.bias']!.read());
      return tf.reshape(out, [n, l, d]);
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads };
  }
}

export const SEQUENCE_LAYERS = [LayerScale, ClassToken, PositionEmbedding, SelfAttention];
