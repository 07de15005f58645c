import type { Code } from '../diagnostics/catalog.js';
import type { AttrValue, IRGraph, IRNode, ModuleInstance, Shape, Span } from '../ir/types.js';
import type { DiagnosticBag, RelatedSpan } from '../diagnostics/diagnostic.js';
import { CALLABLE_OPS, INPUT, mergeOp, shortcutProjection, withDefaults, type Op } from '../ops/index.js';
import type { Value } from '../ops/op.js';
import type { Arg, BlockDecl, CallStage, DefDecl, IfStage, NetDecl, Range, Stage } from '../syntax/ast.js';
import { checkType, closest, declFormals, matchArgs, opFormals, SHORTCUT_FORMALS } from './args.js';
import type { Definition, LoadedFile } from './program.js';
import { describeValue, type Env, EvalError, evaluate, Unknown } from './values.js';
import { MAX_ELABORATION_MS, MAX_ELABORATION_STEPS, MAX_LAYER_NAME_CHARS, MAX_LAYERS } from '../check/limits.js';

/** The value flowing through a network: the node that produced it and its shape (null: unknown after an error). */
interface Flow {
  node: number;
  shape: Shape | null;
}

/** Naming tree, resolved into hierarchical names once the whole net is built. */
interface NameScope {
  kind: 'root' | 'module' | 'sequential';
  children: NameChild[];
  module: number | null;
}

interface NameChild {
  label?: string;
  base: string;
  numbered: boolean;
  /** Functional ops (add, cat) are named but take no Sequential index. */
  internal: boolean;
  node?: number;
  scope?: NameScope;
}

interface Frame {
  file: LoadedFile;
  env: Env;
}

/**
 * The label `_`: a Sequential of its own, named by its position like an unlabelled layer (torchvision's
 * Conv2dNormActivation inside a block's `conv` Sequential: `conv.0.0`, `conv.0.1`, `conv.1.0`, ...).
 */
const POSITIONAL = '_';

export const MAX_REPEAT = 10_000;
export const MAX_NESTING = 64;
/** The layer cap (src/check/limits.ts holds every check budget). */
export const MAX_NODES = MAX_LAYERS;

/** One use of a `def` (macro): macros leave no module in the IR, so tools that map source to IR (the editor) hear of them here. */
export interface MacroExpansion {
  /** The net being elaborated (its IRGraph's `net`). */
  net: string;
  def: DefDecl & { file?: string };
  /** The call site. */
  call: Span;
  /** Nodes `first` .. `end - 1` came from this use. */
  first: number;
  end: number;
  output: number;
  shape: Shape | null;
}

export interface ElaborateOptions {
  args?: Record<string, Value>;
  input?: Shape;
  onExpand?: (expansion: MacroExpansion) => void;
}

class Limit extends Error {}

/** Whether a stage labels any of its own layers (not looking into the definitions it calls). */
function hasLabel(stage: Stage): boolean {
  switch (stage.kind) {
    case 'label':
      return true;
    case 'seq':
      return stage.stages.some(hasLabel);
    case 'group':
    case 'repeat':
      return hasLabel(stage.body);
    case 'branches':
      return stage.branches.some(hasLabel);
    case 'combine':
      return hasLabel(stage.left) || hasLabel(stage.right);
    case 'if':
      return hasLabel(stage.then) || (stage.else !== undefined && hasLabel(stage.else));
    default:
      return false;
  }
}

export class Elaborator {
  private nodes: IRNode[] = [];
  private modules: ModuleInstance[] = [];
  private scope: NameScope = { kind: 'root', children: [], module: null };
  private module: number | null = null;
  private instantiating: { def: Definition; span: Span; label: string }[] = [];

  constructor(private readonly diagnostics: DiagnosticBag) {}

  private onExpand: ElaborateOptions['onExpand'];
  private netName = '';

