import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSource } from '../src/syntax/parse.js';

const ebnf = readFileSync(new URL('../grammar/net.ebnf', import.meta.url), 'utf8');
const examples = [...ebnf.matchAll(/\(\*>([\s\S]*?)\*\)/g)].map((m) => m[1]!.trim());

describe('grammar/net.ebnf', () => {
  it('has examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(12);
  });
  it.each(examples)('parses example: %s', (example) => {
    const { errors, file } = parseSource(example, 'example.net');
    expect(errors).toEqual([]);
    expect(file.items.length).toBe(1);
  });
  it('the card line parses exactly as written, into a block whose body is `< ... > + shortcut`', () => {
    const { errors, file } = parseSource('block Basic(c)< conv3x3 c; bn; relu; conv3x3 c; bn > + shortcut', 'card.net');
    expect(errors).toEqual([]);
    const block = file.items[0]!;
    expect(block.kind).toBe('block');
    if (block.kind !== 'block') return;
    expect(block.name).toBe('Basic');
    expect(block.params.map((p) => p.name)).toEqual(['c']);
    expect(block.body.kind).toBe('combine');
    if (block.body.kind !== 'combine') return;
    expect(block.body.op).toBe('+');
    expect(block.body.right).toMatchObject({ kind: 'call', name: 'shortcut', args: [] });
    expect(block.body.left.kind).toBe('group');
  });
});
