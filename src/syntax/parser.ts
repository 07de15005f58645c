import type * as Chevrotain from 'chevrotain';
import type { IToken, TokenType } from 'chevrotain';
import { chevrotain } from './chevrotain.js';
import type { Arg, BinaryOp, BlockDecl, DefDecl, Expr, Item, NetDecl, ParamDecl, Range, Stage, UseDecl } from './ast.js';
import * as T from './tokens.js';

const NO_RANGE: Range = { start: 0, end: 0 };

function tokenRange(token: IToken): Range {
  if (Number.isNaN(token.startOffset)) return NO_RANGE;
  return { start: token.startOffset, end: (token.endOffset ?? token.startOffset) + 1 };
}

/** The range from `first` to `last`. Tolerates the placeholders chevrotain passes while it records the grammar. */
function cover(first: { range: Range } | Range | undefined, last: { range: Range } | Range | undefined): Range {
  const a = first && 'range' in first ? first.range : (first as Range | undefined);
  const b = last && 'range' in last ? last.range : (last as Range | undefined);
  if (!a || a === NO_RANGE || Number.isNaN(a.start)) return b ?? NO_RANGE;
  if (!b || b === NO_RANGE || Number.isNaN(b.start)) return a;
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

const COMPARISONS = new Map<TokenType | undefined, BinaryOp>([
  [T.EqEq, '=='],
  [T.NotEq, '!='],
  [T.Less, '<'],
  [T.LessEq, '<='],
  [T.Greater, '>'],
  [T.GreaterEq, '>='],
]);

const ERROR_EXPR: Expr = { kind: 'error', range: NO_RANGE };

/**
 * What a rule yields when recovery re-syncs past it: an error node, never undefined, so the AST has no
 * holes (the binder treats error nodes as unknown and reports nothing more about them).
 */
const ERROR_STAGE = (): Stage => ({ kind: 'error', range: NO_RANGE });
const ERROR_VALUE = (): Expr => ({ kind: 'error', range: NO_RANGE });

/** An argument whose value could not be parsed: elaboration treats it as unknown (no second diagnostic). */
const errorArg = (): Arg => ({ value: { ...ERROR_EXPR }, range: NO_RANGE });

function withKeyword(keyword: IToken | undefined, parsed: Expr | undefined): Arg {
  // Under error recovery a sub-rule can yield nothing; keep an error expression in its place.
  const value = parsed ?? { ...ERROR_EXPR, range: keyword ? tokenRange(keyword) : NO_RANGE };
  if (!keyword?.image) return { value, range: value.range };
  return { name: keyword.image, nameRange: tokenRange(keyword), value, range: cover(tokenRange(keyword), value) };
}

type Lookahead = (this: unknown, ...args: unknown[]) => unknown;

/** A lookahead function built the first time the parser needs it. */
function lazily<F>(build: () => F): F {
  let built: Lookahead | undefined;
  return function (this: unknown, ...args: unknown[]) {
    built ??= build() as Lookahead;
    return built.apply(this, args);
  } as F;
}

/**
 * chevrotain's LL(k) lookahead, each decision's function computed on first use instead of all of
 * them when the parser is built: a file exercises a fraction of the grammar's decisions, and
 * computing them all was the largest part of netc's start-up after the validations.
 */
class LazyLookahead extends chevrotain.LLkLookaheadStrategy {
  override buildLookaheadForAlternation(options: Parameters<Chevrotain.ILookaheadStrategy['buildLookaheadForAlternation']>[0]) {
    return lazily(() => super.buildLookaheadForAlternation(options));
  }

  override buildLookaheadForOptional(options: Parameters<Chevrotain.ILookaheadStrategy['buildLookaheadForOptional']>[0]) {
    return lazily(() => super.buildLookaheadForOptional(options));
  }
}

/**
 * The `.net` grammar (reference: grammar/net.ebnf), building the AST directly.
 * Error recovery is on, so one run reports every syntax error of a file.
 */
class NetParser extends chevrotain.EmbeddedActionsParser {
  /**
   * `validate`: chevrotain's self-checks of the grammar (ambiguities, left recursion, unreachable
   * alternatives). They cost over 100 ms of every start and find nothing in a grammar that does not
   * change at run time, so netc skips them; test/frontend/grammar-validation.test.ts builds the
   * parser with them on and fails on any definition error, which keeps the grammar honest.
   */
  constructor(validate = false) {
    // With validations on, chevrotain's own strategy (a present but undefined key would replace it).
    super(T.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      skipValidations: !validate,
      ...(validate ? {} : { lookaheadStrategy: new LazyLookahead({ maxLookahead: 3 }) }),
    });
    this.performSelfAnalysis();
  }

  /**
   * The items of the current `file()` run, kept outside the rule: when recovery fails deep inside the
   * last definition (a group left open at the end of the file), chevrotain abandons the top-level rule
   * and its return value, but the definitions parsed before it are still good and still checked.
   */
  public collected: Item[] = [];

  public file = this.RULE('file', (): Item[] => {
    const items: Item[] = [];
    this.ACTION(() => {
      this.collected = items;
    });
    this.MANY(() => this.CONSUME(T.Newline));
    this.MANY2(() => {
      const item = this.SUBRULE(this.item);
      this.ACTION(() => {
        if (item) items.push(item);
      });
      this.OR([{ ALT: () => this.MANY3(() => this.CONSUME2(T.Newline)) }]);
    });
    return items;
  });

  private item = this.RULE(
    'item',
    (): Item | undefined =>
      this.OR([
        { ALT: () => this.SUBRULE(this.useDecl) },
        { ALT: () => this.SUBRULE(this.defDecl) },
        { ALT: () => this.SUBRULE(this.blockDecl) },
        { ALT: () => this.SUBRULE(this.netDecl) },
      ]),
    { recoveryValueFunc: () => undefined },
  );

  private useDecl = this.RULE('useDecl', (): UseDecl => {
    const keyword = this.CONSUME(T.Use);
    const target = this.CONSUME(T.StringLiteral);
    return {
      kind: 'use',
      target: target.image.slice(1, -1),
      targetRange: tokenRange(target),
      range: cover(tokenRange(keyword), tokenRange(target)),
    };
  });

  private defDecl = this.RULE('defDecl', (): DefDecl => {
    const keyword = this.CONSUME(T.Def);
    const name = this.CONSUME(T.Identifier);
    const params = this.OPTION(() => this.SUBRULE(this.params)) ?? [];
    this.CONSUME(T.Equals);
    this.MANY(() => this.CONSUME(T.Newline));
    const body = this.SUBRULE(this.lineSeq);
    return { kind: 'def', name: name.image, nameRange: tokenRange(name), params, body, range: cover(tokenRange(keyword), body) };
  });

  private blockDecl = this.RULE('blockDecl', (): BlockDecl => {
    const keyword = this.CONSUME(T.Block);
    const name = this.CONSUME(T.Identifier);
    const params = this.OPTION(() => this.SUBRULE(this.params)) ?? [];
    this.OPTION2(() => this.CONSUME(T.Equals));
    const body = this.SUBRULE(this.lineSeq);
    return { kind: 'block', name: name.image, nameRange: tokenRange(name), params, body, range: cover(tokenRange(keyword), body) };
  });

  private netDecl = this.RULE('netDecl', (): NetDecl => {
    const keyword = this.CONSUME(T.Net);
    const name = this.CONSUME(T.Identifier);
    const params = this.OPTION(() => this.SUBRULE(this.params)) ?? [];
    this.CONSUME(T.Colon);
    const open = this.CONSUME(T.LBracket);
    const input: Expr[] = [];
    this.MANY_SEP({
      SEP: T.Comma,
      DEF: () => {
        const dim = this.SUBRULE(this.expr);
        this.ACTION(() => input.push(dim));
      },
    });
    const close = this.CONSUME(T.RBracket);
    this.OPTION3(() => this.CONSUME(T.Equals));
    const body = this.SUBRULE(this.lineSeq);
    return {
      kind: 'net',
      name: name.image,
      nameRange: tokenRange(name),
      params,
      input,
      inputRange: cover(tokenRange(open), tokenRange(close)),
      body,
      range: cover(tokenRange(keyword), body),
    };
  });

  private params = this.RULE('params', (): ParamDecl[] => {
    const params: ParamDecl[] = [];
    this.CONSUME(T.LParen);
    this.MANY_SEP({
      SEP: T.Comma,
      DEF: () => {
        const name = this.CONSUME(T.Identifier);
        const fallback = this.OPTION(() => {
          this.CONSUME(T.Equals);
          return this.SUBRULE(this.expr);
        });
        this.ACTION(() => params.push({ name: name.image, nameRange: tokenRange(name), default: fallback }));
      },
    });
    this.CONSUME(T.RParen);
    return params;
  });

  /** Stages separated by `;` up to the end of the line (the body of a definition). */
  private lineSeq = this.RULE(
    'lineSeq',
    (): Stage => {
      const stages: Stage[] = [this.SUBRULE(this.stage)];
      this.MANY(() => {
        this.CONSUME(T.Semicolon);
        this.OPTION(() => {
          const next = this.SUBRULE2(this.stage);
          this.ACTION(() => stages.push(next));
        });
      });
      return stages.length === 1 ? stages[0]! : { kind: 'seq', stages, range: cover(stages[0]!, stages[stages.length - 1]!) };
    },
    { recoveryValueFunc: () => ({ kind: 'error' as const, range: NO_RANGE }) },
  );

  /** Stages separated by `;` or newlines (inside `< >` and `[ ]`). */
  private multiSeq = this.RULE(
    'multiSeq',
    (): Stage => {
      const stages: Stage[] = [];
      this.MANY(() => this.SUBRULE(this.separator));
      this.OPTION(() => {
        stages.push(this.SUBRULE(this.stage));
        this.MANY2(() => {
          this.SUBRULE2(this.separator);
          this.OPTION2(() => {
            const next = this.SUBRULE2(this.stage);
            this.ACTION(() => stages.push(next));
          });
        });
      });
      if (stages.length === 1) return stages[0]!;
      return { kind: 'seq', stages, range: stages.length ? cover(stages[0]!, stages[stages.length - 1]!) : NO_RANGE };
    },
    { recoveryValueFunc: () => ({ kind: 'error' as const, range: NO_RANGE }) },
  );

  private separator = this.RULE('separator', () => {
    this.OR([{ ALT: () => this.CONSUME(T.Semicolon) }, { ALT: () => this.CONSUME(T.Newline) }]);
  });

  /**
   * `[label:] a + b ++ c` (lowest precedence, left-associative). A label names only the operand it is written
   * before (`a: x + y` labels `x`); to name a whole combination, group it: `a: < x + y >`. A line that starts
   * with `+` or `++` continues the combination on the line above.
   */
  private stage = this.RULE(
    'stage',
    (): Stage => {
      let left = this.SUBRULE(this.operand);
      this.MANY({
        GATE: () => {
          const next = this.LA(1).tokenType === T.Newline ? this.LA(2).tokenType : this.LA(1).tokenType;
          return next === T.Plus || next === T.PlusPlus;
        },
        DEF: () => {
          this.OPTION(() => this.CONSUME(T.Newline));
          const op = this.OR([{ ALT: () => this.CONSUME(T.PlusPlus) }, { ALT: () => this.CONSUME(T.Plus) }]);
          this.MANY2(() => this.CONSUME2(T.Newline));
          const right = this.SUBRULE2(this.operand);
          left = {
            kind: 'combine',
            op: op?.tokenType === T.Plus ? '+' : '++',
            opRange: tokenRange(op),
            left,
            right,
            range: cover(left, right),
          };
        },
      });
      return left;
    },
    { recoveryValueFunc: ERROR_STAGE },
  );

  /** `[label:] product`: one operand of `+`/`++`, the label naming it alone. */
  private operand = this.RULE(
    'operand',
    (): Stage => {
      const label = this.OPTION(() => {
        const name = this.SUBRULE(this.labelName);
        this.CONSUME(T.Colon);
        return name;
      });
      const body = this.SUBRULE(this.product);
      if (!label) return body;
      return { kind: 'label', label: label.image, labelRange: tokenRange(label), body, range: cover(tokenRange(label), body) };
    },
    { recoveryValueFunc: ERROR_STAGE },
  );

  /** A label: a name, a keyword (`block:`, torchvision's MBConv names), or a whole number (`0:`, a Sequential index). */
  private labelName = this.RULE(
    'labelName',
    (): IToken =>
      this.OR([
        { ALT: () => this.CONSUME(T.Identifier) },
        { ALT: () => this.CONSUME(T.NumberLiteral) },
        ...[T.Block, T.Net, T.Def, T.Use, T.In, T.True, T.False, T.And, T.Or, T.Not, T.If, T.Else].map((t) => ({ ALT: () => this.CONSUME(t) })),
      ]),
  );

  /** `a * b` (scale) and `a * 3` (repetition: a number or a parenthesised expression; a bare name is decided later). */
  private product = this.RULE(
    'product',
    (): Stage => {
      let left = this.SUBRULE(this.term);
      this.MANY(() => {
        const op = this.CONSUME(T.Star);
        this.MANY2(() => this.CONSUME(T.Newline));
        this.OR([
          {
            ALT: () => {
              const count = this.SUBRULE(this.countExpr);
              left = { kind: 'repeat', body: left, count, range: cover(left, count) };
            },
          },
          {
            ALT: () => {
              const right = this.SUBRULE2(this.term);
              left = { kind: 'combine', op: '*', opRange: tokenRange(op), left, right, range: cover(left, right) };
            },
          },
        ]);
      });
      return left;
    },
    { recoveryValueFunc: ERROR_STAGE },
  );

  private countExpr = this.RULE(
    'countExpr',
    (): Expr => this.OR([{ ALT: () => this.SUBRULE(this.numberLiteral) }, { ALT: () => this.SUBRULE(this.parenExpr) }]),
    { recoveryValueFunc: ERROR_VALUE },
  );

  private term = this.RULE(
    'term',
    (): Stage =>
      this.OR([
        { ALT: () => this.SUBRULE(this.group) },
        { ALT: () => this.SUBRULE(this.branches) },
        { ALT: () => this.SUBRULE(this.conditionalStage) },
        { ALT: () => this.SUBRULE(this.call) },
      ]),
    { recoveryValueFunc: () => ({ kind: 'error' as const, range: NO_RANGE }) },
  );

  /** `if (test) stage [else stage]`: the condition is evaluated where the definition is used. */
  private conditionalStage = this.RULE(
    'conditionalStage',
    (): Stage => {
      const keyword = this.CONSUME(T.If);
      this.CONSUME(T.LParen);
      const test = this.SUBRULE(this.expr);
      this.CONSUME(T.RParen);
      const then = this.SUBRULE(this.term);
      // `else` may start the next line.
      const otherwise = this.OPTION({
        GATE: () => this.LA(1).tokenType === T.Else || (this.LA(1).tokenType === T.Newline && this.LA(2).tokenType === T.Else),
        DEF: () => {
          this.OPTION2(() => this.CONSUME(T.Newline));
          this.CONSUME(T.Else);
          return this.SUBRULE2(this.term);
        },
      });
      return { kind: 'if', test, then, else: otherwise, range: cover(tokenRange(keyword), otherwise ?? then) };
    },
    { recoveryValueFunc: ERROR_STAGE },
  );

  private group = this.RULE(
    'group',
    (): Stage => {
      const open = this.CONSUME(T.Less);
      const body = this.SUBRULE(this.multiSeq);
      const close = this.CONSUME(T.Greater);
      return { kind: 'group', body, range: cover(tokenRange(open), tokenRange(close)) };
    },
    { recoveryValueFunc: ERROR_STAGE },
  );

  private branches = this.RULE(
    'branches',
    (): Stage => {
      const open = this.CONSUME(T.LBracket);
      const branches: Stage[] = [this.SUBRULE(this.multiSeq)];
      this.MANY(() => {
        this.CONSUME(T.Pipe);
        const next = this.SUBRULE2(this.multiSeq);
        this.ACTION(() => branches.push(next));
      });
      const close = this.CONSUME(T.RBracket);
      return { kind: 'branches', branches, range: cover(tokenRange(open), tokenRange(close)) };
    },
    { recoveryValueFunc: ERROR_STAGE },
  );

  /** `name(args)` when the parenthesis touches the name, else `name arg arg key=value`. */
  private call = this.RULE(
    'call',
    (): Stage => {
      const name = this.CONSUME(T.Identifier);
      let end = tokenRange(name);
      const args: Arg[] = [];
      this.OR([
        {
          GATE: () => this.LA(1).tokenType === T.LParen && this.LA(1).startOffset === name.endOffset! + 1,
          ALT: () => {
            this.CONSUME(T.LParen);
            this.MANY_SEP({
              SEP: T.Comma,
              DEF: () => {
                const arg = this.SUBRULE(this.parenArg);
                this.ACTION(() => {
                  if (arg) args.push(arg);
                });
              },
            });
            end = tokenRange(this.CONSUME(T.RParen));
          },
        },
        {
          ALT: () => {
            this.MANY(() => {
              const arg = this.SUBRULE(this.commandArg);
              this.ACTION(() => {
                if (!arg) return;
                args.push(arg);
                if (arg.range !== NO_RANGE) end = arg.range;
              });
            });
          },
        },
      ]);
      return { kind: 'call', name: name.image, nameRange: tokenRange(name), args, range: cover(tokenRange(name), end) };
    },
    { recoveryValueFunc: ERROR_STAGE },
  );

  private parenArg = this.RULE(
    'parenArg',
    (): Arg => {
      const keyword = this.OPTION(() => this.SUBRULE(this.keywordName));
      return withKeyword(keyword, this.SUBRULE(this.expr));
    },
    { recoveryValueFunc: errorArg },
  );

  /** Command-style arguments stop at comparisons, so `<conv c>` closes the group; parenthesise to compare. */
  private commandArg = this.RULE(
    'commandArg',
    (): Arg => {
      const keyword = this.OPTION(() => this.SUBRULE(this.keywordName));
      return withKeyword(keyword, this.SUBRULE(this.additive));
    },
    { recoveryValueFunc: errorArg },
  );

  private keywordName = this.RULE('keywordName', (): IToken => {
    const name = this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    return name;
  });

  // ---- expressions ----

  public expr = this.RULE(
    'expr',
    (): Expr => {
      const test = this.SUBRULE(this.disjunction);
      const branches = this.OPTION(() => {
        this.CONSUME(T.Question);
        const then = this.SUBRULE(this.expr);
        this.CONSUME(T.Colon);
        const otherwise = this.SUBRULE2(this.expr);
        return { then, otherwise };
      });
      if (!branches?.then) return test;
      return { kind: 'conditional', test, then: branches.then, else: branches.otherwise, range: cover(test, branches.otherwise) };
    },
    { recoveryValueFunc: () => ({ kind: 'error' as const, range: NO_RANGE }) },
  );

  private disjunction = this.RULE(
    'disjunction',
    (): Expr => {
      let left = this.SUBRULE(this.conjunction);
      this.MANY(() => {
        const op = this.CONSUME(T.Or);
        const right = this.SUBRULE2(this.conjunction);
        left = { kind: 'binary', op: 'or', left, right, opRange: tokenRange(op), range: cover(left, right) };
      });
      return left;
    },
    { recoveryValueFunc: ERROR_VALUE },
  );

  private conjunction = this.RULE(
    'conjunction',
    (): Expr => {
      let left = this.SUBRULE(this.negation);
      this.MANY(() => {
        const op = this.CONSUME(T.And);
        const right = this.SUBRULE2(this.negation);
        left = { kind: 'binary', op: 'and', left, right, opRange: tokenRange(op), range: cover(left, right) };
      });
      return left;
    },
    { recoveryValueFunc: ERROR_VALUE },
  );

  private negation = this.RULE(
    'negation',
    (): Expr =>
      this.OR([
        {
          ALT: () => {
            const op = this.CONSUME(T.Not);
            const operand = this.SUBRULE(this.negation);
            return { kind: 'unary', op: 'not', operand, range: cover(tokenRange(op), operand) } as Expr;
          },
        },
        { ALT: () => this.SUBRULE(this.comparison) },
      ]),
    { recoveryValueFunc: ERROR_VALUE },
  );

  private comparison = this.RULE(
    'comparison',
    (): Expr => {
      const left = this.SUBRULE(this.additive);
      const rest = this.OPTION(() => {
        const op = this.OR([
          { ALT: () => this.CONSUME(T.EqEq) },
          { ALT: () => this.CONSUME(T.NotEq) },
          { ALT: () => this.CONSUME(T.LessEq) },
          { ALT: () => this.CONSUME(T.GreaterEq) },
          { ALT: () => this.CONSUME(T.Less) },
          { ALT: () => this.CONSUME(T.Greater) },
        ]);
        const right = this.SUBRULE2(this.additive);
        return { op, right };
      });
      if (!rest?.op) return left;
      return {
        kind: 'binary',
        op: COMPARISONS.get(rest.op?.tokenType) ?? '==',
        left,
        right: rest.right,
        opRange: tokenRange(rest.op),
        range: cover(left, rest.right),
      };
    },
    { recoveryValueFunc: ERROR_VALUE },
  );

  private additive = this.RULE(
    'additive',
    (): Expr => {
      let left = this.SUBRULE(this.multiplicative);
      this.MANY(() => {
        const op = this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]);
        const right = this.SUBRULE2(this.multiplicative);
        left = {
          kind: 'binary',
          op: op?.tokenType === T.Plus ? '+' : '-',
          left,
          right,
          opRange: tokenRange(op),
          range: cover(left, right),
        };
      });
      return left;
    },
    { recoveryValueFunc: ERROR_VALUE },
  );

  private multiplicative = this.RULE(
    'multiplicative',
    (): Expr => {
      let left = this.SUBRULE(this.unary);
      this.MANY({
        // `conv 8 k=1 * <gap; ...>`: a `*` before a group or branches scales the layer; it does not multiply.
        GATE: () => !(this.LA(1).tokenType === T.Star && (this.LA(2).tokenType === T.Less || this.LA(2).tokenType === T.LBracket)),
        DEF: () => {
          const op = this.OR([
            { ALT: () => this.CONSUME(T.Star) },
            { ALT: () => this.CONSUME(T.SlashSlash) },
            { ALT: () => this.CONSUME(T.Slash) },
            { ALT: () => this.CONSUME(T.Percent) },
          ]);
          const right = this.SUBRULE2(this.unary);
          const type = op?.tokenType;
          const symbol: BinaryOp = type === T.Star ? '*' : type === T.SlashSlash ? '//' : type === T.Slash ? '/' : '%';
          left = { kind: 'binary', op: symbol, left, right, opRange: tokenRange(op), range: cover(left, right) };
        },
      });
      return left;
    },
    { recoveryValueFunc: ERROR_VALUE },
  );

  private unary = this.RULE(
    'unary',
    (): Expr =>
      this.OR([
        {
          ALT: () => {
            const op = this.CONSUME(T.Minus);
            const operand = this.SUBRULE(this.unary);
            return { kind: 'unary', op: '-', operand, range: cover(tokenRange(op), operand) } as Expr;
          },
        },
        { ALT: () => this.SUBRULE(this.primary) },
      ]),
    { recoveryValueFunc: ERROR_VALUE },
  );

  private numberLiteral = this.RULE(
    'numberLiteral',
    (): Expr => {
      const token = this.CONSUME(T.NumberLiteral);
      return { kind: 'number', value: Number(token.image), range: tokenRange(token) };
    },
    { recoveryValueFunc: ERROR_VALUE },
  );

  /** `(expr)`, or `(a, b)`: a tuple of per-axis values. */
  private parenExpr = this.RULE(
    'parenExpr',
    (): Expr => {
      const open = this.CONSUME(T.LParen);
      const inner = this.SUBRULE(this.expr);
      const rest: Expr[] = [];
      this.MANY(() => {
        this.CONSUME(T.Comma);
        const next = this.SUBRULE2(this.expr);
        this.ACTION(() => rest.push(next));
      });
      const close = this.CONSUME(T.RParen);
      const range = cover(tokenRange(open), tokenRange(close));
      if (rest.length === 0) return { ...inner, range };
      return { kind: 'tuple', items: [inner, ...rest], range };
    },
    { recoveryValueFunc: ERROR_VALUE },
  );

  private primary = this.RULE(
    'primary',
    (): Expr =>
      this.OR([
        { ALT: () => this.SUBRULE(this.numberLiteral) },
        { ALT: () => this.SUBRULE(this.parenExpr) },
        {
          ALT: () => {
            const token = this.CONSUME(T.StringLiteral);
            return { kind: 'string', value: token.image.slice(1, -1), range: tokenRange(token) } as Expr;
          },
        },
        { ALT: () => ({ kind: 'bool', value: true, range: tokenRange(this.CONSUME(T.True)) }) as Expr },
        { ALT: () => ({ kind: 'bool', value: false, range: tokenRange(this.CONSUME(T.False)) }) as Expr },
        {
          ALT: () => {
            const keyword = this.CONSUME(T.In);
            this.CONSUME(T.Dot);
            const field = this.CONSUME(T.Identifier);
            return { kind: 'inShape', field: field.image, fieldRange: tokenRange(field), range: cover(tokenRange(keyword), tokenRange(field)) } as Expr;
          },
        },
        {
          ALT: () => {
            const name = this.CONSUME2(T.Identifier);
            const applied = this.OPTION(() => {
              this.CONSUME2(T.LParen);
              const args: Expr[] = [];
              this.MANY_SEP({
                SEP: T.Comma,
                DEF: () => {
                  const arg = this.SUBRULE2(this.expr);
                  this.ACTION(() => args.push(arg));
                },
              });
              const close = this.CONSUME2(T.RParen);
              return { args, close };
            });
            if (!applied?.close) return { kind: 'name', name: name.image, range: tokenRange(name) } as Expr;
            return {
              kind: 'apply',
              name: name.image,
              nameRange: tokenRange(name),
              args: applied.args,
              range: cover(tokenRange(name), tokenRange(applied.close)),
            } as Expr;
          },
        },
      ]),
    { recoveryValueFunc: () => ({ kind: 'error' as const, range: NO_RANGE }) },
  );
}

let shared: NetParser | undefined;

/** The parser is built once per process: its grammar analysis is the expensive part. */
export function parserInstance(): NetParser {
  shared ??= new NetParser();
  return shared;
}

/** A fresh parser with chevrotain's grammar validations on; throws on any grammar definition error. */
export function validatedParser(): NetParser {
  return new NetParser(true);
}

export type { NetParser };