  net(file: LoadedFile, net: NetDecl, options: ElaborateOptions = {}): IRGraph | null {
    this.onExpand = options.onExpand;
    this.netName = net.name;
    const span = (r: Range): Span => ({ file: file.path, ...r });
    const values = new Map<string, Value>();
    const overrides = new Map(Object.entries(options.args ?? {}));
    for (const p of net.params) {
      if (overrides.has(p.name)) {
        const given = overrides.get(p.name)!;
        // `--set classes=abc`: blame the flag here, not the stdlib line that later uses `classes`.
        const fallback = p.default ? this.evaluate(p.default, { values, input: undefined }, file) : undefined;
        if (fallback !== undefined && typeof fallback !== typeof given) {
          this.diagnostics.error(
            'NET1003',
            `--set ${p.name}=${String(given)}: \`${p.name}\` of net \`${net.name}\` takes a ${typeof fallback}, not a ${typeof given}`,
            span(p.nameRange),
            {
              help: `its default is ${String(fallback)}; pass e.g. --set ${p.name}=${String(fallback)}`,
            },
          );
          return null;
        }
        values.set(p.name, given);
        overrides.delete(p.name);
        continue;
      }
      if (!p.default) {
        this.diagnostics.error('NET1009', `net \`${net.name}\` needs \`${p.name}\``, span(p.nameRange), {
          help: `give it a default (\`${p.name}=...\`) or pass \`--set ${p.name}=...\``,
        });
        return null;
      }
      const v = this.evaluate(p.default, { values, input: undefined }, file);
      if (v === undefined) return null;
      values.set(p.name, v);
    }
    for (const name of overrides.keys()) {
      this.diagnostics.error('NET1002', `net \`${net.name}\` has no parameter \`${name}\` (from --set)`, span(net.nameRange), {
        help: net.params.length ? `its parameters: ${net.params.map((p) => p.name).join(', ')}` : 'this net takes no parameters',
      });
      return null;
    }
    let input = options.input;
    if (!input) {
      const dims = net.input.map((e) => this.evaluate(e, { values, input: undefined }, file));
      if (dims.some((d) => d === undefined)) return null;
      const bad = dims.findIndex((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 1);
      if (bad >= 0 || (dims.length !== 1 && dims.length !== 3)) {
        this.diagnostics.error(
          'NET2007',
          bad >= 0 ? `input dimensions must be positive integers, got ${dims[bad]}` : `the input shape must be [C, H, W] or [F], got ${dims.length} dimensions`,
          span(net.inputRange),
        );
        return null;
      }
      input = dims as number[];
    }
    const inputNode = this.addNode(INPUT, {}, [], span(net.inputRange), input, false);
    this.nodes[inputNode]!.name = 'input';
    this.instantiating.push({ def: net, span: span(net.nameRange), label: '' });
    let output: Flow;
    try {
      output = this.stage(net.body, { node: inputNode, shape: input }, { file, env: { values, input } });
    } catch (e) {
      if (!(e instanceof Limit)) throw e;
      return null;
    }
    this.assignNames(this.scope, '');
    if (this.longName) {
      const node = this.nodes[this.longName]!;
      this.diagnostics.error(
        'NET1011',
        `the layer name \`${node.name}\` is ${node.name.length.toLocaleString('en-US')} characters long, over the limit of ${MAX_LAYER_NAME_CHARS.toLocaleString('en-US')}`,
        node.span,
        {
          help: 'use shorter labels, or fewer nested labelled blocks',
        },
      );
      return null;
    }
    return {
      net: net.name,
      args: Object.fromEntries(values) as Record<string, AttrValue>,
      input,
      nodes: this.nodes,
      modules: this.modules,
      output: output.node,
    };
  }

  // ---- stages ----

  private steps = 0;
  private readonly started = Date.now();

  /** The work budget: layers are capped in addNode; stages that build nothing (identity) are counted here. */
  private spend(frame: Frame, stage: Stage): void {
    this.steps++;
    const overSteps = this.steps > MAX_ELABORATION_STEPS;
    if (!overSteps && (this.steps & 4095) !== 0) return;
    if (overSteps || Date.now() - this.started > MAX_ELABORATION_MS) {
      this.diagnostics.error(
        'NET1011',
        overSteps
          ? `the network takes more than ${MAX_ELABORATION_STEPS.toLocaleString('en-US')} elaboration steps`
          : `elaborating the network took longer than ${MAX_ELABORATION_MS / 1000} s`,
        this.span(frame, stage.range),
        {
          help: 'lower the repetition counts that lead here',
        },
      );
      throw new Limit();
    }
  }

  private stage(stage: Stage, x: Flow, frame: Frame): Flow {
    this.spend(frame, stage);
    switch (stage.kind) {
      case 'seq':
        return stage.stages.reduce((flow, s) => this.stage(s, flow, frame), x);
      case 'group':
        return this.stage(stage.body, x, frame);
      case 'error':
        return { node: x.node, shape: null };
      case 'label':
        return this.labeled(stage.label, x, (y) => this.stage(stage.body, y, frame));
      case 'call':
        return this.call(stage, x, frame);
      case 'repeat': {
        const count = this.count(stage.count, frame);
        let flow = x;
        for (let i = 0; i < count; i++) flow = this.stage(stage.body, flow, frame);
        return count < 0 ? { node: x.node, shape: null } : flow;
      }
      case 'branches': {
        // A branch is the Sequential `branchN` (torchvision's GoogLeNet), unless labels inside it name its
        // layers directly (Inception-v3's branch1x1, branch5x5_1, ...: attributes of the block itself).
        const outs = stage.branches.map((b, i) => (hasLabel(b) ? this.stage(b, x, frame) : this.labeled(`branch${i + 1}`, x, (y) => this.stage(b, y, frame))));
        if (outs.length === 1) return outs[0]!;
        return this.merge(mergeOp('++'), outs, this.span(frame, stage.range));
      }
      case 'if': {
        const chosen = this.choose(stage, frame);
        return chosen === null ? x : chosen === 'error' ? { node: x.node, shape: null } : this.stage(chosen, x, frame);
      }
      case 'combine': {
        if (stage.op !== '*') {
          // `body + if (cond) identity`: an absent operand leaves the other one alone (torchvision's
          // "residual only when stride 1 and in == out").
          const [left, right] = [this.present(stage.left, frame), this.present(stage.right, frame)];
          if (left === 'error' || right === 'error') return { node: x.node, shape: null };
          if (left === null || right === null) return left === null && right === null ? x : this.stage((left ?? right)!, x, frame);
          if (left !== stage.left || right !== stage.right) return this.stage({ ...stage, left, right }, x, frame);
        }
        if (stage.op === '*' && this.isValueName(stage.right, frame)) {
          const count = this.count({ kind: 'name', name: (stage.right as CallStage).name, range: stage.right.range }, frame);
          let flow = x;
          for (let i = 0; i < count; i++) flow = this.stage(stage.left, flow, frame);
          return flow;
        }
        const isShortcut = (s: Stage) => s.kind === 'call' && s.name === 'shortcut' && !frame.file.visible.has('shortcut');
        if (stage.op === '+' && (isShortcut(stage.left) || isShortcut(stage.right))) {
          if (isShortcut(stage.left) && isShortcut(stage.right)) {
            this.report(frame, 'NET1010', '`shortcut + shortcut` has no body to follow', stage.range);
            return { node: x.node, shape: null };
          }
          const bodyFirst = isShortcut(stage.right);
          const body = this.stage(bodyFirst ? stage.left : stage.right, x, frame);
          const scStage = (bodyFirst ? stage.right : stage.left) as CallStage;
          const sc = this.shortcut(x, body, this.span(frame, scStage.range), this.shortcutName(scStage, frame));
          return this.merge(mergeOp('+'), bodyFirst ? [body, sc] : [sc, body], this.span(frame, stage.opRange));
        }
        const left = this.stage(stage.left, x, frame);
        const right = this.stage(stage.right, x, frame);
        return this.merge(mergeOp(stage.op), [left, right], this.span(frame, stage.opRange));
      }
    }
  }

  /** The branch an `if` stage takes here: a stage, null when it is absent (false, no `else`), 'error' when the test fails. */
  private choose(stage: IfStage, frame: Frame): Stage | null | 'error' {
    const v = this.evaluate(stage.test, frame.env, frame.file);
    if (v === undefined) return 'error';
    if (typeof v !== 'boolean') {
      this.report(frame, 'NET1003', `\`if\` needs a condition that is true or false, got ${describeValue(v)}`, stage.test.range, {
        help: 'compare something, e.g. `if (stride == 1 and in.c == c) ...`',
      });
      return 'error';
    }
    return v ? stage.then : (stage.else ?? null);
  }

  /** An operand of `+`/`++` with its `if` (possibly labelled or grouped) decided: null when absent. */
  private present(stage: Stage, frame: Frame): Stage | null | 'error' {
    if (stage.kind === 'if') {
      const chosen = this.choose(stage, frame);
      return chosen === null || chosen === 'error' ? chosen : this.present(chosen, frame);
    }
    if (stage.kind === 'label' || stage.kind === 'group') {
      const body = this.present(stage.body, frame);
      return body === null || body === 'error' ? body : body === stage.body ? stage : { ...stage, body };
    }
    return stage;
  }

  private isValueName(s: Stage, frame: Frame): boolean {
    return s.kind === 'call' && s.args.length === 0 && frame.env.values.has(s.name);
  }

  private count(expr: Parameters<typeof evaluate>[0], frame: Frame): number {
    const v = this.evaluate(expr, frame.env, frame.file);
    if (v === undefined) return -1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      this.report(
        frame,
        typeof v === 'number' ? 'NET1016' : 'NET1003',
        `a repetition count must be a non-negative integer, got ${JSON.stringify(v)}`,
        expr.range,
      );
      return -1;
    }
    if (v > MAX_REPEAT) {
      this.report(frame, 'NET1011', `repetition count ${v} is over the limit of ${MAX_REPEAT}`, expr.range);
      return -1;
    }
    return v;
  }

