// The CLI writes its JSON documents in pieces (src/cli/json.ts) so a net near the layer limit, whose
// document is longer than V8's longest string, still prints; the pieces must add up to JSON.stringify's text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../src/api.js';
import { summarize } from '../../src/check/summary.js';
import { writeJson } from '../../src/cli/json.js';

function pieces(value: unknown): { text: string; chunks: number } {
  const out: string[] = [];
  writeJson(value, (c) => out.push(c));
  return { text: out.join(''), chunks: out.length };
}

describe('writeJson', () => {
  it('equals JSON.stringify(value, null, 2) + newline for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(pieces(v).text).toBe(`${JSON.stringify(v, null, 2)}\n`);
      }),
      { seed: 7, numRuns: 500 },
    );
  });

  it('leaves out undefined and functions like JSON.stringify, and writes them as null in arrays', () => {
    const v = { a: undefined, b: () => 1, c: [undefined, () => 2, 3], d: {}, e: [], f: new Date(0), g: -0, h: NaN };
    expect(pieces(v).text).toBe(`${JSON.stringify(v, null, 2)}\n`);
  });

  it('writes an IR graph and a summary exactly, in several chunks when large', () => {
    const r = compileSource(`net n : [3, 8, 8] <\n${'  conv 3 k=3 pad=1\n'.repeat(3000)}>\n`, '/virtual/big.net');
    const doc = { graph: r.graphs[0], summary: summarize(r.graphs[0]!) };
    const { text, chunks } = pieces(doc);
    expect(text).toBe(`${JSON.stringify(doc, null, 2)}\n`);
    expect(chunks).toBeGreaterThan(1);
  });
});
