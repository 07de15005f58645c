import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { CALLABLE_OPS } from '../ops/index.js';
import type { Expr, Stage } from '../syntax/ast.js';
import { closest, declFormals, matchArgs, opFormals, SHORTCUT_FORMALS } from './args.js';
import type { Definition, LoadedFile, Program } from './program.js';
import { FUNCTION_NAMES } from './values.js';

/**
 * Checks every definition without instantiating it: names resolve, calls match their parameters,
 * `shortcut` sits where it means something, and no block contains itself. This is what lets a library
 * file (blocks, no net) be checked on its own.
 */
export function resolveDefinitions(program: Program, diagnostics: DiagnosticBag): void {
  for (const file of program.files.values()) {
    for (const def of file.own.values()) checkDefinition(def, file, diagnostics);
  }
  findRecursion(program, diagnostics);
}

function checkDefinition(def: Definition, file: LoadedFile, diagnostics: DiagnosticBag): void {
  const params = new Set(def.params.map((p) => p.name));
  const at = (range: { start: number; end: number }) => ({ file: file.path, ...range });
  const seen = new Set<string>();
  for (const p of def.params) {
    if (seen.has(p.name)) diagnostics.error('NET1008', `parameter \`${p.name}\` is declared twice`, at(p.nameRange));
    seen.add(p.name);
  }

  const expr = (e: Expr | undefined): void => {
    if (!e) return;
    switch (e.kind) {
      case 'name':
        if (!params.has(e.name)) {
          const suggestion = closest(e.name, params);
          diagnostics.error('NET1001', `unknown name \`${e.name}\``, at(e.range), {
            help: suggestion
              ? `did you mean \`${suggestion}\`?`
              : params.size
                ? `parameters in scope: ${[...params].join(', ')}`
                : `\`${def.name}\` has no parameters`,
          });
        }
        return;
      case 'inShape':
        if (!['c', 'h', 'w'].includes(e.field)) {
          diagnostics.error('NET1001', `\`in\` has no field \`${e.field}\``, at(e.fieldRange), { help: 'use in.c, in.h or in.w' });
        }
        return;
      case 'unary':
        return expr(e.operand);
      case 'binary':
        expr(e.left);
        return expr(e.right);
      case 'conditional':
        expr(e.test);
        expr(e.then);
        return expr(e.else);
      case 'tuple':
        e.items.forEach(expr);
        return;
      case 'apply':
        if (!FUNCTION_NAMES.includes(e.name)) {
          diagnostics.error('NET1001', `unknown function \`${e.name}\``, at(e.nameRange), { help: `functions: ${FUNCTION_NAMES.join(', ')}` });
        }
        e.args.forEach(expr);
        return;
      default:
        return;
    }
  };

  const isShortcut = (s: Stage) => s.kind === 'call' && s.name === 'shortcut' && !file.visible.has('shortcut');

  const stage = (s: Stage, shortcutAllowed = false): void => {
    switch (s.kind) {
      case 'seq':
        return s.stages.forEach((x) => stage(x));
      case 'group':
        return stage(s.body);
      case 'label':
        if (!/^(\d+|[A-Za-z_][A-Za-z0-9_]*)$/.test(s.label)) {
          diagnostics.error('NET1014', `\`${s.label}\` cannot be a label: a label is a name or a whole number`, at(s.labelRange), {
            help: 'write a name (`stem:`) or a Sequential index (`0:`)',
          });
        }
        return stage(s.body);
      case 'if':
        expr(s.test);
        stage(s.then, shortcutAllowed);
        if (s.else) stage(s.else, shortcutAllowed);
        return;
      case 'repeat':
        stage(s.body);
        return expr(s.count);
      case 'branches':
        return s.branches.forEach((x) => stage(x));
      case 'combine': {
        const repetition = s.op === '*' && s.right.kind === 'call' && s.right.args.length === 0 && params.has(s.right.name);
        stage(s.left, s.op === '+');
        if (!repetition) stage(s.right, s.op === '+');
        return;
      }
      case 'call': {
        s.args.forEach((a) => expr(a.value));
        if (isShortcut(s)) {
          if (!shortcutAllowed) {
            diagnostics.error('NET1010', '`shortcut` only makes sense as an operand of `+`', at(s.nameRange), {
              help: "write `<body> + shortcut` to add the (possibly projected) input to the body's output",
            });
          }
          for (const p of matchArgs('shortcut', SHORTCUT_FORMALS, s.args, s.range).problems) {
            diagnostics.error(p.code, p.message, at(p.range), { help: p.help });
          }
          return;
        }
        if (params.has(s.name)) {
          diagnostics.error('NET1015', `\`${s.name}\` is a value, not a layer`, at(s.nameRange), {
            help: `to repeat something \`${s.name}\` times write \`<...> * ${s.name}\``,
          });
          return;
        }
        const target = file.visible.get(s.name);
        const op = target ? undefined : CALLABLE_OPS.get(s.name);
        if (!target && !op) {
          const suggestion = closest(s.name, [...file.visible.keys(), ...CALLABLE_OPS.keys()]);
          diagnostics.error('NET1001', `unknown layer \`${s.name}\``, at(s.nameRange), {
            help: suggestion ? `did you mean \`${suggestion}\`?` : 'define it with `block` or `def`, or import it with `use`',
          });
          return;
        }
        if (target?.kind === 'net') {
          diagnostics.error('NET1013', `\`${s.name}\` is a net; only blocks and defs can be used inside another definition`, at(s.nameRange));
          return;
        }
        const formals = target ? declFormals(target.params) : opFormals(op!.params);
        for (const p of matchArgs(s.name, formals, s.args, s.range).problems) {
          diagnostics.error(p.code, p.message, at(p.range), { help: p.help });
        }
        return;
      }
      default:
        return;
    }
  };

  def.params.forEach((p) => expr(p.default));
  if (def.kind === 'net') def.input.forEach(expr);
  stage(def.body);
}

