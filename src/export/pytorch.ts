/**
 * IR -> a readable PyTorch module (`netc export NET --to pytorch`).
 *
 * The generated file has one `nn.Module` class per block (parametrised by what differs between the
 * block's instances), one class for the net, and `nn.Sequential` for sequential scopes that are plain
 * chains. Submodule attribute names are the IR's hierarchical names, so `state_dict()` keys are the
 * IR's weight names (torchvision's, for the stdlib networks that mirror torchvision).
 *
 * How classes are found: every block instance is rendered as a template whose numbers are slots.
 * Instances with the same block type and the same template (numbers aside) share a class; a slot
 * that differs between them becomes a constructor argument (slots that always agree become one
 * argument), a slot that never differs stays a literal.
 */
import type { IRGraph, IRNode, ModuleInstance, Shape } from '../ir/types.js';
import { isGraphInput, opOf } from '../ops/index.js';
import { weightCount } from '../ir/size.js';
import { pyNumber, type Template } from './template.js';
import { UserError } from '../diagnostics/user-error.js';
export { pyNumber } from './template.js';

/** The IR cannot be written as PyTorch modules (e.g. a block with two inputs). */
export class ExportError extends UserError {}

// ---------------------------------------------------------------------------------------------
// Python names.

const PY_KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else except finally for from global if ' +
    'import in is lambda nonlocal not or pass raise return try while with yield'
  ).split(' '),
);
/** nn.Module members a submodule may not shadow. */
const MODULE_MEMBERS = new Set(
  (
    'training forward modules children parameters buffers named_modules named_children named_parameters named_buffers ' +
    'state_dict load_state_dict add_module register_buffer register_parameter register_module apply cuda cpu to type float double half train eval ' +
    'zero_grad requires_grad_ get_submodule get_parameter get_buffer extra_repr dump_patches T_destination call_super_init'
  ).split(' '),
);

const isIdentifier = (s: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) && !PY_KEYWORDS.has(s);

function varName(s: string): string {
  let v = s.replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(v)) v = `x${v}`;
  return PY_KEYWORDS.has(v) ? `${v}_` : v;
}

function pascal(s: string): string {
  const v = s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
  return /^[A-Za-z_]/.test(v) ? v : `Net${v}`;
}

// ---------------------------------------------------------------------------------------------
// The module tree.

/** One statement of a module's forward: a layer node, a merge node or a child module. */
interface Item {
  kind: 'node' | 'module';
  id: number;
  /** Attribute name in the parent module (null for merges, which are functional). */
  attr: string | null;
  /** Values (node ids) read. */
  inputs: number[];
  /** Value (node id) produced. */
  output: number;
  first: number;
}

interface Scope {
  /** null for the net itself. */
  module: ModuleInstance | null;
  name: string;
  items: Item[];
  input: number;
  output: number;
  depth: number;
}

class Tree {
  readonly scopes = new Map<number | null, Scope>();
  /** Node ids inside each module, nested modules included. */
  readonly subtree = new Map<number, Set<number>>();

