import type * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { NodeData, Shape } from '../ir/types.js';

/**
 * What an op's `lower` receives: the tfjs namespaces (loaded lazily by the lowering driver, never by
 * `netc check`) and helpers that keep every op's lowering consistent.
 *
 * Layout: IR shapes are PyTorch's `[C, H, W]`; tfjs tensors are channels-last, so a `[C,H,W]` value
 * is a symbolic tensor of shape `[batch, H, W, C]` and a `[F]` value is `[batch, F]`.
 */
export interface LowerContext {
  tf: typeof tfc;
  layers: typeof tfl;
  /** A unique tfjs layer name derived from the IR node's name: `layer1.0.conv1`, `layer1.0.conv1/pad`. */
  layerName(node: NodeData, suffix?: string): string;
  /** The IR shape of a node's i-th input. */
  inputShape(node: NodeData, i?: number): Shape;
  /** Flattens a value in PyTorch's C,H,W order (so linear weights map onto PyTorch's). */
  flattenCHW(node: NodeData, x: unknown, shape: Shape): unknown;
  /** Records the tfjs layer that holds a node's weights (for init, state-dict mapping, export). */
  own(node: NodeData, layer: unknown): void;
  /** The model's input placeholder (the `input` op's lowering). */
  input(): tfl.SymbolicTensor;
  /** netc's own tfjs layers for PyTorch semantics (constructors; reached through the context so op files never load tfjs). */
  custom: CustomLayers;
}

type LayerConstructor<A> = new (args: A) => tfl.layers.Layer;
type Pads = [[number, number], [number, number]];

export interface CustomLayers {
  /** -inf padding: PyTorch's max-pool padding. */
  NegInfPadding2D: LayerConstructor<{ padding: Pads; name?: string }>;
  /** x * gate, the gate broadcast over H and W (squeeze-and-excitation). */
  ChannelScale: LayerConstructor<{ name?: string }>;
  /** x * factors[h][w], broadcast over batch and channels (avg-pool divisors in ceil mode). */
  PositionScale: LayerConstructor<{ factors: number[][]; name?: string }>;
  /** [batch, C] -> [batch, 1, 1, C]: keeps PyTorch's 1x1 map after global pooling. */
  ToMap11: LayerConstructor<{ name?: string }>;
  /** Grouped and/or dilated convolution (tfjs has neither gradient); 'valid' padding. */
  GroupedConv2D: LayerConstructor<{
    filters: number;
    kernelSize: [number, number];
    strides: [number, number];
    dilation: [number, number];
    groups: number;
    useBias: boolean;
    name?: string;
  }>;
  /** PyTorch's AdaptiveAvgPool2d for any sizes (upsampling too). */
  AdaptiveAvgPool2D: LayerConstructor<{ size: [number, number]; name?: string }>;
  /** Max pooling with dilated windows ('valid' padding): PyTorch's MaxPool2d(dilation=d). */
  DilatedMaxPool2D: LayerConstructor<{ kernel: [number, number]; strides: [number, number]; dilation: [number, number]; name?: string }>;
  /** Sum of same-shaped tensors that keeps none of them for its gradient. */
  Sum: LayerConstructor<{ name?: string }>;
  /** Batch norm with PyTorch's momentum meaning and unbiased running variance. */
  TorchBatchNorm: LayerConstructor<{ torchMomentum: number; epsilon: number; name?: string }>;
  /** Parameters outside any module, in PyTorch's shape (src/lower/sequence-layers.ts). */
  LayerScale: LayerConstructor<{ paramShape: number[]; name?: string }>;
  ClassToken: LayerConstructor<{ paramShape: number[]; name?: string }>;
  PositionEmbedding: LayerConstructor<{ paramShape: number[]; name?: string }>;
  /** nn.MultiheadAttention as self-attention on [N, L, D]. */
  SelfAttention: LayerConstructor<{ heads: number; name?: string }>;
}
