/**
 * "No pass switches on op names" (DESIGN.md), held by a test: outside src/ops/, no source compares an
 * IR node's `op` with an op's name, switches on it, or looks it up in a table keyed by op names.
 * Passes ask the op for a trait instead (src/ops/op.ts). The AST's operators (`stage.op === '+'`,
 * `expr.op === 'and'`) are not op names and are not flagged.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPS } from '../../src/ops/index.js';

const ROOT = join(import.meta.dirname, '../..');
const NAMES = new Set(OPS.flatMap((op) => [op.name, ...(op.aliases ?? [])]));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const VALUE = String.raw`[\w$.?!\]\[()]*\.op\b`; // n.op, graph.nodes[i]!.op, prev?.op
const LITERAL = String.raw`['"\x60]([\w-]+)['"\x60]`;
const PATTERNS: { what: string; re: RegExp; named?: boolean }[] = [
  { what: 'compares .op with an op name', re: new RegExp(String.raw`${VALUE}\s*[!=]==?\s*${LITERAL}`, 'g'), named: true },
  { what: 'compares an op name with .op', re: new RegExp(String.raw`${LITERAL}\s*[!=]==?\s*${VALUE}`, 'g'), named: true },
  { what: 'looks .op up in a set or list', re: new RegExp(String.raw`\.(?:has|includes|indexOf)\(\s*${VALUE}\s*\)`, 'g') },
  { what: 'indexes a table by .op', re: new RegExp(String.raw`\w\[\s*${VALUE}\s*\]`, 'g') },
];

/** Every place in `text` that treats an op name as data; a switch on `.op` counts when a case is an op name. */
function opNameUses(text: string): string[] {
  const found: string[] = [];
  for (const { what, re, named } of PATTERNS) {
    for (const m of text.matchAll(re)) if (!named || NAMES.has(m[1]!)) found.push(`${what}: ${m[0]}`);
  }
  for (const m of text.matchAll(new RegExp(String.raw`switch\s*\(\s*${VALUE}\s*\)\s*\{`, 'g'))) {
    const body = text.slice(m.index! + m[0].length, m.index! + m[0].length + 4000);
    for (const c of body.matchAll(new RegExp(String.raw`case\s+${LITERAL}\s*:`, 'g'))) if (NAMES.has(c[1]!)) found.push(`switches on .op: ${m[0]} ${c[0]}`);
  }
  return found;
}

describe('no pass outside src/ops compares op names', () => {
  it('finds the patterns it forbids (so a pass that adds one fails this test)', () => {
    expect(opNameUses(`if (node.op === 'softmax') x();`)).toHaveLength(1);
    expect(opNameUses(`if (graph.nodes[graph.output]!.op !== "linear") x();`)).toHaveLength(1);
    expect(opNameUses(`if ('gap' === prev?.op) x();`)).toHaveLength(1);
    expect(opNameUses(`const PASS = new Set(['flatten']); if (PASS.has(prev.op)) x();`)).toHaveLength(1);
    expect(opNameUses(`const label = MERGE_LABEL[n.op];`)).toHaveLength(1);
    expect(opNameUses(`switch (node.op) {\n  case 'conv': return 1;\n}`)).toHaveLength(1);
    // The AST's operators are not op names.
    expect(opNameUses(`if (stage.op === '+' || expr.op === 'and') x(); switch (expr.op) { case '-': }`)).toEqual([]);
  });

  it('holds over src/ (src/ops excepted)', () => {
    const offenders: string[] = [];
    for (const file of sources(join(ROOT, 'src'))) {
      const rel = relative(ROOT, file);
      if (rel.startsWith(join('src', 'ops'))) continue;
      for (const use of opNameUses(readFileSync(file, 'utf8'))) offenders.push(`${rel}: ${use}`);
    }
    expect(offenders, 'ask the op for a trait (src/ops/op.ts) instead of naming it').toEqual([]);
  });
});
