/**
 * netc builds its parser with chevrotain's grammar validations skipped (they cost >100 ms of every
 * start). This test builds it with them on: chevrotain throws "Parser Definition Errors detected"
 * on an ambiguous alternative, left recursion, a duplicate rule or an unreachable alternative.
 */
import { describe, expect, it } from 'vitest';
import { parserInstance, validatedParser } from '../../src/syntax/parser.js';
import { netLexer, validatedLexer } from '../../src/syntax/tokens.js';

describe("the grammar passes chevrotain's validations", () => {
  it('a validated parser builds without definition errors', () => {
    const parser = validatedParser();
    // chevrotain keeps definitionErrors off its public type.
    expect((parser as unknown as { definitionErrors: unknown[] }).definitionErrors).toEqual([]);
  });

  it('the lexer passes its pattern validations, and lexes a file as the production lexer does', () => {
    const lexer = validatedLexer();
    expect(lexer.lexerDefinitionErrors).toEqual([]);
    const text = 'use "resnet"\nnet n(c=2) : [3, 8, 8] <\n  conv 4 k=3; relu  # note\n  x: <gap ++ identity>; linear c\n>\n';
    const kinds = (r: ReturnType<typeof lexer.tokenize>) => r.tokens.map((t) => `${t.tokenType.name}:${t.image}`);
    expect(kinds(lexer.tokenize(text))).toEqual(kinds(netLexer.tokenize(text)));
  });

  it('the validated and the production parser have the same rules', () => {
    const names = (p: { getGAstProductions(): Record<string, unknown> }) => Object.keys(p.getGAstProductions()).sort();
    expect(names(validatedParser())).toEqual(names(parserInstance()));
  });
});
