/** The language features, as plain functions of the workspace (the server only wires them to LSP requests). */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import {
  CompletionItemKind,
  type CompletionItem,
  type DocumentSymbol,
  type Hover,
  type InlayHint,
  InlayHintKind,
  type Location,
  type Position,
  SymbolKind,
  type WorkspaceEdit,
  type TextEdit,
} from 'vscode-languageserver/node';
import { STDLIB_DIR } from '../bind/program.js';
import { FUNCTION_NAMES } from '../bind/values.js';
import { LineIndex, lspRange } from '../diagnostics/render.js';
import { CALLABLE_OPS, type OpDef } from '../ops/index.js';
import type { LabelStage, Range } from '../syntax/ast.js';
import type { Analysis, FileDefinition, Occurrence } from './analysis.js';
import { formatCount, formatMacs, formatShape, type Instance, instancesOf, shapesByLine } from './ir-info.js';
import type { Workspace } from './workspace.js';
import type { Token } from './scan.js';

export function offsetAt(text: string, position: Position): number {
  let offset = 0;
  for (let line = 0; line < position.line; line++) {
    const next = text.indexOf('\n', offset);
    if (next < 0) return text.length;
    offset = next + 1;
  }
  const lineEnd = text.indexOf('\n', offset);
  return Math.min(offset + position.character, lineEnd < 0 ? text.length : lineEnd);
}

function at(ws: Workspace, path: string, position: Position): { analysis: Analysis; offset: number; occurrence?: Occurrence } | undefined {
  const analysis = ws.analysis(path);
  if (!analysis) return undefined;
  const offset = offsetAt(analysis.text, position);
  return { analysis, offset, occurrence: analysis.occurrenceAt(offset) };
}

// ---- signatures ----

export function signature(def: FileDefinition, source: string): string {
  const params = def.params.map((p) => source.slice(p.nameRange.start, p.default ? p.default.range.end : p.nameRange.end));
  const input = def.kind === 'net' ? ` : ${source.slice(def.inputRange.start, def.inputRange.end)}` : '';
  return `${def.kind} ${def.name}(${params.join(', ')})${input}`;
}

export function opSignature(name: string, op: OpDef): string {
  const params = op.params.map((p) => {
    if (p.default === undefined) return p.positional ? p.name : `${p.name}=?`;
    return `${p.name}=${typeof p.default === 'function' ? '…' : String(p.default)}`;
  });
  return `${name} ${params.join(' ')}`.trim();
}

// ---- hover ----

function describeInstances(list: Instance[]): string {
  if (list.length === 0) return '';
  const line = (i: Instance) => `\`${formatShape(i.shape)}\` · ${formatCount(i.params)} params · ${formatMacs(i.macs)} MACs`;
  if (list.length === 1) return `**output** ${line(list[0]!)}${list[0]!.name ? ` — \`${list[0]!.name}\`` : ''}`;
  const groups = new Map<string, Instance[]>();
  for (const i of list) {
    const key = `${formatShape(i.shape)}|${i.params}|${i.macs}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  }
  const rows = [...groups.values()].slice(0, 8).map((g) => `- ${g.length}× ${line(g[0]!)} — first \`${g[0]!.name}\``);
  if (groups.size > 8) rows.push(`- … ${groups.size - 8} more variants`);
  return `**${list.length} instances**\n${rows.join('\n')}`;
}

/** `layer2.3.relu2` under the label `layer2` is the module `layer2` (nested: `features.layer2`). */
function labelled(name: string, label: string): string {
  const parts = name.split('.');
  const at = parts.lastIndexOf(label);
  return at < 0 ? name : parts.slice(0, at + 1).join('.');
}

/**
 * What a label names, once per context (a net, or an instance of the enclosing block): the output of the
 * last thing built from its body, and the params and MACs of everything built from it.
 */
function labelInstances(instances: Instance[], stage: LabelStage): Instance[] {
  const body = stage.body.range;
  const byContext = new Map<string, Instance>();
  for (const i of instances) {
    if (i.span.start < body.start || i.span.end > body.end) continue;
    const seen = byContext.get(i.context);
    if (!seen) {
      byContext.set(i.context, { ...i, name: labelled(i.name, stage.label) });
      continue;
    }
    // Layers inside a block or macro used here have their spans in its definition, so nothing counts twice.
    seen.params += i.params;
    seen.macs += i.macs;
    if (i.order > seen.order) Object.assign(seen, { shape: i.shape, order: i.order, name: labelled(i.name, stage.label) });
  }
  return [...byContext.values()];
}

