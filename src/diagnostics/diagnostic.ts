import type { Span } from '../ir/types.js';
import type { Code } from './catalog.js';
import { MAX_STORED_DIAGNOSTICS, MAX_TEXT_CHARS } from '../check/limits.js';

export type Severity = 'error' | 'warning' | 'info' | 'hint';

export interface RelatedSpan {
  span: Span;
  label: string;
}

/** One finding about the user's files. Never an exception: passes collect these and carry on. */
export interface Diagnostic {
  code: Code;
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

/** Text longer than `max` keeps its start and says how much was cut (a quoted name can be as long as the file). */
export function clipText(s: string, max = MAX_TEXT_CHARS): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)}... (${(s.length - max).toLocaleString('en-US')} more characters)`;
}

export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  /** Diagnostics not kept because MAX_STORED_DIAGNOSTICS were already held (counted by severity). */
  readonly dropped = { error: 0, warning: 0, info: 0, hint: 0 };
  /** Past 100,000 distinct dropped diagnostics, repeats are no longer recognised: `dropped` is then an upper bound. */
  droppedCountIsApproximate = false;
  private seen = new Set<string>();
  private droppedSeen = new Set<string>();

  /**
   * Keeps a diagnostic unless the same one (code, place, message) is already held - a block repeated
   * 10,000 times reports its mistake once - or MAX_STORED_DIAGNOSTICS are; texts are clipped to
   * MAX_TEXT_CHARS. So what one file can make the checker hold and print is bounded.
   */
  add(d: Omit<Diagnostic, 'related' | 'notes'> & Partial<Pick<Diagnostic, 'related' | 'notes'>>): void {
    const message = clipText(d.message);
    const key = `${d.code}|${d.span.file}|${d.span.start}|${d.span.end}|${message}`;
    if (this.seen.has(key)) return;
    if (this.items.length >= MAX_STORED_DIAGNOSTICS) {
      // Not kept, but remembered (up to a bound) so that one reported twice is counted once.
      // Short keys (a message's start and length), so the memory this takes stays small.
      const short = `${d.code}|${d.span.file}|${d.span.start}|${d.span.end}|${message.length}|${message.slice(0, 120)}`;
      if (this.droppedSeen.has(short)) return;
      if (this.droppedSeen.size < 100 * MAX_STORED_DIAGNOSTICS) this.droppedSeen.add(short);
      else this.droppedCountIsApproximate = true;
      this.dropped[d.severity]++;
      return;
    }
    this.seen.add(key);
    this.items.push({
      related: [],
      notes: [],
      ...d,
      message,
      ...(d.label !== undefined ? { label: clipText(d.label) } : {}),
      ...(d.help !== undefined ? { help: clipText(d.help) } : {}),
      ...(d.notes ? { notes: d.notes.map((n) => clipText(n)) } : {}),
    });
  }

  error(code: Code, message: string, span: Span, extra: Partial<Diagnostic> = {}): void {
    this.add({ code, severity: 'error', message, span, ...extra });
  }

  warning(code: Code, message: string, span: Span, extra: Partial<Diagnostic> = {}): void {
    this.add({ code, severity: 'warning', message, span, ...extra });
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }
}
