/**
 * The format of an operation. One file per op in `src/ops/`, listed once in `src/ops/index.ts`'s OPS.
 *
 *     export const conv = defineOp({
 *       name: 'conv',                          // the literal becomes part of the OpName union
 *       params: [{ name: 'out', type: 'int', positional: true, doc: '...' }, ...],
 *       attrs: (args) => ({ out: args.out, kernel: pair(args.k, 1) }),   // args typed from params
 *       infer(attrs, [input], ctx) { ... attrs.out ... },                 // attrs typed from attrs()
 *       weights, macs, window, lower, pytorch ...                          // all see the same typed attrs
 *     });
 *
 * - `args` has one field per param, typed by its `type` ('int'/'float': number, 'bool': boolean,
 *   'string': string, 'int|pair': number | number[]); defaults are already applied.
 * - `attrs()` is the one place that names the attribute types: every other member (and `node.attrs`
 *   in `lower` and `pytorch.module`) gets them from its return type, so no member casts. Write
 *   `attrs` before the members that read them (TypeScript infers object members left to right).
 *   Without `attrs()`, the op has no attributes.
 * - Converting an op written as `export const x: OpDef = { ... }`: wrap the object in `defineOp(...)`
 *   and drop the casts (`attrs['out'] as number` -> `attrs.out`). The plain format still type-checks
 *   inside defineOp, but OPS refuses an op whose name is not a literal (see OP_NAMES_ARE_LITERALS).
 *
 * Traits: optional members that passes ask about instead of comparing op names (`graphInput`,
 * `passThrough`, `globalPool`, `outputsProbabilities`, `fullyConnected`, `pytorch.init`, `keeps`,
 * `elided`, `randomMask`). A pass that needs to know something new about ops adds a trait here and
 * sets it in the ops it concerns; `test/ops/no-op-names.test.ts` fails if a pass compares op names.
 */
import type { Code } from '../diagnostics/catalog.js';
import type { AttrValue, InitSpec, NodeData, Shape, WeightSpec } from '../ir/types.js';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { Template } from '../export/template.js';
import type { LowerContext } from '../lower/context.js';

/** A value of the language: numbers (int or float), booleans, strings, and tuples of numbers (`(1, 7)`: per-axis values). */
export type Value = number | boolean | string | number[];

export type ParamType = 'int' | 'float' | 'bool' | 'string' | 'int|pair' | 'ints';

/** One parameter of an operation as the user writes it: `conv 64 k=3 stride=2`. */
export interface ParamSpec {
  name: string;
  type: ParamType;
  /** Other accepted keyword spellings (`kernel` for `k`). */
  aliases?: readonly string[];
  /** May be given without a keyword, in declaration order. */
  positional?: boolean;
  /** Absent: the argument is required. */
  default?: Value | ((args: Record<string, Value>) => Value);
  /** PyTorch's name for the argument, where it differs (export). */
  torchName?: string;
  doc: string;
}

/** The value a parameter of type T has once checked. */
export type ParamValue<T extends ParamType> = T extends 'int' | 'float'
  ? number
  : T extends 'bool'
    ? boolean
    : T extends 'string'
      ? string
      : T extends 'ints'
        ? number[]
        : number | number[];

/** The arguments an op's `attrs()` receives: one field per param, defaults applied. */
export type ArgsOf<P extends readonly ParamSpec[]> = { [S in P[number] as S['name']]: ParamValue<S['type']> };

/** An op's attributes (what IR nodes store). */
export type Attrs = Record<string, AttrValue>;

/**
 * The attributes of an op without `attrs()`. An error "property 'x' does not exist on type 'NoAttrs'"
 * in an op that has `attrs()` means a member reading attrs comes before it: move `attrs` up.
 */
export type NoAttrs = Record<never, never>;

/** An IR node of an op whose attributes are A. */
export type OpNode<A extends Attrs = Attrs> = Omit<NodeData, 'attrs'> & { attrs: A };

/** Where shape rules report problems; `at` names the argument whose value is at fault, if any. */
export interface ShapeContext {
  error(code: Code, message: string, opts?: { at?: string; help?: string; notes?: string[] }): void;
  warning(code: Code, message: string, opts?: { at?: string; help?: string; notes?: string[] }): void;
}