export function hover(ws: Workspace, path: string, position: Position): Hover | null {
  const here = at(ws, path, position);
  const o = here?.occurrence;
  if (!here || !o) return null;
  const { analysis } = here;
  const sources = analysis.result.program.sources;
  const parts: string[] = [];
  const target = o.target;
  switch (target.kind) {
    case 'definition': {
      const def = target.def;
      parts.push('```netc\n' + signature(def, sources.get(def.file) ?? '') + '\n```');
      if (def.doc) parts.push(def.doc);
      if (def.file !== path) parts.push(`*defined in ${basename(def.file)}*`);
      if (def.kind === 'net' && o.declaration) {
        const graph = analysis.result.graphs.find((g) => g.net === def.name);
        if (graph) {
          const s = analysis.summary(graph);
          parts.push(
            `**${formatShape(graph.input)} → ${formatShape(graph.nodes[graph.output]?.shape ?? null)}** · ${formatCount(s.totalParams)} params · ${formatMacs(s.macs)} MACs`,
          );
        }
      }
      break;
    }
    case 'op':
      parts.push('```netc\n' + opSignature(target.name, target.op) + '\n```', target.op.summary);
      break;
    case 'param': {
      const p = target.param;
      const text = sources.get(target.owner.file) ?? '';
      parts.push(
        '```netc\n' + text.slice(p.nameRange.start, p.default ? p.default.range.end : p.nameRange.end) + '\n```',
        `parameter of ${target.owner.kind} \`${target.owner.name}\``,
      );
      break;
    }
    case 'file':
      parts.push(`\`use "${target.target}"\` → ${target.path}`);
      break;
    case 'function':
      parts.push(`\`${target.name}\` — built-in function`);
      break;
    case 'label': {
      parts.push(`label \`${target.stage.label}\`: the module name of what follows it`);
      const ir = describeInstances(labelInstances(ws.instances(path), target.stage));
      if (ir) parts.push(ir);
      break;
    }
  }
  if (o.call) {
    const label = o.label?.label;
    const found = instancesOf(ws.instances(path), o.call.range);
    // A labelled use is the module the label names, not the last layer inside it.
    const ir = describeInstances(label ? found.map((i) => ({ ...i, name: labelled(i.name, label) })) : found);
    if (ir) parts.push(ir);
  }
  return { contents: { kind: 'markdown', value: parts.join('\n\n') }, range: lspRange({ file: path, ...o.range }, sources) };
}

// ---- inlay hints ----

export function inlayHints(ws: Workspace, path: string, range: { start: Position; end: Position }): InlayHint[] {
  const analysis = ws.analysis(path);
  if (!analysis) return [];
  const index = new LineIndex(analysis.text);
  const byLine = shapesByLine(ws.instances(path), (offset) => index.position(offset).line);
  const hints: InlayHint[] = [];
  for (const [line, shapes] of [...byLine].sort((a, b) => a[0] - b[0])) {
    if (line < range.start.line || line > range.end.line) continue;
    const shown = shapes.slice(0, 3).map(formatShape).join(' | ') + (shapes.length > 3 ? ` | … +${shapes.length - 3}` : '');
    hints.push({
      position: { line, character: index.lineText(line).length },
      label: `→ ${shown}`,
      kind: InlayHintKind.Type,
      paddingLeft: true,
    });
  }
  return hints;
}

// ---- definition, references, rename ----

export function definition(ws: Workspace, path: string, position: Position): Location | null {
  const o = at(ws, path, position)?.occurrence;
  if (!o) return null;
  const sources = ws.analysis(path)!.result.program.sources;
  const t = o.target;
  if (t.kind === 'definition') return { uri: ws.uriOf(t.def.file), range: lspRange({ file: t.def.file, ...t.def.nameRange }, sources) };
  if (t.kind === 'param') return { uri: ws.uriOf(t.owner.file), range: lspRange({ file: t.owner.file, ...t.param.nameRange }, sources) };
  if (t.kind === 'file') return { uri: ws.uriOf(t.path), range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } };
  return null;
}

