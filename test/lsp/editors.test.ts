// The editor packaging: the TextMate grammar, the VS Code extension's manifest and its copy of the grammar.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

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
      else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) (k === 'match' || k === 'begin' || k === 'end' ? regexes.push(v as string) : walk(v));
    };
    walk(grammar);
    expect(regexes.length).toBeGreaterThan(10);
    // Oniguruma and JavaScript agree on the constructs used here (no possessive quantifiers, \G, \h).
    for (const r of regexes) expect(() => new RegExp(r)).not.toThrow();
    for (const include of JSON.stringify(grammar).match(/"#[a-z]+"/g) ?? []) expect(grammar.repository).toHaveProperty(include.slice(2, -1));
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