  constructor(readonly graph: IRGraph) {
    const { nodes, modules } = graph;
    const depthOf = (m: ModuleInstance): number => (m.parent === null ? 1 : depthOf(modules[m.parent]!) + 1);
    for (const m of modules) this.subtree.set(m.id, new Set());
    for (const n of nodes) {
      for (let m = n.module; m !== null; m = modules[m]!.parent) this.subtree.get(m)!.add(n.id);
    }
    const inputNode = nodes.find(isGraphInput);
    if (!inputNode) throw new ExportError('the graph has no input node');
    this.scopes.set(null, { module: null, name: '', items: [], input: inputNode.id, output: graph.output, depth: 0 });
    for (const m of modules) {
      const inside = this.subtree.get(m.id)!;
      if (inside.size === 0) continue;
      const external = new Set<number>();
      for (const id of inside) for (const i of nodes[id]!.inputs) if (!inside.has(i)) external.add(i);
      if (external.size !== 1) {
        throw new ExportError(`${m.type} \`${m.name}\` reads ${external.size} values from outside it; a PyTorch module call takes one input`);
      }
      this.scopes.set(m.id, { module: m, name: m.name, items: [], input: [...external][0]!, output: m.output, depth: depthOf(m) });
    }
    for (const n of nodes) {
      if (isGraphInput(n)) continue;
      const scope = this.scopes.get(n.module)!;
      const isLayer = opOf(n).torchType(n.attrs, this.inputShapes(n)) !== null;
      scope.items.push({ kind: 'node', id: n.id, attr: isLayer ? this.localName(n.name, scope) : null, inputs: n.inputs, output: n.id, first: n.id });
    }
    for (const m of modules) {
      const scope = this.scopes.get(m.id);
      if (!scope) continue;
      const parent = this.scopes.get(m.parent)!;
      const first = Math.min(...this.subtree.get(m.id)!);
      parent.items.push({ kind: 'module', id: m.id, attr: this.localName(m.name, parent), inputs: [scope.input], output: m.output, first });
    }
    for (const scope of this.scopes.values()) {
      scope.items.sort((a, b) => a.first - b.first);
      this.checkScope(scope);
    }
  }

  inputShapes(n: IRNode): Shape[] {
    return n.inputs.map((i) => {
      const s = this.graph.nodes[i]!.shape;
      if (!s) throw new ExportError(`\`${this.graph.nodes[i]!.name}\` has no shape (the checker reported errors)`);
      return s;
    });
  }

  private localName(full: string, scope: Scope): string {
    const prefix = scope.name ? `${scope.name}.` : '';
    if (!full.startsWith(prefix) || full.length === prefix.length) {
      throw new ExportError(`\`${full}\` is not named inside its module \`${scope.name}\``);
    }
    const local = full.slice(prefix.length);
    if (local.includes('.')) throw new ExportError(`\`${full}\`: \`${local}\` names a submodule that \`${scope.name || this.graph.net}\` does not have`);
    return local;
  }

  /** Every value read is the scope's input or made by an earlier item; attribute names are unique. */
  private checkScope(scope: Scope): void {
    const made = new Set<number>([scope.input]);
    const attrs = new Map<string, Item>();
    for (const item of scope.items) {
      for (const i of item.inputs) {
        if (!made.has(i))
          throw new ExportError(`\`${this.graph.nodes[i]!.name}\` is read inside \`${scope.name || this.graph.net}\` but is not an output of one of its parts`);
      }
      made.add(item.output);
      if (item.attr === null) continue;
      const clash = attrs.get(item.attr);
      if (clash) {
        if (this.hasState(item) && this.hasState(clash))
          throw new ExportError(`two submodules of \`${scope.name || this.graph.net}\` are named \`${item.attr}\``);
        let k = 2;
        while (attrs.has(`${item.attr}_${k}`)) k++;
        item.attr = `${item.attr}_${k}`;
      }
      if (MODULE_MEMBERS.has(item.attr)) throw new ExportError(`\`${item.attr}\` cannot name a submodule: nn.Module has a member of that name`);
      attrs.set(item.attr, item);
    }
    if (!made.has(scope.output)) throw new ExportError(`the output of \`${scope.name}\` is not computed inside it`);
  }

