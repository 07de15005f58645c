import type { Code } from '../diagnostics/catalog.js';
import type { Expr, Range } from '../syntax/ast.js';
import type { Value } from '../ops/op.js';
import type { Shape } from '../ir/types.js';

/** What an expression can see: parameters and the enclosing definition's input shape. */
export interface Env {
  values: Map<string, Value>;
  /** `in` — undefined when unknown (a definition checked without an input), null after an upstream error. */
  input: Shape | null | undefined;
}

export interface EvalProblem {
  code: Code;
  message: string;
  range: Range;
  help?: string;
}

/** Raised inside evaluation only; callers turn it into a diagnostic and carry on. */
export class EvalError extends Error {
  constructor(readonly problem: EvalProblem) {
    super(problem.message);
  }
}

/** Signals that the value depends on something unknown (a failed upstream shape): no diagnostic. */
export class Unknown extends Error {}

const FUNCTIONS: Record<string, { arity: [number, number]; apply: (args: number[]) => number }> = {
  floor: { arity: [1, 1], apply: ([x]) => Math.floor(x!) },
  ceil: { arity: [1, 1], apply: ([x]) => Math.ceil(x!) },
  round: { arity: [1, 1], apply: ([x]) => Math.round(x!) },
  abs: { arity: [1, 1], apply: ([x]) => Math.abs(x!) },
  // A loop, not Math.min(...xs): spreading a very long argument list overflows the stack.
  min: { arity: [1, Infinity], apply: (xs) => xs.reduce((a, b) => (b < a ? b : a)) },
  max: { arity: [1, Infinity], apply: (xs) => xs.reduce((a, b) => (b > a ? b : a)) },
};
export const FUNCTION_NAMES = Object.keys(FUNCTIONS);

const SHAPE_FIELDS: Record<string, number> = { c: 0, h: 1, w: 2 };

export function describeValue(v: Value): string {
  if (Array.isArray(v)) return `the tuple (${v.join(', ')})`;
  if (typeof v === 'string') return `the string "${v}"`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
}

function number(v: Value, range: Range, what: string): number {
  if (typeof v !== 'number') {
    throw new EvalError({ code: 'NET1003', message: `${what} needs a number, got ${describeValue(v)}`, range });
  }
  return v;
}

function bool(v: Value, range: Range, what: string): boolean {
  if (typeof v !== 'boolean') {
    throw new EvalError({ code: 'NET1003', message: `${what} needs a boolean, got ${describeValue(v)}`, range });
  }
  return v;
}

export function evaluate(expr: Expr, env: Env): Value {
  switch (expr.kind) {
    case 'number':
      if (!Number.isFinite(expr.value)) {
        throw new EvalError({ code: 'NET3003', message: 'this number is too large: the largest is about 1.8e308', range: expr.range });
      }
      return expr.value;
    case 'bool':
    case 'string':
      return expr.value;
    case 'error':
      throw new Unknown();
    case 'name': {
      const v = env.values.get(expr.name);
      if (v === undefined) {
        const known = [...env.values.keys()];
        throw new EvalError({
          code: 'NET1001',
          message: `unknown name \`${expr.name}\``,
          range: expr.range,
          help: known.length ? `names in scope here: ${known.join(', ')}` : 'this definition has no parameters',
        });
      }
      return v;
    }
    case 'inShape': {
      const axis = SHAPE_FIELDS[expr.field];
      if (axis === undefined) {
        throw new EvalError({ code: 'NET1001', message: `\`in\` has no field \`${expr.field}\``, range: expr.fieldRange, help: 'use in.c, in.h or in.w' });
      }
      if (env.input === undefined || env.input === null) throw new Unknown();
      if (axis >= env.input.length) {
        throw new EvalError({
          code: 'NET3002',
          message: `\`in.${expr.field}\` is undefined: the input is flat, [${env.input.join(', ')}]`,
          range: expr.range,
          help: 'use in.c for the number of features of a flat input',
        });
      }
      return env.input[axis]!;
    }
    case 'unary': {
      const v = evaluate(expr.operand, env);
      return expr.op === '-' ? -number(v, expr.operand.range, 'negation') : !bool(v, expr.operand.range, '`not`');
    }
    case 'conditional':
      return bool(evaluate(expr.test, env), expr.test.range, 'a condition') ? evaluate(expr.then, env) : evaluate(expr.else, env);
    case 'apply': {
      const fn = FUNCTIONS[expr.name];
      if (!fn) {
        throw new EvalError({
          code: 'NET1001',
          message: `unknown function \`${expr.name}\``,
          range: expr.nameRange,
          help: `functions: ${FUNCTION_NAMES.join(', ')}`,
        });
      }
      if (expr.args.length < fn.arity[0] || expr.args.length > fn.arity[1]) {
        throw new EvalError({
          code: 'NET1002',
          message: `\`${expr.name}\` takes ${fn.arity[0] === fn.arity[1] ? fn.arity[0] : `at least ${fn.arity[0]}`} argument${fn.arity[0] === 1 && fn.arity[1] === 1 ? '' : 's'}, got ${expr.args.length}`,
          range: expr.range,
        });
      }
      return finite(fn.apply(expr.args.map((a) => number(evaluate(a, env), a.range, `\`${expr.name}\``))), expr);
    }
    case 'binary':
      return binary(expr, env);
    case 'tuple':
      return expr.items.map((item) => number(evaluate(item, env), item.range, 'a tuple item'));
  }
}

function binary(expr: Extract<Expr, { kind: 'binary' }>, env: Env): Value {
  if (expr.op === 'and' || expr.op === 'or') {
    const left = bool(evaluate(expr.left, env), expr.left.range, `\`${expr.op}\``);
    if (expr.op === 'and' ? !left : left) return left;
    return bool(evaluate(expr.right, env), expr.right.range, `\`${expr.op}\``);
  }
  const a = evaluate(expr.left, env);
  const b = evaluate(expr.right, env);
  if (expr.op === '==') return same(a, b);
  if (expr.op === '!=') return !same(a, b);
  const what = `\`${expr.op}\``;
  const x = number(a, expr.left.range, what);
  const y = number(b, expr.right.range, what);
  switch (expr.op) {
    case '+':
      return finite(x + y, expr);
    case '-':
      return finite(x - y, expr);
    case '*':
      return finite(x * y, expr);
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
    default: {
      if (y === 0) throw new EvalError({ code: 'NET3001', message: `division by zero: ${x} ${expr.op} 0`, range: expr.range });
      if (expr.op === '/') return finite(x / y, expr);
      if (expr.op === '//') return finite(Math.floor(x / y), expr);
      return finite(x - y * Math.floor(x / y), expr);
    }
  }
}

/** Equality of values; tuples compare item by item. */
function same(a: Value, b: Value): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

/** Arithmetic that leaves the float range (`1e200 * 1e200`) is an error, not Infinity or NaN flowing into shapes. */
function finite(v: number, expr: Expr): number {
  if (Number.isFinite(v)) return v;
  throw new EvalError({ code: 'NET3003', message: `this arithmetic overflows: the result ${v} is not a finite number`, range: expr.range });
}
