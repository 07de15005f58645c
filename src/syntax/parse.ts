import type { Code } from '../diagnostics/catalog.js';
import type { IToken } from 'chevrotain';
import type { Item, Range, SourceFile } from './ast.js';
import { dropTooDeep, limitTreeDepth } from './depth.js';
import { parserInstance } from './parser.js';
import { DocComment, Identifier, netLexer, significantNewlines } from './tokens.js';
import { MAX_IDENTIFIER_CHARS } from '../check/limits.js';

export interface SyntaxError {
  code: Code;
  message: string;
  range: Range;
  help?: string;
}

export interface ParseResult {
  file: SourceFile;
  errors: SyntaxError[];
  comments: IToken[];
}

function describe(token: IToken): string {
  if (token.tokenType.name === 'EOF') return 'end of file';
  if (token.tokenType.name === 'Newline') return 'end of line';
  return `\`${token.image}\``;
}

/** Lex and parse one file; syntax errors are returned, never thrown. */
export function parseSource(text: string, path: string): ParseResult {
  // A UTF-8 byte-order mark (U+FEFF) at the start is skipped like a space; offsets stay the same.
  const lexed = netLexer.tokenize(text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text);
  const errors: SyntaxError[] = lexed.errors.map((e) => {
    const character = text.slice(e.offset, e.offset + e.length);
    return {
      code: 'NET0001',
      message: `unexpected ${[...character].length === 1 ? 'character' : 'characters'} \`${printable(character)}\``,
      range: { start: e.offset, end: e.offset + e.length },
      help: character === '"' ? 'strings end on the same line with a closing `"`' : undefined,
    };
  });
  // A name is repeated in every layer, message and table row that mentions it: bound it at the token.
  for (const t of lexed.tokens) {
    if (t.tokenType === Identifier && t.image.length > MAX_IDENTIFIER_CHARS) {
      errors.push({
        code: 'NET1011',
        message: `a name of ${t.image.length.toLocaleString('en-US')} characters is over the limit of ${MAX_IDENTIFIER_CHARS}`,
        range: { start: t.startOffset, end: t.endOffset! + 1 },
        help: 'use a shorter name',
      });
    }
  }
  const parser = parserInstance();
  const nested = dropTooDeep(significantNewlines(lexed.tokens));
  for (const p of nested.problems) errors.push({ code: 'NET1011', message: p.message, range: p.range, help: p.help });
  parser.input = nested.tokens;
  parser.collected = [];
  let items: (Item | undefined)[];
  try {
    items = parser.file() ?? parser.collected;
  } catch (e) {
    // Last resort when the stack is smaller than dropTooDeep assumes: report instead of crashing.
    if (!isStackOverflow(e)) throw e;
    items = [...parser.collected];
    const last = items[items.length - 1];
    const at = nested.tokens.find((t) => !last || t.startOffset >= last.range.end);
    errors.push({
      code: 'NET1011',
      message: 'this definition nests too deeply to parse',
      range: at ? { start: at.startOffset, end: at.endOffset! + 1 } : { start: 0, end: 0 },
      help: 'split it into blocks or defs that call each other',
    });
    parser.input = [];
  }
  for (const e of parser.errors) {
    const token = e.token;
    const found = Number.isNaN(token.startOffset) ? (e as { previousToken?: IToken }).previousToken : token;
    const at = found && !Number.isNaN(found.startOffset) ? found : undefined;
    const range = at
      ? token.tokenType.name === 'EOF' || Number.isNaN(token.startOffset)
        ? { start: at.endOffset! + 1, end: at.endOffset! + 1 }
        : { start: at.startOffset, end: at.endOffset! + 1 }
      : { start: text.length, end: text.length };
    errors.push({ code: 'NET0002', message: syntaxMessage(e.name, e.message, token, e.context?.ruleStack ?? []), range });
  }
  const comments = (lexed.groups['comments'] as IToken[] | undefined) ?? [];
  capErrors(errors);
  const parsed = items.filter((i): i is Item => i !== undefined);
  for (const p of limitTreeDepth(parsed)) errors.push({ code: 'NET1011', message: p.message, range: p.range, help: p.help });
  attachDocs(parsed, comments, text);
  return { file: { path, text, items: parsed }, errors, comments };
}

/** Syntax errors reported per file; a binary or non-.net file would otherwise give one per stray byte. */
export const MAX_SYNTAX_ERRORS = 100;

