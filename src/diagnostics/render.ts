import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Span } from '../ir/types.js';
import { CATALOG } from './catalog.js';
import { clipText, type Diagnostic, type Severity } from './diagnostic.js';
import { MAX_RENDERED_CHARS, MAX_RENDERED_DIAGNOSTICS, MAX_RENDERED_RELATED, MAX_SNIPPET_COLUMNS } from '../check/limits.js';

export interface Position {
  /** 0-based. */
  line: number;
  /** 0-based, in UTF-16 code units (JavaScript string indices), as LSP counts by default. */
  character: number;
}

export class LineIndex {
  private starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  position(offset: number): Position {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= clamped) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: clamped - this.starts[lo]! };
  }

  lineText(line: number): string {
    const end = this.starts[line + 1] ?? this.text.length + 1;
    return this.text.slice(this.starts[line], end - 1).replace(/\r$/, '');
  }

  /** Length of a line without copying it (a line can be megabytes long). */
  lineLength(line: number): number {
    const start = this.starts[line] ?? this.text.length;
    const end = (this.starts[line + 1] ?? this.text.length + 1) - 1;
    return end - start - (end > start && this.text.charCodeAt(end - 1) === 13 ? 1 : 0);
  }

  /** Characters [from, to) of a line, clamped to it. */
  lineSlice(line: number, from: number, to: number): string {
    const start = this.starts[line] ?? this.text.length;
    const length = this.lineLength(line);
    return this.text.slice(start + Math.max(0, from), start + Math.min(length, to));
  }
}

/**
 * The part of a source line a snippet shows: all of it when it fits in MAX_SNIPPET_COLUMNS, else a window
 * around the span's start, marked with `...` on the clipped sides; `offset` is the window's first column.
 */
export function snippetWindow(index: LineIndex, line: number, column: number): { text: string; offset: number; prefix: string } {
  const length = index.lineLength(line);
  if (length <= MAX_SNIPPET_COLUMNS) return { text: index.lineText(line), offset: 0, prefix: '' };
  const context = Math.floor(MAX_SNIPPET_COLUMNS / 4);
  const offset = Math.max(0, Math.min(column - context, length - MAX_SNIPPET_COLUMNS));
  const end = offset + MAX_SNIPPET_COLUMNS;
  const prefix = offset > 0 ? '...' : '';
  return { text: `${prefix}${index.lineSlice(line, offset, end)}${end < length ? '...' : ''}`, offset, prefix };
}

export type Sources = Map<string, string>;

const indexCache = new WeakMap<Sources, Map<string, LineIndex>>();
function indexFor(sources: Sources, file: string): LineIndex {
  let perSources = indexCache.get(sources);
  if (!perSources) indexCache.set(sources, (perSources = new Map()));
  let index = perSources.get(file);
  if (!index) perSources.set(file, (index = new LineIndex(sources.get(file) ?? '')));
  return index;
}

const COLORS = { error: '31', warning: '33', info: '36', hint: '36', note: '36', help: '32', bold: '1', blue: '34' } as const;

export interface RenderOptions {
  color?: boolean;
  /** Paths are shown relative to this directory. */
  cwd?: string;
}

export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = relative(cwd, file);
  return rel.startsWith('..') ? file : rel;
}

