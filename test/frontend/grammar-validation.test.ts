/**
 * netc builds its parser with chevrotain's grammar validations skipped (they cost >100 ms of every
 * start). This test builds it with them on: chevrotain throws "Parser Definition Errors detected"
 * on an ambiguous alternative, left recursion, a duplicate rule or an unreachable alternative.
 */
import { describe, expect, it } from 'vitest';
import { parserInstance, validatedParser } from '../../src/syntax/parser.js';

describe('the grammar passes chevrotain\'s validations', () => {
  it('a validated parser builds without definition errors', () => {
    const parser = validatedParser();
    expect(parser.definitionErrors).toEqual([]);
  });

  it('the validated and the production parser have the same rules', () => {
    const names = (p: { getGAstProductions(): Record<string, unknown> }) => Object.keys(p.getGAstProductions()).sort();
    expect(names(validatedParser())).toEqual(names(parserInstance()));
  });
});
