import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Span } from '../ir/types.js';
import { CATALOG } from './catalog.js';
import type { Diagnostic, Severity } from './diagnostic.js';

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
  out.push(`${paint(`${COLORS.bold};${COLORS[d.severity]}`, `${d.severity}[${d.code}]`)}${paint(COLORS.bold, `: ${d.message}`)}`);
  const snippet = (span: Span, label: string | undefined, caretColor: string, arrow = '-->') => {
    const index = indexFor(sources, span.file);
    const start = index.position(span.start);
    const end = index.position(Math.max(span.start, span.end));
    const lineNo = String(start.line + 1);
    const gutter = ' '.repeat(lineNo.length);
    out.push(`${gutter}${paint(COLORS.blue, arrow)} ${displayPath(span.file, options.cwd)}:${start.line + 1}:${start.character + 1}`);
    if (!sources.has(span.file)) return;
    const text = index.lineText(start.line);
    const width = end.line === start.line ? Math.max(1, end.character - start.character) : Math.max(1, text.length - start.character);
    out.push(`${gutter} ${paint(COLORS.blue, '|')}`);
    out.push(`${paint(COLORS.blue, `${lineNo} |`)} ${text}`);
    out.push(`${gutter} ${paint(COLORS.blue, '|')} ${' '.repeat(start.character)}${paint(caretColor, `${'^'.repeat(width)}${label ? ` ${label}` : ''}`)}`);
  };
  snippet(d.span, d.label, `${COLORS.bold};${COLORS[d.severity]}`);
  for (const note of d.notes) out.push(`  = ${paint(COLORS.bold, 'note')}: ${note}`);
  if (d.help) out.push(`  = ${paint(`${COLORS.bold};${COLORS.help}`, 'help')}: ${d.help}`);
  for (const r of d.related) {
    out.push(`${paint(`${COLORS.bold};${COLORS.note}`, 'note')}: ${r.label}`);
    snippet(r.span, undefined, COLORS.blue);
  }
  return out.join('\n') + '\n';
}

export function renderAll(diagnostics: Diagnostic[], sources: Sources, options: RenderOptions = {}): string {
  if (diagnostics.length === 0) return '';
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  const parts = diagnostics.map((d) => renderHuman(d, sources, options));
  const tally = [errors && `${errors} error${errors === 1 ? '' : 's'}`, warnings && `${warnings} warning${warnings === 1 ? '' : 's'}`].filter(Boolean).join(', ');
  return `${parts.join('\n')}\n${tally ? `${tally} emitted\n` : ''}`;
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

export function toLsp(d: Diagnostic, sources: Sources): LspDiagnostic {
  return {
    range: lspRange(d.span, sources),
    severity: LSP_SEVERITY[d.severity],
    code: d.code,
    codeDescription: { href: `${DOCS_URL}#${d.code.toLowerCase()}` },
    source: 'netc',
    message: d.message,
    relatedInformation: d.related.map((r) => ({
      location: { uri: pathToFileURL(r.span.file).href, range: lspRange(r.span, sources) },
      message: r.label,
    })),
    data: {
      title: CATALOG[d.code]?.title ?? d.code,
      ...(d.help ? { help: d.help } : {}),
      notes: d.notes,
      rendered: renderHuman(d, sources),
    },
  };
}

/** Group by file URI; the files checked are listed even when clean, so editors can clear old squiggles. */
export function diagnosticsDocument(diagnostics: Diagnostic[], sources: Sources, checkedFiles: string[] = []): DiagnosticsDocument {
  const byFile = new Map<string, LspDiagnostic[]>();
  for (const f of checkedFiles) byFile.set(f, []);
  for (const d of diagnostics) {
    const list = byFile.get(d.span.file) ?? [];
    list.push(toLsp(d, sources));
    byFile.set(d.span.file, list);
  }
  return {
    version: 1,
    source: 'netc',
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    warnings: diagnostics.filter((d) => d.severity === 'warning').length,
    files: [...byFile].map(([path, list]) => ({ uri: pathToFileURL(path).href, path, diagnostics: list })),
    rendered: renderAll(diagnostics, sources),
  };
}