/** The members of an op that read its attributes (A). */
export interface OpMembers<A extends Attrs> {
  aliases?: readonly string[];
  internal?: boolean;
  /** One line for help and hover. */
  summary: string;
  /** PyTorch's class name for the summary row (`Conv2d`); null for functional ops that have no module (add, cat). */
  torchType(attrs: A, inputs: Shape[]): string | null;
  /** Base of the default hierarchical name (`conv` -> conv1, conv2; `relu`). */
  nameBase: string;
  /** Always numbered (conv1, bn1) like torchvision, even when unique in its scope. */
  numbered?: boolean;
  /** How many inputs: 1 for layers, 'many' for merges. */
  arity: 1 | 'many';
  /** The output shape; report through ctx and return null when the input makes no sense. */
  infer(attrs: A, inputs: Shape[], ctx: ShapeContext): Shape | null;
  weights?(attrs: A, inputs: Shape[], output: Shape): WeightSpec[];
  macs?(attrs: A, inputs: Shape[], output: Shape): number;
  /** Kernel extent, stride and dilation along H, for the receptive field. Absent: pointwise. */
  window?(attrs: A, inputs: Shape[]): { kernel: number; stride: number; dilation: number };
  /**
   * What a training step keeps of this op for its gradient, as lowered: each input, the output,
   * and `extra` more tensors of the output's size (a dropout mask). Absent: nothing. The memory
   * estimate (src/train/memory.ts) reads it.
   */
  keeps?: { input?: boolean; output?: boolean; extra?: number };
  /**
   * The output is cheap to compute again from the (single) input, deterministic, and lowered to one
   * tfjs layer (batch norm, ReLU): on wasm a saved copy of it is freed during the forward pass and
   * recomputed when backprop needs it, where the input is kept anyway (src/runtime/remat.ts).
   */
  recompute?: boolean;
  /** The op forwards its input unchanged and creates no node (`identity`). */
  elided?: boolean;
  /**
   * In training, the output is the input times a random keep mask scaled by 1/(1-p), p the named
   * attribute (dropout). `netc verify` replays netc's mask in PyTorch, since the draws differ.
   */
  randomMask?: { probability: string };
  /** Trait: the network's input placeholder (the one node every graph starts with). */
  graphInput?: boolean;
  /** Trait: at inference, values pass through unchanged up to a reshape (CAM looks through it between the pool and the linear head). */
  passThrough?: boolean;
  /**
   * Trait: averages a whole [C, H, W] map to [C, 1, 1] or [C] (CAM's pool) when `test` holds;
   * `condition` says when it does, for ops where it depends on the attributes.
   */
  globalPool?: { test(attrs: A, input: Shape): boolean; condition?: string };
  /** Trait: outputs probabilities (a softmax head): the loss is the NLL of log p, not cross-entropy on logits. */
  outputsProbabilities?: boolean;
  /** Trait: the merge that the language's binary operator builds (`a + b`, `a ++ b` and `[a | b]`, `a * b`). */
  operator?: '+' | '++' | '*';
  /** Trait: `netc export --to dot` draws the node as a small circle with this label (merges) instead of a box. */
  dotLabel?: string;
  /** Trait: a fully connected layer, weight [out, in] (CAM's class weights; a [C, 1, 1] input flattens implicitly). */
  fullyConnected?: boolean;
  /**
   * Where the gradient jumps: input values (ReLU's 0), or 'window-max' (a max pool's gradient goes to
   * the maximum of each window, which jumps where two candidates tie). Where an input lies within
   * rounding of a kink, which side the gradient takes is decided by float rounding, not by the net:
   * `netc verify` replays netc's side there in PyTorch (docs/verify.md, "Kinks").
   */
  kinks?: number[] | 'window-max';
  /** Build the tfjs layer(s) for this node; inputs and result are tfjs SymbolicTensors. */
  lower?(ctx: LowerContext, node: OpNode<A>, inputs: SymbolicTensor[]): SymbolicTensor;
  /**
   * PyTorch export: the module's constructor (layers) or the expression over its inputs' names (merges).
   * With both, `module` is an attribute (an nn.Parameter such as `layer_scale`, or a module called in
   * its own way such as nn.MultiheadAttention) and `expr` its use, `self` naming the attribute.
   */
  pytorch?: {
    module?(node: OpNode<A>, inputs: Shape[]): Template;
    expr?(args: string[], inputs: Shape[], attrs: A, self?: string): string;
    /** Trait: how PyTorch's module initialises each weight by default (the exporter writes only what differs). */
    init?: Readonly<Record<string, InitSpec['kind']>>;
  };
}

/**
 * Everything netc knows about one operation. Passes read this table; none switches on op names,
 * so adding an operation is adding one file in `src/ops/` and listing it in `src/ops/index.ts`.
 */
export interface OpDef<N extends string = string, A extends Attrs = Attrs> extends OpMembers<A> {
  /** The name used in `.net` files (`conv`, `bn`, `maxpool`). Internal ops (add, concat) are not callable. */
  name: N;
  params: readonly ParamSpec[];
  /** Normalise user arguments (defaults applied) into attributes (pairs expanded). */
  attrs?(args: Record<string, Value>): A;
}

/** What `defineOp` takes: an OpDef whose `attrs` sees its params' types. */
export interface OpSpec<N extends string, P extends readonly ParamSpec[], A extends Attrs> extends OpMembers<A> {
  name: N;
  params: P;
  attrs?(args: ArgsOf<P>): A;
}

/** Declares an op: infers its literal name, its arguments' types from `params` and its attributes' types from `attrs`. */
export function defineOp<const N extends string, const P extends readonly ParamSpec[], A extends Attrs = NoAttrs>(spec: OpSpec<N, P, A>): OpDef<N, A> {
  return spec as unknown as OpDef<N, A>;
}

/**
 * Fills in every missing argument that has a default (in declaration order, so a default may read
 * earlier ones), in place, and returns `args`. In place: a copy per layer cost the elaboration of a
 * 100,000-layer net a third of its time.
 */
export function withDefaults(op: { params: readonly ParamSpec[] }, args: Record<string, Value>): Record<string, Value> {
  for (const spec of op.params) {
    if (args[spec.name] === undefined && spec.default !== undefined) {
      args[spec.name] = typeof spec.default === 'function' ? spec.default(args) : spec.default;
    }
  }
  return args;
}