  /**
   * Elaborate `body` in a fresh Sequential scope. A single unlabelled child takes the label itself
   * (`fc: linear 10` is `fc`); a single labelled one stays inside (`fc: < 0: linear 10 >` is `fc.0`).
   */
  private labeled(label: string, x: Flow, body: (x: Flow) => Flow): Flow {
    const parent = this.scope;
    const parentModule = this.module;
    const inner: NameScope = { kind: 'sequential', children: [], module: null };
    const firstNode = this.nodes.length;
    const firstModule = this.modules.length;
    this.scope = inner;
    try {
      return body(x);
    } finally {
      this.scope = parent;
      const named = inner.children.filter((c) => !c.internal);
      if (inner.children.length === 1 && named.length === 1 && named[0]!.label === undefined) {
        // `_:` names by position, as if unlabelled.
        parent.children.push(label === POSITIONAL ? named[0]! : { ...named[0]!, label });
      } else if (inner.children.length > 0) {
        const id = this.modules.length;
        const last = this.nodes.length - 1;
        this.modules.push({
          id,
          name: label,
          type: 'Sequential',
          kind: 'sequential',
          parent: parentModule,
          span: this.nodes[firstNode]?.span ?? this.nodes[x.node]!.span,
          output: last,
          closesAfter: last,
        });
        for (let n = firstNode; n < this.nodes.length; n++) if (this.nodes[n]!.module === parentModule) this.nodes[n]!.module = id;
        for (let m = firstModule; m < id; m++) if (this.modules[m]!.parent === parentModule) this.modules[m]!.parent = id;
        inner.module = id;
        parent.children.push(
          label === POSITIONAL
            ? { base: POSITIONAL, numbered: false, internal: false, scope: inner }
            : { label, base: label, numbered: false, internal: false, scope: inner },
        );
      }
    }
  }

