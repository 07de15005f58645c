import type { IToken, TokenType } from 'chevrotain';
import { chevrotain } from './chevrotain.js';

const { createToken, Lexer } = chevrotain;

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

const keyword = (word: string): TokenType =>
  createToken({ name: word[0]!.toUpperCase() + word.slice(1), pattern: new RegExp(`${word}\\b`), longer_alt: Identifier });

export const Use = keyword('use');
export const Def = keyword('def');
export const Block = keyword('block');
export const Net = keyword('net');
export const In = keyword('in');
export const True = keyword('true');
export const False = keyword('false');
export const And = keyword('and');
export const Or = keyword('or');
export const Not = keyword('not');
export const If = keyword('if');
export const Else = keyword('else');

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\f]+/, group: Lexer.SKIPPED });
export const DocComment = createToken({ name: 'DocComment', pattern: /##[^\n]*/, group: 'comments' });
export const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: 'comments' });
export const Newline = createToken({ name: 'Newline', pattern: /\n/, line_breaks: true });
export const NumberLiteral = createToken({ name: 'NumberLiteral', pattern: /(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/ });
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"[^"\n]*"/ });

export const PlusPlus = createToken({ name: 'PlusPlus', pattern: /\+\+/, label: "'++'" });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: "'-'" });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: "'*'" });
export const SlashSlash = createToken({ name: 'SlashSlash', pattern: /\/\//, label: "'//'" });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: "'/'" });
export const Percent = createToken({ name: 'Percent', pattern: /%/, label: "'%'" });
export const EqEq = createToken({ name: 'EqEq', pattern: /==/, label: "'=='" });
export const NotEq = createToken({ name: 'NotEq', pattern: /!=/, label: "'!='" });
export const LessEq = createToken({ name: 'LessEq', pattern: /<=/, label: "'<='" });
export const GreaterEq = createToken({ name: 'GreaterEq', pattern: />=/, label: "'>='" });
export const Less = createToken({ name: 'Less', pattern: /</, label: "'<'" });
export const Greater = createToken({ name: 'Greater', pattern: />/, label: "'>'" });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: "'='" });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: "']'" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const Semicolon = createToken({ name: 'Semicolon', pattern: /;/, label: "';'" });
export const Colon = createToken({ name: 'Colon', pattern: /:/, label: "':'" });
export const Pipe = createToken({ name: 'Pipe', pattern: /\|/, label: "'|'" });
export const Question = createToken({ name: 'Question', pattern: /\?/, label: "'?'" });
export const Dot = createToken({ name: 'Dot', pattern: /\./, label: "'.'" });

export const allTokens: TokenType[] = [
  WhiteSpace,
  DocComment,
  Comment,
  Newline,
  Use,
  Def,
  Block,
  Net,
  In,
  True,
  False,
  And,
  Or,
  Not,
  If,
  Else,
  NumberLiteral,
  StringLiteral,
  Identifier,
  PlusPlus,
  Plus,
  Minus,
  Star,
  SlashSlash,
  Slash,
  Percent,
  EqEq,
  NotEq,
  LessEq,
  GreaterEq,
  Less,
  Greater,
  Equals,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Semicolon,
  Colon,
  Pipe,
  Question,
  Dot,
];

/**
 * skipValidations: chevrotain's checks of the token patterns cost tens of milliseconds of every
 * start; test/frontend/grammar-validation.test.ts builds the lexer with them on (validatedLexer).
 */
export const netLexer = new Lexer(allTokens, { ensureOptimizations: false, positionTracking: 'full', skipValidations: true });

/** The same lexer with chevrotain's pattern validations on; throws on a definition error. */
export function validatedLexer() {
  return new Lexer(allTokens, { ensureOptimizations: false, positionTracking: 'full' });
}

/**
 * Newlines separate stages, but inside parentheses a call's arguments may span lines:
 * drop the newlines there, and fold runs of newlines into one.
 */
export function significantNewlines(tokens: IToken[]): IToken[] {
  const out: IToken[] = [];
  const open: TokenType[] = [];
  for (const token of tokens) {
    const type = token.tokenType;
    if (type === LParen || type === LBracket) open.push(type);
    else if ((type === RParen || type === RBracket) && open.length > 0) open.pop();
    if (type === Newline) {
      if (open[open.length - 1] === LParen) continue;
      if (out.length === 0 || out[out.length - 1]!.tokenType === Newline) continue;
    }
    out.push(token);
  }
  return out;
}
