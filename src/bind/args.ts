import type { Code } from '../diagnostics/catalog.js';
import type { Arg, ParamDecl, Range } from '../syntax/ast.js';
import type { ParamSpec, Value } from '../ops/op.js';
import { describeValue, EvalError } from './values.js';

/** A formal parameter, from an op's table or a definition's header. */
export interface Formal {
  name: string;
  aliases?: readonly string[];
  positional: boolean;
  hasDefault: boolean;
}

/** `shortcut` takes one optional keyword: the projection's module name (`downsample` by default). */
export const SHORTCUT_FORMALS: Formal[] = [{ name: 'name', positional: false, hasDefault: true }];

export function opFormals(params: readonly ParamSpec[]): Formal[] {
  return params.map((p) => ({ name: p.name, aliases: p.aliases, positional: p.positional ?? false, hasDefault: p.default !== undefined }));
}

export function declFormals(params: ParamDecl[]): Formal[] {
  return params.map((p) => ({ name: p.name, positional: true, hasDefault: p.default !== undefined }));
}

export interface ArgProblem {
  code: Code;
  message: string;
  range: Range;
  help?: string;
}

/**
 * Match written arguments to formals: positionals in order, then keywords (aliases accepted).
 * Returns the argument for each formal that was given, and every mismatch found.
 */
export function matchArgs(callee: string, formals: Formal[], args: Arg[], callRange: Range): { matched: Map<string, Arg>; problems: ArgProblem[] } {
  const matched = new Map<string, Arg>();
  const problems: ArgProblem[] = [];
  const positional = formals.filter((f) => f.positional);
  let next = 0;
  for (const arg of args) {
    if (arg.name === undefined) {
      const formal = positional[next++];
      if (!formal) {
        problems.push({
          code: 'NET1002',
          message: `\`${callee}\` takes ${positional.length} positional argument${positional.length === 1 ? '' : 's'}, got ${args.filter((a) => !a.name).length}`,
          range: arg.range,
          help: formals.length ? `its parameters: ${formals.map((f) => f.name).join(', ')}` : `\`${callee}\` takes no arguments`,
        });
        continue;
      }
      matched.set(formal.name, arg);
      continue;
    }
    const formal = formals.find((f) => f.name === arg.name || f.aliases?.includes(arg.name!));
    if (!formal) {
      const suggestion = closest(
        arg.name,
        formals.flatMap((f) => [f.name, ...(f.aliases ?? [])]),
      );
      problems.push({
        code: 'NET1002',
        message: `\`${callee}\` has no parameter \`${arg.name}\``,
        range: arg.nameRange ?? arg.range,
        help: suggestion
          ? `did you mean \`${suggestion}\`?`
          : formals.length
            ? `its parameters: ${formals.map((f) => f.name).join(', ')}`
            : `\`${callee}\` takes no arguments`,
      });
      continue;
    }
    if (matched.has(formal.name)) {
      problems.push({ code: 'NET1008', message: `\`${formal.name}\` is given twice to \`${callee}\``, range: arg.range });
      continue;
    }
    matched.set(formal.name, arg);
  }
  for (const formal of formals) {
    if (!formal.hasDefault && !matched.has(formal.name)) {
      problems.push({
        code: 'NET1009',
        message: `\`${callee}\` needs \`${formal.name}\``,
        range: callRange,
        help: `write it as ${formal.positional ? `\`${callee} <${formal.name}>\` or ` : ''}\`${callee} ${formal.name}=...\``,
      });
    }
  }
  return { matched, problems };
}

/** Check a value against an op parameter's declared type. */
export function checkType(callee: string, spec: ParamSpec, value: Value, range: Range): Value {
  // NET1003 when the value is of the wrong kind (a string for a number, a tuple of three for a pair),
  // NET1016 when it is of the right kind but not allowed (a fraction, zero, a negative, past 2^53).
  const fail = (wanted: string, code: 'NET1003' | 'NET1016' = 'NET1003'): never => {
    throw new EvalError({ code, message: `\`${callee}\` ${spec.name} must be ${wanted}, got ${describeValue(value)}`, range });
  };
  switch (spec.type) {
    case 'bool':
      if (typeof value !== 'boolean') fail('true or false');
      return value;
    case 'string':
      if (typeof value !== 'string') fail('a string');
      return value;
    case 'float':
      if (typeof value !== 'number') fail('a number');
      if (!Number.isFinite(value)) fail('a number', 'NET1016');
      return value;
    case 'int':
      return checkInt(spec, value, fail);
    case 'int|pair':
      if (!Array.isArray(value)) return checkInt(spec, value, fail);
      // `(h, w)`: one value per spatial axis, each held to the scalar's rules.
      if (value.length !== 2) fail('an integer or a pair (h, w)');
      value.forEach((v) =>
        checkInt(spec, v, (_, code) => fail(`an integer or a pair (h, w) of ${spec.name === 'pad' ? 'integers >= 0' : 'positive integers'}`, code)),
      );
      return value;
    case 'ints':
      // `(0, 2, 3, 1)`: a tuple of whole numbers >= 0 (permute's dims); the op checks the length.
      if (!Array.isArray(value) || value.some((v) => !Number.isSafeInteger(v) || v < 0)) fail('a tuple of whole numbers, e.g. (0, 2, 3, 1)');
      return value;
  }
}

function checkInt(spec: ParamSpec, value: Value, fail: (wanted: string, code?: 'NET1003' | 'NET1016') => never): Value {
  const integer = spec.type === 'int|pair' ? 'an integer or a pair (h, w)' : 'an integer';
  if (typeof value !== 'number') fail(integer);
  if (!Number.isInteger(value)) fail(integer, 'NET1016');
  // Beyond 2^53 integers are no longer exact, and every count computed from them would be wrong.
  if (!Number.isSafeInteger(value)) fail('an integer of at most 9007199254740991 (2^53 - 1)', 'NET1016');
  if ((value as number) < 0 || ((value as number) === 0 && ['out', 'k', 'stride', 'groups', 'dilation', 'size'].includes(spec.name))) {
    fail(spec.name === 'pad' ? 'zero or more' : 'a positive integer', 'NET1016');
  }
  return value;
}

/** The candidate nearest to `word` by edit distance, if it is plausibly a typo. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