  /** The projection's module name: `downsample` (torchvision's), or `shortcut(name="...")`. */
  private shortcutName(call: CallStage, frame: Frame): string {
    const { matched, problems } = matchArgs('shortcut', SHORTCUT_FORMALS, call.args, call.range);
    for (const p of problems) this.report(frame, p.code, p.message, p.range, { help: p.help });
    const arg = matched.get('name');
    if (!arg) return 'downsample';
    const v = this.evaluate(arg.value, frame.env, frame.file);
    if (v === undefined) return 'downsample';
    if (typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) {
      this.report(
        frame,
        typeof v === 'string' ? 'NET1016' : 'NET1003',
        `\`shortcut\` name must be a string holding an identifier, got ${describeValue(v)}`,
        arg.value.range,
        {
          help: 'e.g. `shortcut(name="shortcut")` names the projection `shortcut.0` / `shortcut.1`',
        },
      );
      return 'downsample';
    }
    return v;
  }

  /** `shortcut`: the identity when shapes agree, else torchvision's 1x1 conv (no bias) + bn projection, named `name`. */
  private shortcut(x: Flow, body: Flow, span: Span, name = 'downsample'): Flow {
    const [from, to] = [x.shape, body.shape];
    if (!from || !to) return { node: x.node, shape: null };
    if (from.length === to.length && from.every((d, i) => d === to[i])) return x;
    if (from.length !== 3 || to.length !== 3) {
      this.reportSpan('NET2010', `shortcut cannot project [${from.join(', ')}] to [${to.join(', ')}]: only feature maps can be projected`, span);
      return { node: x.node, shape: null };
    }
    // The stride whose 1x1 conv maps the input's size onto the body's, by PyTorch's formula
    // floor((H - 1) / s) + 1 (7 -> 4 is stride 2, as a stride-2 body gives on odd sizes).
    const fits = (s: number) => Math.floor((from[1]! - 1) / s) + 1 === to[1] && Math.floor((from[2]! - 1) / s) + 1 === to[2];
    const guess = Math.max(1, Math.round(from[1]! / to[1]!));
    const stride = [guess, guess - 1, guess + 1].find((s) => s >= 1 && fits(s));
    if (stride === undefined) {
      this.reportSpan(
        'NET2010',
        `shortcut cannot project [${from.join(', ')}] to [${to.join(', ')}]: no 1x1 stride maps ${from[1]}x${from[2]} to ${to[1]}x${to[2]}`,
        span,
        {
          help: 'write the projection explicitly, e.g. `<body> + <conv1x1 c stride=2; bn>`, or change the body so height and width shrink by the same stride',
        },
      );
      return { node: x.node, shape: null };
    }
    return this.labeled(name, x, (y) => {
      for (const { op, args } of shortcutProjection(to[0]!, stride)) y = this.layer(op, args, y, span, new Map());
      return y;
    });
  }

