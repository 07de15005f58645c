/**
 * What the language server knows about one document: the compile result for its text (with open
 * buffers served instead of the disk) and an index of every name occurrence in each loaded file.
 */
import { compileSource, type CompileResult } from '../api.js';
import { type Definition, type LoadedFile, resolveUse } from '../bind/program.js';
import { summarize, type Summary } from '../check/summary.js';
import type { IRGraph, Shape, Span } from '../ir/types.js';
import { CALLABLE_OPS, type OpDef } from '../ops/index.js';
import { FUNCTION_NAMES } from '../bind/values.js';
import type { Arg, CallStage, Expr, LabelStage, ParamDecl, Range, Stage } from '../syntax/ast.js';

export type FileDefinition = Definition & { file: string };

/** A `def` (macro) use, inlined by the elaborator: the IR has no module for it, so the elaborator's `onExpand` reports it. */
export interface Expansion {
  span: Span;
  /** The macro's definition: items whose source lies in its body belong to this use. */
  body: Span;
  /** The `nodes` of the graph the use belongs to. */
  nodes: unknown[];
  /** Nodes `[first, end)` were created by this use. */
  first: number;
  end: number;
  /** The node whose value leaves the macro, and its shape. */
  output: number;
  shape: Shape | null;
}

/** What a name occurrence refers to. */
export type Target =
  | { kind: 'definition'; def: FileDefinition }
  | { kind: 'op'; op: OpDef; name: string }
  | { kind: 'param'; owner: FileDefinition; param: ParamDecl }
  | { kind: 'file'; path: string; target: string }
  | { kind: 'function'; name: string }
  /** A label (`layer1:`) names what it labels; it is not a definition (nothing refers to it). */
  | { kind: 'label'; stage: LabelStage };

export interface Occurrence {
  file: string;
  range: Range;
  target: Target;
  /** The declaration itself (a definition's or parameter's name). */
  declaration: boolean;
  /** For layer/block/macro uses: the whole call, whose range is the IR span of what it produced. */
  call?: CallStage;
  /** The label the call is the whole body of (`layer2: basic_stage(...)` is the module `layer2`). */
  label?: LabelStage;
  /** The definition whose body or header contains this occurrence. */
  owner?: FileDefinition;
}

export function sameTarget(a: Target, b: Target): boolean {
  if (a.kind === 'definition' && b.kind === 'definition') return a.def.file === b.def.file && a.def.nameRange.start === b.def.nameRange.start;
  if (a.kind === 'param' && b.kind === 'param') {
    return a.owner.file === b.owner.file && a.owner.nameRange.start === b.owner.nameRange.start && a.param.name === b.param.name;
  }
  if (a.kind === 'file' && b.kind === 'file') return a.path === b.path;
  if (a.kind === 'op' && b.kind === 'op') return a.op === b.op;
  if (a.kind === 'function' && b.kind === 'function') return a.name === b.name;
  return false;
}

/** Every name occurrence of a loaded file: declarations, uses of definitions, ops, parameters, imports. */
export function indexFile(file: LoadedFile): Occurrence[] {
  const out: Occurrence[] = [];
  const add = (o: Omit<Occurrence, 'file'>) => out.push({ file: file.path, ...o });
  for (const item of file.ast.items) {
    if (item.kind === 'use') {
      add({ range: item.targetRange, target: { kind: 'file', path: resolveUse(item.target, file.path), target: item.target }, declaration: false });
      continue;
    }
    const own = file.own.get(item.name);
    const owner: FileDefinition = own && own.nameRange.start === item.nameRange.start ? own : { ...item, file: file.path };
    add({ range: item.nameRange, target: { kind: 'definition', def: owner }, declaration: true, owner });
    const params = new Map(item.params.map((p) => [p.name, p]));
    const expr = (e: Expr | undefined): void => {
      if (!e) return;
      switch (e.kind) {
        case 'name': {
          const param = params.get(e.name);
          if (param) add({ range: e.range, target: { kind: 'param', owner, param }, declaration: false, owner });
          return;
        }
        case 'unary':
          return expr(e.operand);
        case 'binary':
          expr(e.left);
          expr(e.right);
          return;
        case 'conditional':
          expr(e.test);
          expr(e.then);
          expr(e.else);
          return;
        case 'apply':
          if (FUNCTION_NAMES.includes(e.name)) add({ range: e.nameRange, target: { kind: 'function', name: e.name }, declaration: false, owner });
          e.args.forEach(expr);
          return;
        default:
          return;
      }
    };
    for (const p of item.params) {
      add({ range: p.nameRange, target: { kind: 'param', owner, param: p }, declaration: true, owner });
      expr(p.default);
    }
    if (item.kind === 'net') item.input.forEach(expr);
    const args = (callee: Target | undefined, list: Arg[]) => {
      for (const a of list) {
        if (a.name && a.nameRange && callee?.kind === 'definition') {
          const param = callee.def.params.find((p) => p.name === a.name);
          if (param) add({ range: a.nameRange, target: { kind: 'param', owner: callee.def, param }, declaration: false, owner });
        }
        expr(a.value);
      }
    };
    const labelOf = new Map<CallStage, LabelStage>();
    walkCalls(
      item.body,
      (call) => {
        const param = call.args.length === 0 ? params.get(call.name) : undefined;
        const target = param ? { kind: 'param' as const, owner, param } : resolveName(call.name, file);
        if (target) add({ range: call.nameRange, target, declaration: false, call, label: labelOf.get(call), owner });
        args(target, call.args);
      },
      expr,
      (stage) => {
        add({ range: stage.labelRange, target: { kind: 'label', stage }, declaration: true, owner });
        if (stage.body.kind === 'call') labelOf.set(stage.body, stage);
      },
    );
  }
  return out;
}

