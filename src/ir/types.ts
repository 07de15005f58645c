/**
 * The typed IR: a DAG of tensor operations with static per-sample shapes.
 * Everything after elaboration (checking, summaries, lowering, export, the editor) reads this.
 */
import type { OpName } from '../ops/index.js';

/** A per-sample shape: `[C, H, W]` for feature maps, `[F]` for flat vectors. The batch is implicit. */
export type Shape = number[];

/** A region of a source file, as UTF-16 code-unit offsets into its text (JS string indices). */
export interface Span {
  file: string;
  start: number;
  end: number;
}

export type AttrValue = number | boolean | string | number[];

/** How a weight is initialised (PyTorch's defaults unless the file says otherwise). */
export type InitSpec =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  /** kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = sqrt(2 / fanOut). */
  | { kind: 'kaimingNormalFanOut'; fanOut: number }
  /** PyTorch's default for Linear/Conv weight and bias: uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
  | { kind: 'uniformFanIn'; fanIn: number }
  /** Every value the same (ConvNeXt's layer_scale, 1e-6). */
  | { kind: 'constant'; value: number }
  /** normal(0, std) (ViT's position embedding, std 0.02). */
  | { kind: 'normal'; std: number }
  /** xavier_uniform_: uniform(-b, b), b = sqrt(6 / (fanIn + fanOut)) (nn.MultiheadAttention's in_proj_weight). */
  | { kind: 'xavierUniform'; fanIn: number; fanOut: number };

export interface WeightSpec {
  /** PyTorch's parameter name within the module: weight, bias, running_mean, running_var; empty for a parameter that is the node itself (`class_token`). */
  name: string;
  /** PyTorch's layout (e.g. conv weight `[out, in/groups, kh, kw]`). */
  shape: number[];
  trainable: boolean;
  /** Buffers (running statistics) are state, not parameters: torchsummary does not count them. */
  buffer: boolean;
  init: InitSpec;
}

export interface IRNode {
  /** Index in `IRGraph.nodes`; nodes are in execution order (a topological order). */
  id: number;
  /** Key into the op table (`src/ops/`). */
  op: OpName;
  /** Hierarchical module name, torchvision-style: `layer2.0.conv1`. Internal nodes (add, concat) get one too. */
  name: string;
  /** Normalised attributes, as the op's `attrs()` produced them (typed per op in src/ops). */
  attrs: Record<string, AttrValue>;
  inputs: number[];
  /** Output shape; `null` when an error upstream made it unknowable (no further shape errors are reported). */
  shape: Shape | null;
  span: Span;
  /** Innermost enclosing module instance (index into `IRGraph.modules`), or null at the top level. */
  module: number | null;
  weights: WeightSpec[];
  macs: number;
  /** Receptive field (in input pixels) and jump (product of strides) along H. */
  receptiveField: number;
  jump: number;
}

/**
 * A node without its op name: what op code (src/ops, the lowering helpers) handles. Keeping `op` out
 * of it lets an op's own type be inferred without depending on the op table it is part of.
 */
export type NodeData = Omit<IRNode, 'op'>;

/** A named scope: an instance of a `block` (a row in the summary) or a sequential group (no row, like nn.Sequential). */
export interface ModuleInstance {
  id: number;
  name: string;
  /** The block's name for blocks (`Basic`), `Sequential` for groups. */
  type: string;
  kind: 'block' | 'sequential';
  parent: number | null;
  span: Span;
  /** The node whose value is the module's output. */
  output: number;
  /** The module's forward pass ends after this node (its summary row follows that node's row). */
  closesAfter: number;
}

export interface IRGraph {
  net: string;
  /** The arguments the net was instantiated with (defaults and overrides resolved). */
  args: Record<string, AttrValue>;
  input: Shape;
  nodes: IRNode[];
  modules: ModuleInstance[];
  output: number;
}