  private merge(op: Op, inputs: Flow[], span: Span): Flow {
    const known = inputs.every((f) => f.shape);
    const shape = known
      ? this.infer(
          op,
          {},
          inputs.map((f) => f.shape!),
          span,
          new Map(),
        )
      : null;
    const node = this.addNode(
      op,
      {},
      inputs.map((f) => f.node),
      span,
      shape,
      true,
    );
    return { node, shape };
  }

  // ---- calls ----

  private call(call: CallStage, x: Flow, frame: Frame): Flow {
    const where = this.span(frame, call.range);
    if (call.name === 'shortcut' && !frame.file.visible.has('shortcut')) {
      this.report(frame, 'NET1010', '`shortcut` only makes sense as an operand of `+`', call.nameRange, {
        help: "write `<body> + shortcut` to add the (possibly projected) input to the body's output",
      });
      return { node: x.node, shape: null };
    }
    if (frame.env.values.has(call.name)) {
      this.report(frame, 'NET1015', `\`${call.name}\` is a value, not a layer`, call.nameRange, {
        help: `to repeat something \`${call.name}\` times write \`<...> * ${call.name}\``,
      });
      return { node: x.node, shape: null };
    }
    const def = frame.file.visible.get(call.name);
    if (def) {
      if (def.kind === 'net') {
        this.report(frame, 'NET1013', `\`${call.name}\` is a net; only blocks and defs can be used inside another definition`, call.nameRange, {
          help: `turn it into \`block ${call.name}\` and write a small net that uses it`,
        });
        return { node: x.node, shape: null };
      }
      return this.instantiate(def, call, x, frame, where);
    }
    const op = CALLABLE_OPS.get(call.name);
    if (!op) {
      const suggestion = closest(call.name, [...frame.file.visible.keys(), ...CALLABLE_OPS.keys()]);
      this.report(frame, 'NET1001', `unknown layer \`${call.name}\``, call.nameRange, {
        help: suggestion ? `did you mean \`${suggestion}\`?` : 'define it with `block` or `def`, or import it with `use`',
      });
      // Keep checking what follows as if the unknown layer kept the shape: most misspelt layers do.
      return x;
    }
    const { matched, problems } = matchArgs(call.name, opFormals(op.params), call.args, call.range);
    for (const p of problems) this.report(frame, p.code, p.message, p.range, { help: p.help });
    // A stray argument is ignored so checking goes on; a missing one leaves nothing to compute with.
    if (problems.some((p) => p.code === 'NET1009')) return this.poisoned(op, x, where);
    const args: Record<string, Value> = {};
    const argRanges = new Map<string, Span>();
    const env: Env = { ...frame.env, input: x.shape === null ? null : frame.env.input };
    for (const spec of op.params) {
      const arg = matched.get(spec.name);
      if (!arg) continue;
      argRanges.set(spec.name, this.span(frame, arg.range));
      const v = this.evaluate(arg.value, env, frame.file);
      if (v === undefined) return this.poisoned(op, x, where);
      try {
        args[spec.name] = checkType(call.name, spec, v, arg.value.range);
      } catch (e) {
        if (!(e instanceof EvalError)) throw e;
        this.report(frame, e.problem.code, e.problem.message, e.problem.range, { help: e.problem.help });
        return this.poisoned(op, x, where);
      }
    }
    return this.layer(op, withDefaults(op, args), x, where, argRanges);
  }