  private hasState(item: Item): boolean {
    if (item.kind === 'node') return this.graph.nodes[item.id]!.weights.length > 0;
    return [...this.subtree.get(item.id)!].some((id) => this.graph.nodes[id]!.weights.length > 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering of one scope.

interface Body {
  init: Template[];
  /** The attribute each init line assigns. */
  attrs: string[];
  forward: string[];
}

interface Instance {
  scope: Scope;
  key: number;
  /** All numbers of the template, children's included, depth first. */
  values: number[];
  body: Body;
}

class PytorchWriter {
  private readonly tree: Tree;
  private readonly instances = new Map<number | null, Instance>();
  /** Skeleton text -> class index (in order of discovery: children before parents). */
  private readonly keys = new Map<string, number>();
  private readonly classes: { type: string; instances: Instance[]; name: string; params: Param[] }[] = [];

  constructor(private readonly graph: IRGraph) {
    this.tree = new Tree(graph);
  }

  /** A scope that is a plain chain of modules becomes an inline `nn.Sequential`. */
  private isChain(scope: Scope): boolean {
    if (scope.module?.kind !== 'sequential' || scope.items.length === 0) return false;
    let value = scope.input;
    for (const item of scope.items) {
      if (item.attr === null || item.inputs.length !== 1 || item.inputs[0] !== value) return false;
      if (item.kind === 'node' && (this.needsFlatten(this.graph.nodes[item.id]!) || this.usedByExpr(this.graph.nodes[item.id]!))) return false;
      value = item.output;
    }
    return value === scope.output;
  }

  /** A linear on a [C, 1, 1] map flattens implicitly (one that maps every position keeps its rank). */
  private needsFlatten(node: IRNode): boolean {
    return opOf(node).fullyConnected === true && this.tree.inputShapes(node)[0]!.length === 3 && node.shape?.length === 1;
  }

  /** An attribute used through an expression (`self.layer_scale * x`), which an nn.Sequential cannot hold. */
  private usedByExpr(node: IRNode): boolean {
    const py = opOf(node).pytorch;
    return Boolean(py?.module && py.expr);
  }

  private ctorOf(item: Item): Template {
    if (item.kind === 'node') {
      const node = this.graph.nodes[item.id]!;
      const inputs = this.tree.inputShapes(node);
      const module = opOf(node).pytorch?.module;
      if (!module) throw new ExportError(`no PyTorch module for \`${node.op}\` (\`${node.name}\`)`);
      return module(node, inputs);
    }
    const scope = this.tree.scopes.get(item.id)!;
    if (!this.isChain(scope)) return [{ kind: 'child', module: item.id }];
    const positional = scope.items.every((it, i) => it.attr === String(i));
    const out: Template = [positional ? 'nn.Sequential(' : 'nn.Sequential(OrderedDict(['];
    for (const child of scope.items) {
      out.push('\n    ');
      if (!positional) out.push(`(${JSON.stringify(child.attr)}, `);
      out.push(...indent(this.ctorOf(child), '    '));
      out.push(positional ? ',' : '),');
    }
    out.push(positional ? '\n)' : '\n]))');
    return out;
  }

  private bodyOf(scope: Scope): Body {
    const init: Template[] = [];
    const attrs: string[] = [];
    for (const item of scope.items) {
      if (item.attr === null) continue;
      const ctor = this.ctorOf(item);
      attrs.push(item.attr);
      init.push(isIdentifier(item.attr) ? [`self.${item.attr} = `, ...ctor] : [`self.add_module(${JSON.stringify(item.attr)}, `, ...ctor, ')']);
    }
    return { init, attrs, forward: this.forwardOf(scope) };
  }

  private forwardOf(scope: Scope): string[] {
    const { nodes } = this.graph;
    const consumers = new Map<number, number[]>();
    scope.items.forEach((item, i) => {
      for (const v of item.inputs) consumers.set(v, [...(consumers.get(v) ?? []), i]);
    });
    consumers.set(scope.output, [...(consumers.get(scope.output) ?? []), scope.items.length]);
    const names = new Map<number, string>([[scope.input, 'x']]);
    const live = new Set<string>(['x']);
    const lines: string[] = [];
    scope.items.forEach((item, i) => {
      const args = item.inputs.map((v) => names.get(v)!);
      let expr: string;
      const call = (a: string) => (isIdentifier(item.attr!) ? `self.${item.attr}(${a})` : `self._modules[${JSON.stringify(item.attr)}](${a})`);
      if (item.kind === 'module') expr = call(args[0]!);
      else {
        const node = nodes[item.id]!;
        if (item.attr !== null && this.usedByExpr(node)) {
          const self = isIdentifier(item.attr) ? `self.${item.attr}` : `getattr(self, ${JSON.stringify(item.attr)})`;
          expr = opOf(node).pytorch!.expr!(args, this.tree.inputShapes(node), node.attrs, self);
        } else if (item.attr !== null) expr = call(this.needsFlatten(node) ? `torch.flatten(${args[0]}, 1)` : args[0]!);
        else {
          const functional = opOf(node).pytorch?.expr;
          if (!functional) throw new ExportError(`no PyTorch code for \`${node.op}\` (\`${node.name}\`)`);
          expr = functional(args, this.tree.inputShapes(node), node.attrs);
        }
      }
      // Values read for the last time free their names.
      for (const v of item.inputs) {
        const uses = consumers.get(v)!;
        if (uses[uses.length - 1] === i) live.delete(names.get(v)!);
      }
      const firstIn = item.inputs[0];
      const firstUses = firstIn === undefined ? [] : consumers.get(firstIn)!;
      let name: string;
      const isMerge = item.attr === null;
      if (!isMerge && firstIn !== undefined && firstUses.length === 1 && !live.has(names.get(firstIn)!)) name = names.get(firstIn)!;
      else {
        const uses = consumers.get(item.output) ?? [];
        const intoMerge = uses.length === 1 && uses[0]! < scope.items.length && scope.items[uses[0]!]!.attr === null;
        let base = intoMerge && item.attr ? varName(item.attr) : 'out';
        if (base === 'self' || base === 'torch' || base === 'nn') base = `${base}_`;
        name = base;
        for (let k = 2; live.has(name); k++) name = `${base}${k}`;
      }
      names.set(item.output, name);
      live.add(name);
      lines.push(`${name} = ${expr}`);
    });
    lines.push(`return ${names.get(scope.output)}`);
    return lines;
  }

  /** `x * gate`, the gate broadcast over height and width when it is flat. */
  /** Build the instance of every scope that becomes a class, deepest first. */
  private collect(): void {
    const scopes = [...this.tree.scopes.values()].sort((a, b) => b.depth - a.depth);
    for (const scope of scopes) {
      if (scope.module && this.isChain(scope)) continue;
      const body = this.bodyOf(scope);
      const values: number[] = [];
      const parts: string[] = [];
      const walk = (t: Template) => {
        for (const p of t) {
          if (typeof p === 'string') parts.push(p);
          else if (p.kind === 'slot') {
            values.push(p.value);
            parts.push('\u00a7');
          } else {
            const child = this.instances.get(p.module)!;
            values.push(...child.values);
            parts.push(`\u00a7class${child.key}`);
          }
        }
      };
      for (const t of body.init) walk(t);
      const type =
        scope.module === null
          ? `\u0000net`
          : scope.module.kind === 'block'
            ? scope.module.type
            : pascal(scope.module.name.split('.').pop()!.replace(/^\d+$/, 'Stage'));
      const skeleton = `${type}\n${parts.join('')}\n${body.forward.join('\n')}`;
      let key = this.keys.get(skeleton);
      if (key === undefined) {
        key = this.classes.length;
        this.keys.set(skeleton, key);
        this.classes.push({ type, instances: [], name: '', params: [] });
      }
      const instance: Instance = { scope, key, values, body };
      this.instances.set(scope.module?.id ?? null, instance);
      this.classes[key]!.instances.push(instance);
    }
  }

  render(header: string): string {
    this.collect();
    const netClass = pascal(this.graph.net);
    const used = new Set<string>([netClass, 'nn', 'torch', 'torchvision', 'OrderedDict', 'build']);
    const counts = new Map<string, number>();
    for (const cls of this.classes) {
      if (cls.type === '\u0000net') {
        cls.name = netClass;
        continue;
      }
      const base = isIdentifier(cls.type) ? cls.type : pascal(cls.type);
      let name = base;
      for (let k = Math.max(2, (counts.get(base) ?? 0) + 1); used.has(name); k++) {
        name = `${base}_${k}`;
        counts.set(base, k);
      }
      used.add(name);
      cls.name = name;
    }
    const classes = this.classes.map((cls) => this.renderClass(cls).join('\n'));
    const imports = classes.some((c) => c.includes('OrderedDict([')) ? ['from collections import OrderedDict', ''] : [];
    // torchvision only where an op's module lives there (StochasticDepth).
    const vision = classes.some((c) => c.includes('torchvision.')) ? ['import torchvision'] : [];
    return [header, '', ...imports, 'import torch', ...vision, 'from torch import nn', '', '', classes.join('\n\n\n')].join('\n');
  }

  private renderClass(cls: { type: string; instances: Instance[]; name: string; params: Param[] }): string[] {
    const first = cls.instances[0]!;
    // Effective slots of this class: its own numbers plus, for each child class call, that class's arguments.
    const effective: { pos: number; role: string; attr: string }[] = [];
    const calls: { at: number; args: number[] }[] = [];
    let pos = 0;
    const scan = (t: Template, attr: string) => {
      for (const p of t) {
        if (typeof p === 'string') continue;
        if (p.kind === 'slot') {
          effective.push({ pos, role: p.role, attr });
          pos += 1;
        } else {
          const child = this.instances.get(p.module)!;
          const childClass = this.classes[child.key]!;
          const args = childClass.params.map((param) => {
            effective.push({ pos: pos + param.pos, role: param.name, attr });
            return pos + param.pos;
          });
          calls.push({ at: pos, args });
          pos += child.values.length;
        }
      }
    };
    first.body.init.forEach((t, i) => scan(t, first.body.attrs[i]!));
    // Varying positions become parameters; positions with equal values in every instance share one.
    const params: Param[] = [];
    const argOf = new Map<number, Param>();
    const usedNames = new Set<string>(['self', 'x']);
    for (const e of effective) {
      const column = cls.instances.map((inst) => inst.values[e.pos]!);
      if (column.every((v) => v === column[0])) continue;
      const same = params.find((p) => cls.instances.every((inst) => inst.values[p.pos] === inst.values[e.pos]));
      if (same) {
        argOf.set(e.pos, same);
        continue;
      }
      const role = varName(e.role.replace(/_\d+$/, ''));
      const base = usedNames.has(role) ? varName(`${e.attr}_${role}`) : role;
      let name = base;
      for (let k = 2; usedNames.has(name); k++) name = `${base}_${k}`;
      usedNames.add(name);
      const param: Param = { name, pos: e.pos };
      params.push(param);
      argOf.set(e.pos, param);
    }
    cls.params = params;
    const lit = (p: number) => argOf.get(p)?.name ?? pyNumber(first.values[p]!);
    // Render the init lines with first's values, parameters substituted.
    const lines: string[] = [];
    pos = 0;
    let callIndex = 0;
    for (const t of first.body.init) {
      let text = '';
      for (const p of t) {
        if (typeof p === 'string') text += p;
        else if (p.kind === 'slot') {
          text += lit(pos);
          pos += 1;
        } else {
          const child = this.instances.get(p.module)!;
          const call = calls[callIndex++]!;
          text += `${this.classes[child.key]!.name}(${call.args.map(lit).join(', ')})`;
          pos += child.values.length;
        }
      }
      lines.push(...text.split('\n').map((l) => `        ${l}`));
    }
    const scope = first.scope;
    const isNet = scope.module === null;
    const doc = isNet
      ? `The net \`${this.graph.net}\`: input [${this.graph.input.join(', ')}] per sample.`
      : cls.instances.length === 1
        ? `\`${scope.module!.type}\` (${scope.module!.kind}) at ${scope.module!.name}.`
        : `\`${scope.module!.type}\` (${scope.module!.kind}), ${cls.instances.length} instances: ${listed(cls.instances.map((i) => i.scope.module!.name))}.`;
    const result = [
      `class ${cls.name}(nn.Module):`,
      `    """${doc}"""`,
      '',
      `    def __init__(${['self', ...params.map((p) => p.name)].join(', ')}):`,
      '        super().__init__()',
      ...lines,
    ];
    if (isNet) result.push(...this.initCode());
    result.push('', '    def forward(self, x):', ...first.body.forward.map((l) => `        ${l}`));
    return result;
  }

  /** Initialisation that differs from PyTorch's defaults (netc: Kaiming normal, fan_out, for convs). */
  private initCode(): string[] {
    const byType = new Map<string, { kaiming: string[]; other: string[] }>();
    for (const n of this.graph.nodes) {
      if (n.weights.length === 0) continue;
      const op = opOf(n);
      const cls = op.torchType(n.attrs, this.tree.inputShapes(n))!;
      const entry = byType.get(cls) ?? { kaiming: [], other: [] };
      byType.set(cls, entry);
      const w = n.weights.find((x) => x.name === 'weight');
      (w?.init.kind === 'kaimingNormalFanOut' ? entry.kaiming : entry.other).push(n.name);
      for (const x of n.weights) {
        const expected = op.pytorch?.init?.[x.name];
        if (x.init.kind !== expected && !(x.name === 'weight' && x.init.kind === 'kaimingNormalFanOut')) {
          throw new ExportError(`\`${n.name}.${x.name}\`: initialisation ${x.init.kind} has no PyTorch counterpart in the exporter yet`);
        }
      }
    }
    const lines: string[] = [];
    const kaiming = "mode='fan_out', nonlinearity='relu'";
    const allOf: string[] = [];
    const some: string[] = [];
    for (const [cls, e] of byType) {
      if (e.kaiming.length === 0) continue;
      if (e.other.length === 0) allOf.push(`nn.${cls}`);
      else some.push(...e.kaiming);
    }
    if (allOf.length || some.length)
      lines.push("        # netc initialises these weights with Kaiming normal (fan_out, relu); the rest keep PyTorch's defaults");
    if (allOf.length) {
      lines.push(
        '        for m in self.modules():',
        `            if isinstance(m, ${allOf.length === 1 ? allOf[0] : `(${allOf.join(', ')})`}):`,
        `                nn.init.kaiming_normal_(m.weight, ${kaiming})`,
      );
    }
    for (const name of some) lines.push(`        nn.init.kaiming_normal_(self.get_submodule(${JSON.stringify(name)}).weight, ${kaiming})`);
    return lines;
  }
}

interface Param {
  name: string;
  pos: number;
}

function listed(names: string[], max = 4): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')}, ... (${names.length - max} more)`;
}

function indent(t: Template, by: string): Template {
  return t.map((p) => (typeof p === 'string' ? p.replace(/\n/g, `\n${by}`) : p));
}

export interface PytorchOptions {
  /** The .net file, for the header. */
  source?: string;
  /** Python code defining `load_netc_weights` (see weights.ts); `__main__` then loads the trained weights. */
  weightsLoader?: string;
}

/** The whole Python file for one net. */
export function exportPytorch(graph: IRGraph, options: PytorchOptions = {}): string {
  const writer = new PytorchWriter(graph);
  const params = graph.nodes.reduce((sum, n) => sum + weightCount(n), 0);
  const args = Object.entries(graph.args)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
  const netClass = pascal(graph.net);
  const header = [
    `"""${graph.net}${args ? `(${args})` : ''}: generated by \`netc export --to pytorch\`${options.source ? ` from ${options.source}` : ''}.`,
    '',
    `Input: [N, ${graph.input.join(', ')}]. Parameters: ${params.toLocaleString('en-US')}.`,
    "Submodule names are netc's hierarchical names, so state_dict() keys match netc's weight names.",
    '"""',
  ].join('\n');
  const body = writer.render(header);
  const footer = [
    ...(options.weightsLoader ? [options.weightsLoader.replace(/\n+$/, '')] : []),
    '',
    '',
    '',
    'def build():',
    `    return ${netClass}()`,
    '',
    '',
    "if __name__ == '__main__':",
    options.weightsLoader ? '    model = load_netc_weights(build()).eval()' : '    model = build().eval()',
    `    print(f'{sum(p.numel() for p in model.parameters()):,} parameters')`,
    `    print('output shape:', tuple(model(torch.randn(1, ${graph.input.join(', ')})).shape))`,
    '',
  ].join('\n');
  return body.replace(/\n+$/, '') + footer;
}
