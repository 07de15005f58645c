/** The syntax tree of a `.net` file, as the parser builds it. Spans are UTF-16 offsets into the file's text. */

export interface Range {
  start: number;
  end: number;
}

export interface SourceFile {
  path: string;
  text: string;
  items: Item[];
}

export type Item = UseDecl | DefDecl | BlockDecl | NetDecl;

export interface UseDecl {
  kind: 'use';
  /** What was written between the quotes: `layers` (a stdlib module) or `./blocks.net` (a file). */
  target: string;
  targetRange: Range;
  range: Range;
}

export interface ParamDecl {
  name: string;
  nameRange: Range;
  default?: Expr;
}

interface Definition {
  name: string;
  nameRange: Range;
  params: ParamDecl[];
  body: Stage;
  /** Text of the `##` comment lines directly above the definition. */
  doc?: string;
  range: Range;
}

/** `def name(params) = stages`: a macro, inlined where it is used; no scope or summary row of its own. */
export interface DefDecl extends Definition {
  kind: 'def';
}

/** `block Name(params) stages`: a module with its own scope and summary row. */
export interface BlockDecl extends Definition {
  kind: 'block';
}

/** `net name(params) : [C, H, W] stages`: a whole network. */
export interface NetDecl extends Definition {
  kind: 'net';
  input: Expr[];
  inputRange: Range;
}

/** Anything that maps a tensor to a tensor. */
export type Stage = SeqStage | LabelStage | CallStage | GroupStage | BranchStage | CombineStage | RepeatStage | IfStage | ErrorStage;

export interface SeqStage {
  kind: 'seq';
  stages: Stage[];
  range: Range;
}

/** `name: stage` */
export interface LabelStage {
  kind: 'label';
  label: string;
  labelRange: Range;
  body: Stage;
  range: Range;
}

export interface Arg {
  name?: string;
  nameRange?: Range;
  value: Expr;
  range: Range;
}

/** `conv 64 k=3` or `Basic(64, stride=2)`: an op, macro, block, or (as a repetition count) a value. */
export interface CallStage {
  kind: 'call';
  name: string;
  nameRange: Range;
  args: Arg[];
  range: Range;
}

/** `< stages >` */
export interface GroupStage {
  kind: 'group';
  body: Stage;
  range: Range;
}

/** `[ a | b | c ]`: parallel branches concatenated on channels. */
export interface BranchStage {
  kind: 'branches';
  branches: Stage[];
  range: Range;
}

/** `a + b` (add), `a ++ b` (concat), `a * b` (channel-wise scale) — both sides read the same input. */
export interface CombineStage {
  kind: 'combine';
  op: '+' | '++' | '*';
  opRange: Range;
  left: Stage;
  right: Stage;
  range: Range;
}

/** `stage * n` */
export interface RepeatStage {
  kind: 'repeat';
  body: Stage;
  count: Expr;
  range: Range;
}

/**
 * `if (test) then [else otherwise]`: a stage chosen when the definition is instantiated. Without `else`, a false
 * test makes the stage absent: in a sequence the input passes through, as an operand of `+`/`++` it is left out.
 */
export interface IfStage {
  kind: 'if';
  test: Expr;
  then: Stage;
  else?: Stage;
  range: Range;
}

/** Where the parser recovered from a syntax error. */
export interface ErrorStage {
  kind: 'error';
  range: Range;
}

export type Expr =
  | { kind: 'number'; value: number; range: Range }
  | { kind: 'bool'; value: boolean; range: Range }
  | { kind: 'string'; value: string; range: Range }
  | { kind: 'name'; name: string; range: Range }
  | { kind: 'inShape'; field: string; fieldRange: Range; range: Range }
  | { kind: 'unary'; op: '-' | 'not'; operand: Expr; range: Range }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; opRange: Range; range: Range }
  | { kind: 'conditional'; test: Expr; then: Expr; else: Expr; range: Range }
  | { kind: 'apply'; name: string; nameRange: Range; args: Expr[]; range: Range }
  /** `(1, 7)`: per-axis values (height, width) for `k`, `stride`, `pad`, `dilation`. */
  | { kind: 'tuple'; items: Expr[]; range: Range }
  | { kind: 'error'; range: Range };

export type BinaryOp = '+' | '-' | '*' | '/' | '//' | '%' | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'and' | 'or';