  private poisoned(op: Op, x: Flow, span: Span): Flow {
    if (op.elided) return { node: x.node, shape: null };
    const node = this.addNode(op, {}, [x.node], span, null, false);
    return { node, shape: null };
  }

  private layer(op: Op, args: Record<string, Value>, x: Flow, span: Span, argRanges: Map<string, Span>): Flow {
    const attrs = op.attrs ? op.attrs(args) : {};
    const shape = x.shape ? this.infer(op, attrs, [x.shape], span, argRanges) : null;
    if (op.elided) return { node: x.node, shape };
    const node = this.addNode(op, attrs, [x.node], span, shape, false);
    return { node, shape };
  }

  private instantiate(def: DefDecl | BlockDecl, call: CallStage, x: Flow, frame: Frame, where: Span): Flow {
    if (this.instantiating.some((i) => i.def === def)) {
      const chain = [...this.instantiating.map((i) => i.def.name), def.name].slice(this.instantiating.findIndex((i) => i.def === def));
      this.report(frame, 'NET1004', `\`${def.name}\` uses itself: ${chain.join(' -> ')}`, call.nameRange, {
        help: 'a block cannot contain itself; use repetition (`Block(...) * n`) instead',
      });
      return { node: x.node, shape: null };
    }
    if (this.instantiating.length > MAX_NESTING) {
      this.report(frame, 'NET1011', `definitions nest more than ${MAX_NESTING} deep`, call.nameRange);
      throw new Limit();
    }
    const { matched, problems } = matchArgs(def.name, declFormals(def.params), call.args, call.range);
    for (const p of problems) this.report(frame, p.code, p.message, p.range, { help: p.help });
    if (problems.length) return { node: x.node, shape: null };
    const defFile = this.fileOf(def, frame);
    const values = new Map<string, Value>();
    const callerEnv: Env = { ...frame.env, input: x.shape === null ? null : frame.env.input };
    for (const p of def.params) {
      const arg: Arg | undefined = matched.get(p.name);
      const v = arg ? this.evaluate(arg.value, callerEnv, frame.file) : this.evaluate(p.default!, { values, input: x.shape }, defFile);
      if (v === undefined) return { node: x.node, shape: null };
      values.set(p.name, v);
    }
    const inner: Frame = { file: defFile, env: { values, input: x.shape } };
    const label = `in ${def.kind === 'block' ? 'this instance of' : 'this use of'} \`${def.name}\``;
    this.instantiating.push({ def, span: where, label });
    try {
      if (def.kind === 'def') {
        const first = this.nodes.length;
        const out = this.stage(def.body, x, inner);
        this.onExpand?.({ net: this.netName, def, call: where, first, end: this.nodes.length, output: out.node, shape: out.shape });
        return out;
      }
      return this.block(def, x, inner, where);
    } finally {
      this.instantiating.pop();
    }
  }