/** References; `onIncomplete` hears why the workspace scan stopped short, if it did. */
export async function references(
  ws: Workspace,
  path: string,
  position: Position,
  includeDeclaration: boolean,
  token: Token,
  onIncomplete: (why: string) => void = () => {},
): Promise<Location[]> {
  const o = at(ws, path, position)?.occurrence;
  if (!o || o.target.kind === 'op' || o.target.kind === 'function' || o.target.kind === 'label') return [];
  const { found, incomplete } = await ws.references(o.target, token);
  if (incomplete) onIncomplete(incomplete);
  return found.filter((r) => includeDeclaration || !r.occurrence.declaration).map((r) => ({ uri: ws.uriOf(r.occurrence.file), range: r.range }));
}

const KEYWORDS = ['use', 'def', 'block', 'net', 'in', 'true', 'false', 'and', 'or', 'not'];
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A rename the server refuses; its message is shown to the user. */
export class RenameRefused extends Error {}

/** The renameable occurrence under the cursor (a block, a macro, a net or a parameter), or why it cannot be renamed. */
function renameable(ws: Workspace, path: string, position: Position) {
  const here = at(ws, path, position);
  const o = here?.occurrence;
  if (!here || !o || (o.target.kind !== 'definition' && o.target.kind !== 'param')) return undefined;
  const def = o.target.kind === 'definition' ? o.target.def : o.target.owner;
  if (ws.isInstalledLibrary(def.file)) {
    const what = o.target.kind === 'definition' ? `\`${def.name}\`` : `parameter \`${o.target.param.name}\` of \`${def.name}\``;
    throw new RenameRefused(
      `${what} belongs to netc's standard library (${basename(def.file)}), which other nets use too: renaming it would edit the installed library. ` +
        'Copy the definition into a file of your own to rename it.',
    );
  }
  return { here, o, target: o.target };
}

export function prepareRename(ws: Workspace, path: string, position: Position): { range: ReturnType<typeof lspRange>; placeholder: string } | null {
  const r = renameable(ws, path, position);
  if (!r) return null;
  return {
    range: lspRange({ file: path, ...r.o.range }, r.here.analysis.result.program.sources),
    placeholder: r.here.analysis.text.slice(r.o.range.start, r.o.range.end),
  };
}

export async function rename(ws: Workspace, path: string, position: Position, newName: string, token: Token): Promise<WorkspaceEdit | null> {
  if (!IDENTIFIER.test(newName) || KEYWORDS.includes(newName)) throw new RenameRefused(`\`${newName}\` is not a valid name`);
  const r = renameable(ws, path, position);
  if (!r) return null;
  const { found, incomplete } = await ws.references(r.target, token);
  // A rename that misses a use breaks that file: refuse rather than edit part of the workspace.
  if (incomplete) throw new RenameRefused(`cannot rename safely: the workspace scan stopped early (${incomplete}), so some uses could be missed`);
  const changes: Record<string, TextEdit[]> = {};
  for (const f of found) {
    if (ws.isInstalledLibrary(f.occurrence.file)) throw new RenameRefused(`renaming would edit netc's standard library (${basename(f.occurrence.file)})`);
    (changes[ws.uriOf(f.occurrence.file)] ??= []).push({ range: f.range, newText: newName });
  }
  return { changes };
}

// ---- document symbols ----

export function documentSymbols(ws: Workspace, path: string): DocumentSymbol[] {
  const analysis = ws.analysis(path);
  if (!analysis) return [];
  const sources = analysis.result.program.sources;
  const range = (r: Range) => lspRange({ file: path, ...r }, sources);
  const symbols: DocumentSymbol[] = [];
  for (const item of analysis.entry.ast.items) {
    if (item.kind === 'use') {
      symbols.push({ name: `use "${item.target}"`, kind: SymbolKind.Module, range: range(item.range), selectionRange: range(item.targetRange) });
      continue;
    }
    const kind = item.kind === 'block' ? SymbolKind.Class : item.kind === 'def' ? SymbolKind.Function : SymbolKind.Module;
    symbols.push({
      name: item.name,
      kind,
      detail: signature({ ...item, file: path }, analysis.text),
      range: range(item.range),
      selectionRange: range(item.nameRange),
      children: item.params.map((p) => ({ name: p.name, kind: SymbolKind.Variable, range: range(p.nameRange), selectionRange: range(p.nameRange) })),
    });
  }
  return symbols;
}

