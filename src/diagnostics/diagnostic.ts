import type { Span } from '../ir/types.js';

export type Severity = 'error' | 'warning' | 'info' | 'hint';

export interface RelatedSpan {
  span: Span;
  label: string;
}

/** One finding about the user's files. Never an exception: passes collect these and carry on. */
export interface Diagnostic {
  code: string;
  severity: Severity;
  /** Lowercase, one line, with the numbers that disagree. */
  message: string;
  span: Span;
  /** Short text shown under the carets. */
  label?: string;
  related: RelatedSpan[];
  notes: string[];
  help?: string;
}

export class DiagnosticBag {
  readonly items: Diagnostic[] = [];

  add(d: Omit<Diagnostic, 'related' | 'notes'> & Partial<Pick<Diagnostic, 'related' | 'notes'>>): void {
    this.items.push({ related: [], notes: [], ...d });
  }

  error(code: string, message: string, span: Span, extra: Partial<Diagnostic> = {}): void {
    this.add({ code, severity: 'error', message, span, ...extra });
  }

  warning(code: string, message: string, span: Span, extra: Partial<Diagnostic> = {}): void {
    this.add({ code, severity: 'warning', message, span, ...extra });
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }
}