  private block(def: BlockDecl, x: Flow, frame: Frame, where: Span): Flow {
    const id = this.modules.length;
    this.modules.push({ id, name: '', type: def.name, kind: 'block', parent: this.module, span: where, output: x.node, closesAfter: x.node });
    const scope: NameScope = { kind: 'module', children: [], module: id };
    this.scope.children.push({ base: def.name.toLowerCase(), numbered: false, internal: false, scope });
    const [savedScope, savedModule] = [this.scope, this.module];
    [this.scope, this.module] = [scope, id];
    try {
      const out = this.stage(def.body, x, frame);
      this.modules[id]!.output = out.node;
      this.modules[id]!.closesAfter = this.nodes.length - 1;
      return out;
    } finally {
      [this.scope, this.module] = [savedScope, savedModule];
    }
  }

  private fileOf(def: Definition, frame: Frame): LoadedFile {
    const owner = (def as Definition & { file?: string }).file;
    return owner && owner !== frame.file.path ? (this.files(owner) ?? frame.file) : frame.file;
  }

  /** Set by the driver: how to find a loaded file by path. */
  files: (path: string) => LoadedFile | undefined = () => undefined;

  // ---- nodes, shapes, names ----

  private infer(op: Op, attrs: Record<string, AttrValue>, inputs: Shape[], span: Span, argRanges: Map<string, Span>): Shape | null {
    const report =
      (severity: 'error' | 'warning') =>
      (code: Code, message: string, opts: { at?: string; help?: string; notes?: string[] } = {}) => {
        const at = opts.at ? argRanges.get(opts.at) : undefined;
        this.diagnostics.add({
          code,
          severity,
          message,
          span: at ?? span,
          help: opts.help,
          notes: opts.notes ?? [],
          related: this.context(),
        });
      };
    const shape = op.infer(attrs, inputs, { error: report('error'), warning: report('warning') });
    if (shape?.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      report('error')('NET2004', `${op.name} would produce the shape [${shape.join(', ')}]`);
      return null;
    }
    return shape;
  }