/** A block or def that reaches itself through its calls. */
function findRecursion(program: Program, diagnostics: DiagnosticBag): void {
  type Key = Definition & { file: string };
  const calls = (def: Key): { callee: Key; range: { start: number; end: number } }[] => {
    const file = program.files.get(def.file)!;
    const out: { callee: Key; range: { start: number; end: number } }[] = [];
    const walk = (s: Stage): void => {
      if (s.kind === 'call') {
        const callee = file.visible.get(s.name);
        if (callee && callee.kind !== 'net') out.push({ callee, range: s.nameRange });
      } else if (s.kind === 'seq') s.stages.forEach(walk);
      else if (s.kind === 'group' || s.kind === 'label' || s.kind === 'repeat') walk(s.body);
      else if (s.kind === 'if') {
        walk(s.then);
        if (s.else) walk(s.else);
      } else if (s.kind === 'branches') s.branches.forEach(walk);
      else if (s.kind === 'combine') {
        walk(s.left);
        walk(s.right);
      }
    };
    walk(def.body);
    return out;
  };
  const state = new Map<Key, 'visiting' | 'done'>();
  const visit = (def: Key, path: Key[]): void => {
    if (state.get(def) === 'done') return;
    state.set(def, 'visiting');
    for (const { callee, range } of calls(def)) {
      if (state.get(callee) === 'visiting') {
        const chain = [...path.slice(path.indexOf(callee)), def, callee].map((d) => d.name);
        diagnostics.error(
          'NET1004',
          `\`${callee.name}\` uses itself: ${chain.slice(chain.indexOf(callee.name)).join(' -> ')}`,
          { file: def.file, ...range },
          {
            help: 'a block cannot contain itself; use repetition (`Block(...) * n`) instead',
          },
        );
        continue;
      }
      visit(callee, [...path, def]);
    }
    state.set(def, 'done');
  };
  for (const file of program.files.values()) for (const def of file.own.values()) visit(def, []);
}