function capErrors(errors: SyntaxError[]): void {
  if (errors.length <= MAX_SYNTAX_ERRORS) return;
  errors.sort((a, b) => a.range.start - b.range.start);
  const next = errors[MAX_SYNTAX_ERRORS]!;
  const total = errors.length;
  errors.length = MAX_SYNTAX_ERRORS;
  errors.push({
    code: 'NET1011',
    message: `${total} syntax errors in this file; only the first ${MAX_SYNTAX_ERRORS} are reported`,
    range: next.range,
    help: 'is this a .net file? fix the first errors and check again',
  });
}

export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

/** Control characters and other invisible ones as `U+0000`, so a message stays one readable line. */
function printable(text: string): string {
  const chars = [...text];
  const shown = chars
    .slice(0, 8)
    .join('')
    .replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\uFFFD]/gu, (c) => ` U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} `)
    .replace(/ {2,}/g, ' ')
    .trim();
  return chars.length > 8 ? `${shown} ...` : shown;
}

const EXPRESSION_RULES = new Set([
  'expr',
  'disjunction',
  'conjunction',
  'negation',
  'comparison',
  'additive',
  'multiplicative',
  'unary',
  'primary',
  'countExpr',
  'numberLiteral',
  'parenExpr',
  'parenArg',
  'commandArg',
]);
const STAGE_RULES = new Set(['stage', 'operand', 'labelName', 'product', 'term', 'conditionalStage', 'lineSeq', 'multiSeq']);

function syntaxMessage(kind: string, chevrotainMessage: string, token: IToken, ruleStack: string[]): string {
  const found = describe(token);
  if (kind === 'MismatchedTokenException') {
    const wanted = /Expecting (?:token of type )?--> (.+?) <--/.exec(chevrotainMessage)?.[1];
    const word = wanted ? (TOKEN_WORDS[wanted] ?? wanted.replace(/'(.*)'/, '`$1`')) : 'something else';
    return `expected ${word}, found ${found}`;
  }
  const innermost = ruleStack[ruleStack.length - 1] ?? '';
  if (EXPRESSION_RULES.has(innermost)) return `expected an expression, found ${found}`;
  if (STAGE_RULES.has(innermost)) return `expected a layer, a block or a group \`< >\`, found ${found}`;
  if (innermost === 'item' || innermost === 'file') {
    return `expected a definition (\`use\`, \`def\`, \`block\` or \`net\`), found ${found}`;
  }
  const expecting = /Expecting:?\s*(?:one of these possible Token sequences:)?([\s\S]*?)but found/i.exec(chevrotainMessage);
  if (kind === 'NotAllInputParsedException') return `unexpected ${found}: expected the end of the definition`;
  if (kind === 'NoViableAltException' || kind === 'EarlyExitException') {
    const options = expecting ? summariseExpected(expecting[1]!) : '';
    return options ? `unexpected ${found}: expected ${options}` : `unexpected ${found}`;
  }
  return `syntax error at ${found}`;
}

const TOKEN_WORDS: Record<string, string> = {
  Identifier: 'a name',
  NumberLiteral: 'a number',
  StringLiteral: 'a string',
  Newline: 'a new line',
  Use: '`use`',
  Def: '`def`',
  Block: '`block`',
  Net: '`net`',
  In: '`in`',
  LParen: '`(`',
  RParen: '`)`',
  LBracket: '`[`',
  RBracket: '`]`',
  Less: '`<`',
  Greater: '`>`',
  Comma: '`,`',
  EOF: 'the end of the file',
  Semicolon: '`;`',
  Colon: '`:`',
  Equals: '`=`',
  Pipe: '`|`',
  Dot: '`.`',
};

function tokenDescription(name: string): string {
  return TOKEN_WORDS[name] ?? name.replace(/^'(.*)'$/, '`$1`');
}

function summariseExpected(list: string): string {
  const names = [...new Set([...list.matchAll(/\[([^\],]+)/g)].map((m) => m[1]!.trim()))];
  const words = names.map(tokenDescription);
  if (words.length === 0) return '';
  if (words.length > 5) return `${words.slice(0, 5).join(', ')}, ...`;
  return words.length === 1 ? words[0]! : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** `##` lines directly above a definition (no blank line between) are its documentation. */
function attachDocs(items: Item[], comments: IToken[], text: string): void {
  const docs = comments.filter((c) => c.tokenType === DocComment);
  if (docs.length === 0) return;
  const byLine = new Map<number, string>();
  for (const d of docs) byLine.set(d.startLine!, d.image.replace(/^##\s?/, ''));
  for (const item of items) {
    if (item.kind === 'use') continue;
    const line = lineOf(text, item.range.start);
    const lines: string[] = [];
    for (let l = line - 1; byLine.has(l); l--) lines.unshift(byLine.get(l)!);
    if (lines.length > 0) item.doc = lines.join('\n');
  }
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
