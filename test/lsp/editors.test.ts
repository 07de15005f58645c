// The editor packaging: the TextMate grammar, the VS Code extension's manifest and its copy of the grammar.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript test helper
import { scopesOf, tokenize } from './textmate.mjs';

const ROOT = join(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

describe('editor integration files', () => {
  const grammar = JSON.parse(read('grammar/net.tmLanguage.json'));
  const manifest = JSON.parse(read('editors/vscode/package.json'));

  it('the grammar is a TextMate grammar for .net files whose regexes compile', () => {
    expect(grammar.scopeName).toBe('source.netc');
    expect(grammar.fileTypes).toEqual(['net']);
    const regexes: string[] = [];
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (x && typeof x === 'object')
        for (const [k, v] of Object.entries(x)) k === 'match' || k === 'begin' || k === 'end' ? regexes.push(v as string) : walk(v);
    };
    walk(grammar);
    expect(regexes.length).toBeGreaterThan(10);
    // Oniguruma and JavaScript agree on the constructs used here (no possessive quantifiers, \G, \h).
    for (const r of regexes) expect(() => new RegExp(r)).not.toThrow();
    for (const include of JSON.stringify(grammar).match(/"#[a-z]+"/g) ?? []) expect(grammar.repository).toHaveProperty(include.slice(2, -1));
  });

  describe('scopes (a small TextMate tokenizer over the grammar)', () => {
    const tokens = (text: string) => tokenize(grammar, text);
    const has = (scopes: string[], scope: string) => expect(scopes.some((s) => s.startsWith(scope))).toBe(true);
    const hasNot = (scopes: string[], scope: string) => expect(scopes.some((s) => s.startsWith(scope))).toBe(false);

    it('lowercase macro uses and capitalised block uses get a scope', () => {
      const lines = tokens('net r(classes=1000) : [3, 224, 224] <\n  layer1: basic_stage(64, 3)\n  BasicBlock(64, stride=2) * 2\n>');
      has(scopesOf(lines, 1, 'basic_stage'), 'entity.name.function.macro');
      has(scopesOf(lines, 1, 'layer1'), 'entity.name.tag.label');
      has(scopesOf(lines, 1, '64'), 'constant.numeric');
      has(scopesOf(lines, 2, 'BasicBlock'), 'entity.name.type.block');
      has(scopesOf(lines, 2, 'stride'), 'variable.parameter');
    });

    it('if/else are keywords; numeric, keyword and per-operand labels are labels', () => {
      const lines = tokens('block B(c, t=6) <\n  0: if (t != 1) conv c k=1\n  else relu\n  block: conv c k=1\n  a: relu ++ b: relu\n>');
      has(scopesOf(lines, 1, 'if'), 'keyword.control.conditional');
      has(scopesOf(lines, 1, '0'), 'entity.name.tag.label');
      has(scopesOf(lines, 2, 'else'), 'keyword.control.conditional');
      has(scopesOf(lines, 2, 'relu'), 'entity.name.function.layer');
      has(scopesOf(lines, 3, 'block'), 'entity.name.tag.label');
      has(scopesOf(lines, 4, 'b'), 'entity.name.tag.label');
    });

    it('every parameter of a definition is scoped, with or without a default', () => {
      const lines = tokens(
        'block BasicBlock(c, stride=1) <\n  conv3x3 c stride=stride\n>\ndef stage(c, n,\n    k=3) = <conv c k=k>\nnet r(classes=1000) : [3, 224, 224] <\n  gap\n>',
      );
      has(scopesOf(lines, 0, 'BasicBlock'), 'entity.name.type');
      has(scopesOf(lines, 0, 'c'), 'variable.parameter');
      has(scopesOf(lines, 0, 'stride'), 'variable.parameter');
      has(scopesOf(lines, 1, 'conv3x3'), 'entity.name.function.layer');
      has(scopesOf(lines, 3, 'c'), 'variable.parameter');
      has(scopesOf(lines, 3, 'n'), 'variable.parameter');
      has(scopesOf(lines, 4, 'k', 0), 'variable.parameter');
      has(scopesOf(lines, 4, 'conv'), 'entity.name.function.layer');
      has(scopesOf(lines, 5, 'classes'), 'variable.parameter');
      has(scopesOf(lines, 5, '<'), 'punctuation.section.group');
      has(scopesOf(lines, 6, 'gap'), 'entity.name.function.layer');
    });

    it('inside ( ) a comparison is an operator and `w :` is not a label', () => {
      const lines = tokens('def f(w) = conv (w > 1 ? w : 1) k=1\nblock B(w) < Unit(w > 1 ? w : 1, stride=2); relu >');
      for (const line of [0, 1]) {
        has(scopesOf(lines, line, '>'), 'keyword.operator');
        hasNot(scopesOf(lines, line, '>'), 'punctuation.section.group');
        has(scopesOf(lines, line, ':'), 'keyword.operator');
        hasNot(scopesOf(lines, line, 'w', 2), 'entity.name.tag.label');
      }
      has(scopesOf(lines, 1, 'stride'), 'variable.parameter');
      has(scopesOf(lines, 1, 'relu'), 'entity.name.function.layer');
      has(scopesOf(lines, 1, '>', 1), 'punctuation.section.group');
    });

    it('in resnet34.net every label and every basic_stage use is scoped', () => {
      const text = read('stdlib/resnet34.net');
      const lines = tokens(text);
      let labels = 0;
      let macros = 0;
      text.split('\n').forEach((line, i) => {
        const label = /^\s+([a-z0-9_]+):/.exec(line)?.[1];
        if (label) {
          labels++;
          has(scopesOf(lines, i, label), 'entity.name.tag.label');
        }
        if (line.includes('basic_stage(')) {
          macros++;
          has(scopesOf(lines, i, 'basic_stage'), 'entity.name.function.macro');
        }
      });
      expect([labels, macros]).toEqual([8, 4]);
    });
  });

  it('the VS Code extension ships the same grammar and starts `netc lsp --stdio`', () => {
    expect(read('editors/vscode/syntaxes/net.tmLanguage.json')).toBe(read('grammar/net.tmLanguage.json'));
    const language = manifest.contributes.languages[0];
    expect(language.extensions).toEqual(['.net']);
    expect(manifest.contributes.grammars[0]).toMatchObject({ language: language.id, scopeName: grammar.scopeName });
    for (const file of [manifest.main, language.configuration, manifest.contributes.grammars[0].path]) {
      expect(existsSync(join(ROOT, 'editors/vscode', file))).toBe(true);
    }
    const client = read('editors/vscode/extension.js');
    expect(client).toContain("args: ['lsp', '--stdio']");
    expect(manifest.dependencies).toHaveProperty('vscode-languageclient');
    JSON.parse(read('editors/vscode/language-configuration.json'));
  });

  it('`netc lsp --help` documents the command', () => {
    const help = execFileSync(process.execPath, [join(ROOT, 'bin/netc.js'), 'lsp', '--help'], { encoding: 'utf8' });
    expect(help).toContain('--stdio');
    expect(help).toContain('--debounce');
    expect(help).toContain('docs/editors.md');
  });
});
