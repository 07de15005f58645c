/**
 * What netc prints: rustc-style text, the `--format json` editor contract (validated with ajv against
 * specs/), `netc explain`, exit codes, and no stack trace for any mistake in a file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderHuman, toLsp } from '../../src/diagnostics/render.js';
import { CATALOG } from '../../src/diagnostics/catalog.js';
import { compile, MAIN, netc, netcInProcess, ROOT, schemaErrors, STDLIB } from './helpers.js';

let dir: string;
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'netc-output-'));
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts an ANSI colour sequence
const ANSI = /\x1b\[/;

describe('human rendering', () => {
  const source = 'net n : [3, 8, 8] <\n  conv 4 k=3\n  conv 4 k=3 strides=2\n>\n';

  it('error[CODE]: message, --> file:line:col, the source line, carets as wide as the span', () => {
    const { diagnostics, program } = compile(source);
    const d = diagnostics.find((x) => x.code === 'NET1002')!;
    const text = renderHuman(d, program.sources, { cwd: '/' });
    const lines = text.split('\n');
    expect(lines[0]).toBe('error[NET1002]: `conv` has no parameter `strides`');
    // `strides` starts at column 14 (1-based) of line 3.
    expect(lines[1]).toBe(` --> ${MAIN.slice(1)}:3:14`);
    expect(lines[3]).toBe('3 |   conv 4 k=3 strides=2');
    expect(lines[4]).toBe(`  | ${' '.repeat(13)}^^^^^^^`);
    expect(text).toContain('= help: did you mean `stride`?');
    expect(text).not.toMatch(ANSI);
  });

  it('warnings render as warning[CODE]; related spans as notes with their own location', () => {
    const { diagnostics, program } = compile('block Bad(c) < conv3x3 c stride=2; bn > + identity\nnet n : [16, 8, 8] < Bad(16) >\n');
    const text = renderHuman(diagnostics[0]!, program.sources, { cwd: '/' });
    expect(text).toMatch(/^error\[NET2001\]: /);
    expect(text).toContain(`--> ${MAIN.slice(1)}:1:41`);
    expect(text).toContain('note: in this instance of `Bad`');
    expect(text).toContain(`--> ${MAIN.slice(1)}:2:22`);
    expect(text).toContain('  |                      ^^^^^^^');
    const warn = compile('net n : [3, 7, 7] < maxpool 2 >\n');
    expect(renderHuman(warn.diagnostics[0]!, warn.program.sources)).toMatch(/^warning\[NET2005\]: /);
  });

  it('the CLI prints it on stderr with a tally and exit 1; NO_COLOR beats FORCE_COLOR', () => {
    const file = write('bad.net', source);
    const plain = netc(['check', file], { cwd: dir });
    expect(plain.status).toBe(1);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toContain('error[NET1002]');
    expect(plain.stderr).toContain(' --> bad.net:3:14');
    expect(plain.stderr).toMatch(/1 error emitted\n$/);
    expect(plain.stderr).not.toMatch(ANSI);
    const forced = netc(['check', file], { cwd: dir, env: { FORCE_COLOR: '1' } });
    expect(forced.stderr).toMatch(ANSI);
    const noColor = netc(['check', file], { cwd: dir, env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(noColor.stderr).not.toMatch(ANSI);
    expect(noColor.stderr).toBe(plain.stderr);
  });
});

describe('netc explain', () => {
  it('prints the long form of a code', () => {
    const r = netc(['explain', 'NET2001']);
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('NET2001: residual operands disagree\n')).toBe(true);
    expect(r.stdout).toContain(CATALOG['NET2001']!.explanation.split('\n')[0]!);
    expect(netc(['explain', 'net2004']).stdout).toContain('floor((H + 2P - D*(K-1) - 1) / S) + 1');
  });

  it('lists every code without an argument; an unknown code is a usage error (exit 2)', () => {
    const all = netc(['explain']);
    expect(all.status).toBe(0);
    for (const code of Object.keys(CATALOG)) expect(all.stdout).toContain(code);
    const unknown = netc(['explain', 'NET9999']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('NET9999');
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('--format json', () => {
  // In-process (main(), as bin/netc.js runs it): a process per document made this block slow;
  // 'the same through a real process' below keeps a real process in the picture.
  const check = async (file: string, ...extra: string[]) => {
    const r = await netcInProcess(['check', file, '--format', 'json', ...extra]);
    return { ...r, doc: JSON.parse(r.stdout) as Record<string, unknown> };
  };
  const broken = () => [
    write('several.net', 'net n : [3, 32, 32] <\n  conv 16 k=3 $\n  batchnrm\n  conv 16 k=40\n>\nblock C(c) < conv3x3 c; bn\n'),
    write('shapes.net', 'block Bad(c) < conv3x3 c stride=2; bn > + identity\nnet n : [16, 8, 8] < Bad(16); maxpool 3 >\n'),
    write('imports.net', 'use "nosuchmodule"\nuse "./nope.net"\nnet n : [3, 8, 8] < relu >\n'),
  ];

  it('summary documents of good and broken files validate against specs/summary.schema.json', async () => {
    const files = [
      join(STDLIB, 'lenet5.net'),
      join(STDLIB, 'resnet18.net'),
      join(STDLIB, 'googlenet.net'),
      join(STDLIB, 'densenet.net'),
      join(STDLIB, 'vit_b_16.net'),
      join(STDLIB, 'convnext_tiny.net'),
      ...broken(),
    ];
    for (const file of files) {
      const { doc, status } = await check(file);
      expect(schemaErrors('summary', doc), file).toEqual([]);
      const diagnostics = doc['diagnostics'] as { errors: number };
      expect(status).toBe(diagnostics.errors > 0 ? 1 : 0);
    }
    const lenet = (await check(join(STDLIB, 'lenet5.net'))).doc;
    expect([lenet['net'], lenet['totalParams'], lenet['macs']]).toEqual(['lenet5', 44_426, 281_640]);
  });

  it('IR documents validate against specs/ir.schema.json; so does the plain --emit ir graph', async () => {
    for (const file of [
      join(STDLIB, 'resnet18.net'),
      join(STDLIB, 'se_resnet50_cifar.net'),
      join(STDLIB, 'inception.net'),
      join(STDLIB, 'convnext_tiny.net'),
      join(STDLIB, 'vit_b_16.net'),
      ...broken(),
    ]) {
      const { doc } = await check(file, '--emit', 'ir');
      expect(schemaErrors('ir', doc), file).toEqual([]);
    }
    const plain = await netcInProcess(['check', join(STDLIB, 'lenet5.net'), '--emit', 'ir']);
    expect(plain.status).toBe(0);
    expect(schemaErrors('ir', JSON.parse(plain.stdout), '#/$defs/IRGraph')).toEqual([]);
  });

  it('the schemas are strict: they reject a missing field, an extra field and a wrong severity', async () => {
    const { doc } = await check(broken()[0]!);
    const clone = () => JSON.parse(JSON.stringify(doc)) as { diagnostics: { files: { diagnostics: Record<string, unknown>[] }[] } } & Record<string, unknown>;
    const missing = clone();
    delete missing['totalParams'];
    expect(schemaErrors('summary', missing)).not.toEqual([]);
    const extra = clone();
    extra.diagnostics.files[0]!.diagnostics[0]!['unexpected'] = 1;
    expect(schemaErrors('summary', extra)).not.toEqual([]);
    const severity = clone();
    severity.diagnostics.files[0]!.diagnostics[0]!['severity'] = 5;
    expect(schemaErrors('summary', severity)).not.toEqual([]);
    const shape = JSON.parse((await netcInProcess(['check', join(STDLIB, 'lenet5.net'), '--format', 'json'])).stdout) as {
      layers: { outputShape: number[] }[];
    };
    shape.layers[0]!.outputShape = [6, 24, 24];
    expect(schemaErrors('summary', shape)).not.toEqual([]);
  });

  it('diagnostics are LSP objects grouped per file URI, 0-based, with codeDescription and rendered text', async () => {
    const file = write('lsp.net', 'net n : [3, 8, 8] <\n  conv 4 k=3 strides=2\n>\n');
    const { doc } = await check(file);
    const diagnostics = doc['diagnostics'] as {
      errors: number;
      files: {
        uri: string;
        path: string;
        diagnostics: { range: unknown; severity: unknown; code: unknown; source: unknown; codeDescription: { href: string }; data: { rendered: string } }[];
      }[];
      rendered: string;
    };
    expect(diagnostics.errors).toBe(1);
    const entry = diagnostics.files.find((f) => f.path === file)!;
    expect(entry.uri).toBe(pathToFileURL(file).href);
    const d = entry.diagnostics[0]!;
    // `strides` is on line 1 (0-based), characters 13..20.
    expect(d['range']).toEqual({ start: { line: 1, character: 13 }, end: { line: 1, character: 20 } });
    expect([d['severity'], d['code'], d['source']]).toEqual([1, 'NET1002', 'netc']);
    expect(d['codeDescription'].href).toMatch(/#net1002$/);
    expect(d['data'].rendered).toMatch(/^error\[NET1002\]/);
    expect(diagnostics.rendered).toContain('1 error emitted');
  });

  it('positions count UTF-16 code units: an emoji before the error on the same line counts 2', async () => {
    // `"😀"` is 4 UTF-16 units (quote, surrogate pair, quote) but 3 code points.
    const line = '  conv 4 k=3 tag="😀" strides=2';
    const file = write('emoji.net', `# 😀 a comment with an emoji, on the line before\nnet n : [3, 8, 8] <\n${line}\n>\n`);
    const { doc } = await check(file);
    const entry = (doc['diagnostics'] as { files: { path: string; diagnostics: { message: string; range: unknown }[] }[] }).files.find((f) => f.path === file)!;
    const strides = entry.diagnostics.find((d) => d.message.includes('`strides`'))!;
    const start = line.indexOf('strides'); // JS string index = UTF-16 units
    expect(start).toBe([...line.slice(0, start)].length + 1);
    expect(strides.range).toEqual({ start: { line: 2, character: start }, end: { line: 2, character: start + 'strides'.length } });
    // The in-process conversion agrees.
    const { diagnostics, program } = compile(`net n : [3, 8, 8] <\n${line}\n>\n`);
    const lsp = toLsp(diagnostics.find((d) => d.message.includes('`strides`'))!, program.sources);
    expect(lsp.range.start).toEqual({ line: 1, character: start });
  });
});

describe('exit codes and no stack traces', () => {
  const corpus: Record<string, string> = {
    'empty.net': '',
    'only-comment.net': '# nothing here\n',
    'bom.net': '\uFEFFnet n : [3, 8, 8] < relu >\n',
    'binary.net': '\u0000\u0001\u0002\uFFFD net',
    'unclosed-group.net': 'net n : [3, 8, 8] < conv 4 k=3\n',
    'unclosed-branches.net': 'block I() [conv 4 k=1 | conv 4 k=3\n',
    'unclosed-paren.net': 'net n : [3, 8, 8] < conv(4, k=3 >\n',
    'unclosed-string.net': 'use "resnet\n',
    'stray-operators.net': 'net n : [3, 8, 8] < + ++ * | ; >\n',
    'scale-of-expression.net': 'net n : [8, 4, 4] < conv 8 k=1 * <gap; linear 8; sigmoid> >\n',
    'keyword-without-value.net': 'net n : [3, 8, 8] < conv 4 k= >\n',
    'deep-ternary.net': 'net n(c=1) : [3, 8, 8] < conv (c ? : 2) k=1 >\n',
    'only-net-keyword.net': 'net\n',
    'missing-input.net': 'net n : < relu >\n',
    'string-channels.net': 'net n : [3, 8, 8] < conv "x" k=1 >\n',
    'negative-input.net': 'net n : [3, -8, 8] < relu >\n',
    'huge-repeat.net': 'net n : [3, 8, 8] < relu * 99999999999 >\n',
    'float-repeat.net': 'net n : [3, 8, 8] < relu * 2.5 >\n',
    'self-import.net': 'use "./self-import.net"\nnet n : [3, 8, 8] < relu >\n',
    'import-dir.net': 'use "./"\n',
    'recursive.net': 'block A(c) < A(c) >\nnet n : [3, 8, 8] < A(1) >\n',
    'shortcut-alone.net': 'net n : [3, 8, 8] < shortcut >\n',
    'everything-wrong.net': 'use "nope"\nblock B(c, c) < conv3x3 c; shortcut; in.z >\nnet n(x) : [0] < B(1, 2, 3); linear 0; dropout 2 >\n',
  };

  it('a corpus of broken files: exit 1 or 2, diagnostics, never a stack trace or an internal error', async () => {
    for (const [name, text] of Object.entries(corpus)) {
      const file = write(name, text);
      for (const args of [
        ['check', file],
        ['check', file, '--format', 'json'],
        ['check', file, '--emit', 'ir', '--format', 'json'],
      ]) {
        const r = await netcInProcess(args);
        const where = `${args.join(' ')}\n${r.stderr}`;
        expect(r.stderr, where).not.toMatch(/\n\s+at /);
        expect(r.stderr, where).not.toContain('internal error');
        expect([0, 1], where).toContain(r.status);
        if (args.includes('json')) expect(schemaErrors(args.includes('ir') ? 'ir' : 'summary', JSON.parse(r.stdout)), where).toEqual([]);
        else if (r.status === 1) expect(r.stderr, where).toMatch(/^error\[NET\d{4}\]: /m);
      }
    }
  });

  it('the same through a real process (bin/netc.js) for a few of them', () => {
    for (const name of ['unclosed-group.net', 'stray-operators.net', 'everything-wrong.net']) {
      const r = netc(['check', join(dir, name)], { cwd: dir });
      expect(r.status, name).toBe(1);
      expect(r.stderr, name).not.toMatch(/\n\s+at /);
      expect(r.stderr, name).toMatch(/error\[NET\d{4}\]/);
    }
  });

  it('usage mistakes exit 2 with a one-line message', () => {
    const good = join(ROOT, 'stdlib/lenet5.net');
    for (const args of [
      ['check', join(dir, 'does-not-exist.net')],
      ['check', dir],
      ['check', good, '--input', '3x0x2'],
      ['check', good, '--set', 'novalue'],
      ['check', good, '--columns', 'flops'],
      ['check', good, '--depth', '0'],
      ['check', good, '--format', 'xml'],
      ['frobnicate'],
    ]) {
      const r = netc(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