// ---- completion ----

export function stdlibModules(): string[] {
  try {
    return readdirSync(STDLIB_DIR)
      .filter((f) => f.endsWith('.net') && f !== 'prelude.net')
      .map((f) => f.slice(0, -4))
      .sort();
  } catch {
    return [];
  }
}

/** The call whose arguments the cursor is in (`conv 64 st|` or `Basic(64, st|`): its name and the arguments written so far. */
export interface CallContext {
  name: string;
  /** Parameter names already given (`k=3`). */
  named: Set<string>;
  /** Positional arguments already given, the one being typed not counted. */
  positional: number;
}

export function callAt(lineBefore: string): CallContext | undefined {
  let depth = 0;
  for (let i = lineBefore.length - 1; i >= 0; i--) {
    const ch = lineBefore[i]!;
    if (ch === ')') depth++;
    else if (ch === '(') {
      if (depth === 0) {
        const name = /([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(lineBefore.slice(0, i))?.[1];
        return name ? { name, ...givenArgs(splitTopLevel(lineBefore.slice(i + 1), ',')) } : undefined;
      }
      depth--;
    } else if (depth === 0 && /[;<>|[\]:+*]/.test(ch)) {
      if (ch === '*' || ch === '+') continue;
      return stageHead(lineBefore.slice(i + 1));
    }
  }
  return stageHead(lineBefore);
}

export function calleeAt(lineBefore: string): string | undefined {
  return callAt(lineBefore)?.name;
}

/** `text` split at `sep` outside parentheses. */
function splitTopLevel(text: string, sep: string | RegExp): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && (typeof sep === 'string' ? ch === sep : sep.test(ch))) {
      out.push(text.slice(from, i));
      from = i + 1;
    }
  }
  out.push(text.slice(from));
  return out;
}

/** The arguments before the last (the one under the cursor): which are named, how many positional. */
function givenArgs(args: string[]): { named: Set<string>; positional: number } {
  const named = new Set<string>();
  let positional = 0;
  for (const arg of args.slice(0, -1)) {
    if (!arg.trim()) continue;
    const name = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)/.exec(arg)?.[1];
    if (name) named.add(name);
    else positional++;
  }
  return { named, positional };
}

function stageHead(segment: string): CallContext | undefined {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(\S.*)?$/.exec(segment);
  if (!m || ['block', 'def', 'net', 'use'].includes(m[1]!)) return undefined;
  if (m[2] === undefined && !/\s$/.test(segment)) return undefined;
  return { name: m[1]!, ...givenArgs(splitTopLevel(m[2] ?? '', /\s/)) };
}

