import type { Code } from '../diagnostics/catalog.js';
import type { AttrValue, IRNode, Shape, WeightSpec } from '../ir/types.js';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { Template } from '../export/template.js';
import type { LowerContext } from '../lower/context.js';

/** A value of the language: numbers (int or float), booleans, strings, and tuples of numbers (`(1, 7)`: per-axis values). */
export type Value = number | boolean | string | number[];

export type ParamType = 'int' | 'float' | 'bool' | 'string' | 'int|pair';

/** One parameter of an operation as the user writes it: `conv 64 k=3 stride=2`. */
export interface ParamSpec {
  name: string;
  type: ParamType;
  /** Other accepted keyword spellings (`kernel` for `k`). */
  aliases?: string[];
  /** May be given without a keyword, in declaration order. */
  positional?: boolean;
  /** Absent: the argument is required. */
  default?: Value | ((args: Record<string, Value>) => Value);
  /** PyTorch's name for the argument, where it differs (export). */
  torchName?: string;
  doc: string;
}

/** Where shape rules report problems; `at` names the argument whose value is at fault, if any. */
export interface ShapeContext {
  error(code: Code, message: string, opts?: { at?: string; help?: string; notes?: string[] }): void;
  warning(code: Code, message: string, opts?: { at?: string; help?: string; notes?: string[] }): void;
}

/**
 * Everything netc knows about one operation. Passes read this table; none switches on op names,
 * so adding an operation is adding one file in `src/ops/` and listing it in `src/ops/index.ts`.
 */
export interface OpDef {
  /** The name used in `.net` files (`conv`, `bn`, `maxpool`). Internal ops (add, concat) are not callable. */
  name: string;
  aliases?: string[];
  internal?: boolean;
  /** One line for help and hover. */
  summary: string;
  params: ParamSpec[];
  /** PyTorch's class name for the summary row (`Conv2d`); null for functional ops that have no module (add, cat). */
  torchType(attrs: Record<string, AttrValue>, inputs: Shape[]): string | null;
  /** Base of the default hierarchical name (`conv` -> conv1, conv2; `relu`). */
  nameBase: string;
  /** Always numbered (conv1, bn1) like torchvision, even when unique in its scope. */
  numbered?: boolean;
  /** How many inputs: 1 for layers, 'many' for merges. */
  arity: 1 | 'many';
  /** Normalise user arguments into attributes (pairs expanded, defaults applied). */
  attrs?(args: Record<string, Value>): Record<string, AttrValue>;
  /** The output shape; report through ctx and return null when the input makes no sense. */
  infer(attrs: Record<string, AttrValue>, inputs: Shape[], ctx: ShapeContext): Shape | null;
  weights?(attrs: Record<string, AttrValue>, inputs: Shape[], output: Shape): WeightSpec[];
  macs?(attrs: Record<string, AttrValue>, inputs: Shape[], output: Shape): number;
  /** Kernel extent, stride and dilation along H, for the receptive field. Absent: pointwise. */
  window?(attrs: Record<string, AttrValue>, inputs: Shape[]): { kernel: number; stride: number; dilation: number };
  /**
   * What a training step keeps of this op for its gradient, as lowered: each input, the output,
   * and `extra` more tensors of the output's size (a dropout mask). Absent: nothing. The memory
   * estimate (src/train/memory.ts) reads it.
   */
  keeps?: { input?: boolean; output?: boolean; extra?: number };
  /** The op forwards its input unchanged and creates no node (`identity`). */
  elided?: boolean;
  /**
   * In training, the output is the input times a random keep mask scaled by 1/(1-p), p the named
   * attribute (dropout). `netc verify` replays netc's mask in PyTorch, since the draws differ.
   */
  randomMask?: { probability: string };
  /**
   * Where the gradient jumps: input values (ReLU's 0), or 'window-max' (a max pool's gradient goes to
   * the maximum of each window, which jumps where two candidates tie). Where an input lies within
   * rounding of a kink, which side the gradient takes is decided by float rounding, not by the net:
   * `netc verify` replays netc's side there in PyTorch (docs/verify.md, "Kinks").
   */
  kinks?: number[] | 'window-max';
  /** Build the tfjs layer(s) for this node; inputs and result are tfjs SymbolicTensors. */
  lower?(ctx: LowerContext, node: IRNode, inputs: SymbolicTensor[]): SymbolicTensor;
  /** PyTorch export: the module's constructor (layers) or the expression over its inputs' names (merges). */
  pytorch?: {
    module?(node: IRNode, inputs: Shape[]): Template;
    expr?(args: string[], inputs: Shape[], attrs: Record<string, AttrValue>): string;
  };
}