/** rustc-style text: `error[NET2001]: ...`, `--> file:line:col`, the source line, carets. */
export function renderHuman(d: Diagnostic, sources: Sources, options: RenderOptions = {}): string {
  const paint = (code: string, s: string) => (options.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const out: string[] = [];
  out.push(`${paint(`${COLORS.bold};${COLORS[d.severity]}`, `${d.severity}[${d.code}]`)}${paint(COLORS.bold, `: ${clipText(d.message)}`)}`);
  const snippet = (span: Span, label: string | undefined, caretColor: string, arrow = '-->') => {
    const index = indexFor(sources, span.file);
    const start = index.position(span.start);
    const end = index.position(Math.max(span.start, span.end));
    const lineNo = String(start.line + 1);
    const gutter = ' '.repeat(lineNo.length);
    out.push(`${gutter}${paint(COLORS.blue, arrow)} ${displayPath(span.file, options.cwd)}:${start.line + 1}:${start.character + 1}`);
    if (!sources.has(span.file)) return;
    // Long lines are shown as a window around the span, so a diagnostic's size does not grow with its line.
    const window = snippetWindow(index, start.line, start.character);
    const lineEnd = index.lineLength(start.line);
    const spanEnd = end.line === start.line ? Math.max(end.character, start.character + 1) : Math.max(lineEnd, start.character + 1);
    const caretStart = start.character - window.offset + window.prefix.length;
    const width = Math.max(1, Math.min(spanEnd - window.offset, MAX_SNIPPET_COLUMNS) + window.prefix.length - caretStart);
    out.push(`${gutter} ${paint(COLORS.blue, '|')}`);
    out.push(`${paint(COLORS.blue, `${lineNo} |`)} ${window.text}`);
    out.push(`${gutter} ${paint(COLORS.blue, '|')} ${' '.repeat(caretStart)}${paint(caretColor, `${'^'.repeat(width)}${label ? ` ${clipText(label)}` : ''}`)}`);
  };
  snippet(d.span, d.label, `${COLORS.bold};${COLORS[d.severity]}`);
  for (const note of d.notes.slice(0, MAX_RENDERED_RELATED)) out.push(`  = ${paint(COLORS.bold, 'note')}: ${clipText(note)}`);
  if (d.notes.length > MAX_RENDERED_RELATED) out.push(`  = ${paint(COLORS.bold, 'note')}: ${d.notes.length - MAX_RENDERED_RELATED} more notes not shown`);
  if (d.help) out.push(`  = ${paint(`${COLORS.bold};${COLORS.help}`, 'help')}: ${clipText(d.help)}`);
  for (const r of d.related.slice(0, MAX_RENDERED_RELATED)) {
    out.push(`${paint(`${COLORS.bold};${COLORS.note}`, 'note')}: ${clipText(r.label)}`);
    snippet(r.span, undefined, COLORS.blue);
  }
  if (d.related.length > MAX_RENDERED_RELATED) {
    out.push(`${paint(`${COLORS.bold};${COLORS.note}`, 'note')}: ${d.related.length - MAX_RENDERED_RELATED} more related places not shown`);
  }
  return out.join('\n') + '\n';
}

/**
 * Renders diagnostics in order until MAX_RENDERED_DIAGNOSTICS of them or MAX_RENDERED_CHARS of text; the
 * rest are counted, not rendered. Each part is bounded by renderHuman, so the whole is too.
 */
function renderBounded(diagnostics: Diagnostic[], sources: Sources, options: RenderOptions): string[] {
  const parts: string[] = [];
  let chars = 0;
  for (const d of diagnostics) {
    if (parts.length >= MAX_RENDERED_DIAGNOSTICS || chars >= MAX_RENDERED_CHARS) break;
    const part = renderHuman(d, sources, options);
    parts.push(part);
    chars += part.length;
  }
  return parts;
}

function renderParts(diagnostics: Diagnostic[], parts: string[]): string {
  if (diagnostics.length === 0) return '';
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  const hidden = diagnostics.length - parts.length;
  const shown = hidden > 0 ? [...parts, `... ${hidden.toLocaleString('en-US')} more diagnostics not shown (the output of one check is bounded)\n`] : parts;
  const tally = [errors && `${errors} error${errors === 1 ? '' : 's'}`, warnings && `${warnings} warning${warnings === 1 ? '' : 's'}`]
    .filter(Boolean)
    .join(', ');
  return `${shown.join('\n')}\n${tally ? `${tally} emitted\n` : ''}`;
}

export function renderAll(diagnostics: Diagnostic[], sources: Sources, options: RenderOptions = {}): string {
  return renderParts(diagnostics, renderBounded(diagnostics, sources, options));
}

// ---- the editor contract: LSP Diagnostic objects ----

const LSP_SEVERITY: Record<Severity, 1 | 2 | 3 | 4> = { error: 1, warning: 2, info: 3, hint: 4 };

export interface LspRange {
  start: Position;
  end: Position;
}

export interface LspDiagnostic {
  range: LspRange;
  severity: 1 | 2 | 3 | 4;
  code: string;
  codeDescription: { href: string };
  source: 'netc';
  message: string;
  relatedInformation: { location: { uri: string; range: LspRange }; message: string }[];
  data: { title: string; help?: string; notes: string[]; rendered: string };
}

export interface DiagnosticsDocument {
  version: 1;
  source: 'netc';
  errors: number;
  warnings: number;
  files: { uri: string; path: string; diagnostics: LspDiagnostic[] }[];
  /** The same diagnostics as the human output, for tools that just show text. */
  rendered: string;
}

/** Where `netc explain` documentation lives, for `codeDescription.href`. */
export const DOCS_URL = new URL('../../docs/diagnostics.md', import.meta.url).href;

export function lspRange(span: Span, sources: Sources): LspRange {
  const index = indexFor(sources, span.file);
  return { start: index.position(span.start), end: index.position(Math.max(span.start, span.end)) };
}

export function toLsp(d: Diagnostic, sources: Sources, rendered = renderHuman(d, sources)): LspDiagnostic {
  return {
    range: lspRange(d.span, sources),
    severity: LSP_SEVERITY[d.severity],
    code: d.code,
    codeDescription: { href: `${DOCS_URL}#${d.code.toLowerCase()}` },
    source: 'netc',
    message: clipText(d.message),
    relatedInformation: d.related.slice(0, MAX_RENDERED_RELATED).map((r) => ({
      location: { uri: pathToFileURL(r.span.file).href, range: lspRange(r.span, sources) },
      message: clipText(r.label),
    })),
    data: {
      title: CATALOG[d.code]?.title ?? d.code,
      ...(d.help ? { help: clipText(d.help) } : {}),
      notes: d.notes.slice(0, MAX_RENDERED_RELATED).map((n) => clipText(n)),
      rendered,
    },
  };
}

/** Group by file URI; the files checked are listed even when clean, so editors can clear old squiggles. */
export function diagnosticsDocument(diagnostics: Diagnostic[], sources: Sources, checkedFiles: string[] = []): DiagnosticsDocument {
  const byFile = new Map<string, LspDiagnostic[]>();
  for (const f of checkedFiles) byFile.set(f, []);
  // The same diagnostics as the rendered text (a bounded number); the counts below still cover every one.
  const parts = renderBounded(diagnostics, sources, {});
  parts.forEach((rendered, i) => {
    const d = diagnostics[i]!;
    const list = byFile.get(d.span.file) ?? [];
    list.push(toLsp(d, sources, rendered));
    byFile.set(d.span.file, list);
  });
  return {
    version: 1,
    source: 'netc',
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    warnings: diagnostics.filter((d) => d.severity === 'warning').length,
    files: [...byFile].map(([path, list]) => ({ uri: pathToFileURL(path).href, path, diagnostics: list })),
    rendered: renderParts(diagnostics, parts),
  };
}
