import type { IToken } from 'chevrotain';
import type { Arg, Expr, Item, Range, Stage } from './ast.js';
import * as T from './tokens.js';

/**
 * How deeply groups `< >`, branches `[ ]`, parentheses, conditionals and prefix operators may nest in
 * one definition. The parser is recursive descent: each level costs it a dozen stack frames, and about
 * 250 levels exhaust Node's default stack. Real networks nest fewer than 10 deep.
 */
export const MAX_PARSE_NESTING = 128;

/**
 * How deep a definition's syntax tree may be after parsing. Flat chains such as `1 + 1 + ... + 1` or
 * `relu + relu + ...` parse in a loop but build a tree as deep as they are long, which the later
 * (recursive) passes walk.
 */
export const MAX_TREE_DEPTH = 1000;

export interface DepthProblem {
  message: string;
  range: Range;
  help?: string;
}

const ITEM_KEYWORDS = new Set([T.Use, T.Def, T.Block, T.Net]);
const CLOSER_OF = new Map([
  [T.RParen, T.LParen],
  [T.RBracket, T.LBracket],
]);

function range(token: IToken): Range {
  return { start: token.startOffset, end: (token.endOffset ?? token.startOffset) + 1 };
}

/**
 * Finds definitions that nest deeper than MAX_PARSE_NESTING before the parser sees them, and removes
 * their tokens (up to the next `use`/`def`/`block`/`net`), so the rest of the file is still parsed and
 * checked. A `<` or `?` that is a comparison or an unfinished conditional is discarded when its
 * enclosing parenthesis or bracket closes, so comparisons never add up.
 */
export function dropTooDeep(tokens: IToken[], limit = MAX_PARSE_NESTING): { tokens: IToken[]; problems: DepthProblem[] } {
  const problems: DepthProblem[] = [];
  const kept: IToken[] = [];
  let stack: IToken['tokenType'][] = [];
  let prefixRun = 0;
  let itemStart = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const type = token.tokenType;
    if (ITEM_KEYWORDS.has(type)) {
      stack = [];
      itemStart = kept.length;
    }
    prefixRun = type === T.Minus || type === T.Not ? prefixRun + 1 : 0;
    if (type === T.LParen || type === T.LBracket || type === T.Less || type === T.Question) {
      stack.push(type);
    } else if (CLOSER_OF.has(type)) {
      const opener = CLOSER_OF.get(type)!;
      const at = stack.lastIndexOf(opener);
      if (at >= 0) stack.length = at;
    } else if ((type === T.Greater && stack[stack.length - 1] === T.Less) || (type === T.Colon && stack[stack.length - 1] === T.Question)) {
      stack.pop();
    }
    kept.push(token);
    if (stack.length + prefixRun > limit) {
      problems.push({
        message: `this definition nests more than ${limit} levels deep (groups, branches, parentheses and operators)`,
        range: range(token),
        help: 'split it into blocks or defs that call each other; the definition is skipped',
      });
      kept.length = itemStart;
      while (i + 1 < tokens.length && !ITEM_KEYWORDS.has(tokens[i + 1]!.tokenType)) i++;
      stack = [];
      prefixRun = 0;
    }
  }
  return { tokens: kept, problems };
}

/**
 * Cuts every part of a definition's tree that lies deeper than `limit` (replaced by an error node, which
 * later passes skip silently) and reports the first cut of each definition, so no later pass can recurse without bound.
 */
export function limitTreeDepth(items: Item[], limit = MAX_TREE_DEPTH): DepthProblem[] {
  const problems: DepthProblem[] = [];
  let reported = false;
  const cut = (r: Range): void => {
    // Once per definition: a chain cut at depth `limit` usually has more than one child down there.
    if (reported) return;
    reported = true;
    problems.push({
      message: `this expression or layer sequence nests more than ${limit} levels deep`,
      range: r,
      help: 'split it into smaller blocks, or use repetition (`<...> * n`) instead of writing a long chain out',
    });
  };
  const expr = (e: Expr | undefined, depth: number): Expr | undefined => {
    if (!e) return e;
    if (depth > limit) {
      cut(e.range);
      return { kind: 'error', range: e.range };
    }
    switch (e.kind) {
      case 'unary':
        e.operand = expr(e.operand, depth + 1)!;
        break;
      case 'binary':
        e.left = expr(e.left, depth + 1)!;
        e.right = expr(e.right, depth + 1)!;
        break;
      case 'conditional':
        e.test = expr(e.test, depth + 1)!;
        e.then = expr(e.then, depth + 1)!;
        e.else = expr(e.else, depth + 1)!;
        break;
      case 'apply':
        e.args = e.args.map((a) => expr(a, depth + 1)!);
        break;
      case 'tuple':
        e.items = e.items.map((a) => expr(a, depth + 1)!);
        break;
      default:
        break;
    }
    return e;
  };
  const args = (list: Arg[], depth: number): void => {
    for (const a of list) a.value = expr(a.value, depth + 1)!;
  };
  const stage = (s: Stage | undefined, depth: number): Stage | undefined => {
    if (!s) return s;
    if (depth > limit) {
      cut(s.range);
      return { kind: 'error', range: s.range };
    }
    switch (s.kind) {
      case 'seq':
        s.stages = s.stages.map((x) => stage(x, depth + 1)!);
        break;
      case 'label':
      case 'group':
        s.body = stage(s.body, depth + 1)!;
        break;
      case 'repeat':
        s.body = stage(s.body, depth + 1)!;
        s.count = expr(s.count, depth + 1)!;
        break;
      case 'branches':
        s.branches = s.branches.map((x) => stage(x, depth + 1)!);
        break;
      case 'if':
        s.test = expr(s.test, depth + 1)!;
        s.then = stage(s.then, depth + 1)!;
        s.else = stage(s.else, depth + 1);
        break;
      case 'combine':
        s.left = stage(s.left, depth + 1)!;
        s.right = stage(s.right, depth + 1)!;
        break;
      case 'call':
        args(s.args, depth);
        break;
      default:
        break;
    }
    return s;
  };
  for (const item of items) {
    if (item.kind === 'use') continue;
    reported = false;
    for (const p of item.params) p.default = expr(p.default, 1);
    if (item.kind === 'net') item.input = item.input.map((e) => expr(e, 1)!);
    item.body = stage(item.body, 1)!;
  }
  return problems;
}
