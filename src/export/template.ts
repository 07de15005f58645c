/**
 * Python code templates: code with its numbers left as slots, so the PyTorch exporter can tell block
 * instances that differ only in numbers (one class, constructor arguments) from those that differ in
 * structure. The ops' `pytorch` members (src/ops/*.ts) build these; nothing here loads anything heavy.
 */
import type { AttrValue } from '../ir/types.js';

export interface Slot {
  kind: 'slot';
  value: number;
  role: string;
}
export interface ChildCall {
  kind: 'child';
  module: number;
}
export type Part = string | Slot | ChildCall;
export type Template = Part[];

export const slot = (value: number, role: string): Slot => ({ kind: 'slot', value, role });

/** `3` for a square pair, `(3, 5)` otherwise. */
export function pairParts(value: AttrValue | undefined, role: string, fallback: number): Template {
  const [a, b] = Array.isArray(value)
    ? [value[0] ?? fallback, value[1] ?? value[0] ?? fallback]
    : typeof value === 'number'
      ? [value, value]
      : [fallback, fallback];
  return a === b ? [slot(a, role)] : ['(', slot(a, `${role}_h`), ', ', slot(b, `${role}_w`), ')'];
}

export const isDefaultPair = (value: AttrValue | undefined, d: number) =>
  value === undefined || (Array.isArray(value) ? value.every((v) => v === d) : value === d);

export const pyBool = (b: unknown) => (b ? 'True' : 'False');

/** A Python float/int literal. */
export function pyNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const s = String(v);
  return s.includes('e') || s.includes('.') ? s : `${s}.0`;
}