export function completion(ws: Workspace, path: string, position: Position): CompletionItem[] {
  const analysis = ws.analysis(path);
  const doc = ws.documents.get(path);
  if (!analysis || !doc) return [];
  const offset = offsetAt(doc.text, position);
  const lineStart = doc.text.lastIndexOf('\n', offset - 1) + 1;
  const before = doc.text.slice(lineStart, offset);
  if (/^\s*use\s+"[^"]*$/.test(before)) {
    return stdlibModules().map((m) => ({ label: m, kind: CompletionItemKind.Module, detail: `stdlib/${m}.net` }));
  }
  if (/#/.test(before.replace(/"[^"]*"/g, ''))) return [];
  const items: CompletionItem[] = [];
  const call = callAt(before);
  if (call) {
    const def = analysis.entry.visible.get(call.name);
    const op = def ? undefined : CALLABLE_OPS.get(call.name);
    const params =
      def && def.kind !== 'net'
        ? def.params.map((p) => ({ name: p.name, doc: `parameter of ${def.kind} ${def.name}`, positional: true, aliases: [] as string[] }))
        : (op?.params ?? []);
    // Positional arguments fill the positional parameters in order; a parameter already given is not offered again.
    let filled = call.positional;
    const given = (p: { name: string; positional?: boolean; aliases?: readonly string[] }) => {
      if (call.named.has(p.name) || p.aliases?.some((a) => call.named.has(a))) return true;
      if (p.positional && filled > 0) {
        filled--;
        return true;
      }
      return false;
    };
    for (const p of params) {
      if (given(p)) continue;
      items.push({
        label: `${p.name}=`,
        filterText: p.name,
        insertText: `${p.name}=`,
        kind: CompletionItemKind.Property,
        detail: p.doc,
        sortText: `0${p.name}`,
      });
    }
  }
  for (const [name, op] of CALLABLE_OPS) {
    items.push({ label: name, kind: CompletionItemKind.Function, detail: opSignature(name, op), documentation: op.summary, sortText: `2${name}` });
  }
  for (const [name, def] of analysis.entry.visible) {
    // A net is not callable from another definition.
    if (def.kind === 'net') continue;
    items.push({
      label: name,
      kind: def.kind === 'block' ? CompletionItemKind.Class : CompletionItemKind.Function,
      detail: signature(def, analysis.result.program.sources.get(def.file) ?? ''),
      documentation: def.doc,
      sortText: `1${name}`,
    });
  }
  const owner = analysis.entry.ast.items.find((i) => i.kind !== 'use' && i.range.start <= offset && offset <= i.range.end);
  if (owner && owner.kind !== 'use') {
    for (const p of owner.params)
      items.push({ label: p.name, kind: CompletionItemKind.Variable, detail: `parameter of ${owner.name}`, sortText: `0${p.name}` });
    items.push({ label: 'in', kind: CompletionItemKind.Keyword, detail: 'the incoming shape: in.c, in.h, in.w' });
  }
  for (const f of FUNCTION_NAMES) items.push({ label: f, kind: CompletionItemKind.Function, detail: 'built-in function', sortText: `3${f}` });
  for (const k of ['shortcut', 'identity'])
    if (!items.some((i) => i.label === k)) items.push({ label: k, kind: CompletionItemKind.Keyword, sortText: `2${k}` });
  for (const k of KEYWORDS) items.push({ label: k, kind: CompletionItemKind.Keyword, sortText: `4${k}` });
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(i.label) && seen.add(i.label));
}

// ---- semantic tokens ----

/** The legend: what the grammar cannot know (a block from a macro from a layer, a parameter from a name). */
export const SEMANTIC_LEGEND = {
  tokenTypes: ['class', 'macro', 'namespace', 'function', 'parameter', 'property'],
  tokenModifiers: ['declaration', 'defaultLibrary'],
};

function tokenType(o: Occurrence): string | undefined {
  const t = o.target;
  switch (t.kind) {
    case 'definition':
      return t.def.kind === 'block' ? 'class' : t.def.kind === 'def' ? 'macro' : 'namespace';
    case 'op':
    case 'function':
      return 'function';
    case 'param':
      return 'parameter';
    case 'label':
      return 'property';
    case 'file':
      return undefined;
  }
}

/** Every name in the document, as LSP's relative encoding (line delta, start delta, length, type, modifiers). */
export function semanticTokens(ws: Workspace, path: string): { data: number[] } {
  const analysis = ws.analysis(path);
  if (!analysis) return { data: [] };
  const index = new LineIndex(analysis.text);
  const data: number[] = [];
  let line = 0;
  let character = 0;
  let end = -1;
  for (const o of [...analysis.occurrencesIn(path)].sort((a, b) => a.range.start - b.range.start)) {
    const type = tokenType(o);
    if (type === undefined || o.range.start < end || o.range.end <= o.range.start) continue;
    const start = index.position(o.range.start);
    const stop = index.position(o.range.end);
    if (stop.line !== start.line) continue;
    const inLibrary = o.target.kind === 'op' || o.target.kind === 'function' || (o.target.kind === 'definition' && o.target.def.file.startsWith(STDLIB_DIR));
    const modifiers = (o.declaration ? 1 : 0) | (inLibrary ? 2 : 0);
    data.push(
      start.line - line,
      start.line === line ? start.character - character : start.character,
      stop.character - start.character,
      SEMANTIC_LEGEND.tokenTypes.indexOf(type),
      modifiers,
    );
    line = start.line;
    character = start.character;
    end = o.range.end;
  }
  return { data };
}