  private addNode(op: Op, attrs: Record<string, AttrValue>, inputs: number[], span: Span, shape: Shape | null, internal: boolean): number {
    if (this.nodes.length >= MAX_NODES) {
      this.diagnostics.error('NET1011', `the network has more than ${MAX_NODES.toLocaleString('en-US')} layers`, span, {
        help: 'lower the repetition counts that lead here',
      });
      throw new Limit();
    }
    const id = this.nodes.length;
    const inputShapes = inputs.map((i) => this.nodes[i]?.shape ?? null);
    const known = shape !== null && inputShapes.every((s) => s !== null);
    const weights = known && op.weights ? op.weights(attrs, inputShapes as Shape[], shape!) : [];
    const macs = known && op.macs ? op.macs(attrs, inputShapes as Shape[], shape!) : 0;
    const upstream = inputs.map((i) => this.nodes[i]!).filter(Boolean);
    let receptiveField = upstream.length ? upstream.reduce((m, n) => Math.max(m, n.receptiveField), 0) : 1;
    let jump = upstream.length ? upstream.reduce((m, n) => Math.max(m, n.jump), 0) : 1;
    if (known && op.window) {
      const w = op.window(attrs, inputShapes as Shape[]);
      receptiveField += (w.kernel - 1) * w.dilation * jump;
      jump *= w.stride;
    }
    this.nodes.push({ id, op: op.name, name: '', attrs, inputs, shape, span, module: this.module, weights, macs, receptiveField, jump });
    if (!op.graphInput) {
      this.scope.children.push({ base: op.nameBase, numbered: op.numbered ?? false, internal, node: id });
    }
    return id;
  }

  /** The first node whose hierarchical name is over MAX_LAYER_NAME_CHARS. */
  private longName: number | undefined;

  private assignNames(scope: NameScope, prefix: string): void {
    const counts = new Map<string, number>();
    for (const c of scope.children) if (!c.label) counts.set(c.base, (counts.get(c.base) ?? 0) + 1);
    const seen = new Map<string, number>();
    let index = 0;
    for (const child of scope.children) {
      const k = (seen.get(child.base) ?? 0) + 1;
      if (!child.label) seen.set(child.base, k);
      let name: string;
      if (child.label) name = child.label;
      else if (child.internal) name = counts.get(child.base)! > 1 ? `${child.base}${k}` : child.base;
      else if (scope.kind === 'sequential' || child.base === POSITIONAL) name = String(index);
      else name = child.numbered || counts.get(child.base)! > 1 ? `${child.base}${k}` : child.base;
      if (!child.internal) index++;
      const full = prefix ? `${prefix}.${name}` : name;
      if (child.node !== undefined) this.nodes[child.node]!.name = full;
      if (child.node !== undefined && full.length > MAX_LAYER_NAME_CHARS) this.longName ??= child.node;
      if (child.scope) {
        if (child.scope.module !== null) this.modules[child.scope.module]!.name = full;
        this.assignNames(child.scope, full);
      }
    }
  }

  // ---- diagnostics ----

  private span(frame: Frame, range: Range): Span {
    return { file: frame.file.path, ...range };
  }

  /** Where the current definition was instantiated, innermost first (shown as related spans). */
  private context(): RelatedSpan[] {
    return this.instantiating
      .slice(1)
      .reverse()
      .map((i) => ({ span: i.span, label: i.label }));
  }

  private report(frame: Frame, code: Code, message: string, range: Range, extra: { help?: string } = {}): void {
    this.reportSpan(code, message, this.span(frame, range), extra);
  }

  private reportSpan(code: Code, message: string, span: Span, extra: { help?: string } = {}): void {
    this.diagnostics.add({ code, severity: 'error', message, span, help: extra.help, related: this.context() });
  }

  private evaluate(expr: Parameters<typeof evaluate>[0], env: Env, file: LoadedFile): Value | undefined {
    try {
      return evaluate(expr, env);
    } catch (e) {
      if (e instanceof Unknown) return undefined;
      if (!(e instanceof EvalError)) throw e;
      this.diagnostics.add({
        code: e.problem.code,
        severity: 'error',
        message: e.problem.message,
        span: { file: file.path, ...e.problem.range },
        help: e.problem.help,
        related: this.context(),
      });
      return undefined;
    }
  }
}