const indexes = new WeakMap<LoadedFile, Occurrence[]>();

/** A loaded file's occurrences, indexed once per parse (analyses and the workspace scan share it). */
export function occurrencesOf(file: LoadedFile): Occurrence[] {
  let list = indexes.get(file);
  if (!list) indexes.set(file, (list = indexFile(file)));
  return list;
}

/** What a layer name means in a file: a visible definition, else a built-in op. */
export function resolveName(name: string, file: LoadedFile): Target | undefined {
  const def = file.visible.get(name);
  if (def) return { kind: 'definition', def };
  const op = CALLABLE_OPS.get(name);
  return op ? { kind: 'op', op, name } : undefined;
}

export function walkCalls(
  stage: Stage,
  onCall: (call: CallStage) => void,
  onExpr: (e: Expr) => void = () => {},
  onLabel: (stage: LabelStage) => void = () => {},
): void {
  const walk = (s: Stage) => walkCalls(s, onCall, onExpr, onLabel);
  switch (stage.kind) {
    case 'seq':
      stage.stages.forEach(walk);
      return;
    case 'label':
      onLabel(stage);
      walk(stage.body);
      return;
    case 'group':
      walk(stage.body);
      return;
    case 'branches':
      stage.branches.forEach(walk);
      return;
    case 'combine':
      walk(stage.left);
      walk(stage.right);
      return;
    case 'repeat':
      walk(stage.body);
      onExpr(stage.count);
      return;
    case 'call':
      onCall(stage);
      return;
    case 'error':
      return;
  }
}

/** The compile result of one document plus lazily built indexes over it. */
export class Analysis {
  private summaries = new Map<IRGraph, Summary>();

  constructor(
    readonly path: string,
    readonly text: string,
    readonly version: number,
    readonly result: CompileResult,
    readonly expansions: Expansion[],
  ) {}

  get entry(): LoadedFile {
    return this.result.program.entry;
  }

  /** Files this document's program read (itself, its imports, the prelude). */
  get files(): Map<string, LoadedFile> {
    return this.result.program.files;
  }

  occurrencesIn(path: string): Occurrence[] {
    const file = this.files.get(path);
    return file ? occurrencesOf(file) : [];
  }

  /** The innermost occurrence at `offset` (a cursor just after a name still counts). */
  occurrenceAt(offset: number): Occurrence | undefined {
    let best: Occurrence | undefined;
    for (const o of this.occurrencesIn(this.path)) {
      if (o.range.start <= offset && offset <= o.range.end && (!best || o.range.end - o.range.start < best.range.end - best.range.start)) best = o;
    }
    return best;
  }

  summary(graph: IRGraph): Summary {
    let s = this.summaries.get(graph);
    if (!s) this.summaries.set(graph, (s = summarize(graph)));
    return s;
  }
}

/** Compile a buffer; `readFile` serves the other open buffers. */
export function analyze(path: string, text: string, version: number, readFile: (path: string) => string | undefined): Analysis {
  const expansions: (Expansion & { net: string })[] = [];
  const result = compileSource(text, path, {
    readFile,
    onExpand: (e) =>
      expansions.push({
        net: e.net,
        span: e.call,
        body: { file: (e.def as FileDefinition).file, ...e.def.range },
        nodes: [],
        first: e.first,
        end: e.end,
        output: e.output,
        shape: e.shape,
      }),
  });
  for (const e of expansions) e.nodes = result.graphs.find((g) => g.net === e.net)?.nodes ?? [];
  return new Analysis(path, text, version, result, expansions);
}
