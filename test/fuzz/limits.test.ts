// Limits that turn hostile inputs into diagnostics instead of hangs, stack overflows, out-of-memory or
// Infinity/NaN in the output (issue 6). Each test names the limit it holds; docs/robustness.md lists them.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { compileFile, compileSource, type Diagnostic } from '../../src/api.js';
import { MAX_FILE_BYTES } from '../../src/bind/program.js';
import { summarize } from '../../src/check/summary.js';
import { MAX_PARSE_NESTING, MAX_TREE_DEPTH } from '../../src/syntax/depth.js';
// @ts-expect-error plain JavaScript shared with bench/fuzz.mjs
import { badNumbers, checkCli } from './invariants.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/netc.js');
const work = mkdtempSync(join(tmpdir(), 'netc-limits-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NET = (body: string, input = '[3, 32, 32]') => `net n : ${input} <\n  ${body}\n>\n`;

function compile(text: string, name = 'main.net') {
  return compileSource(text, join(work, name));
}
const errors = (ds: Diagnostic[]) => ds.filter((d) => d.severity === 'error');
const codes = (ds: Diagnostic[]) => errors(ds).map((d) => d.code);

function write(name: string, text: string | Buffer): string {
  const path = join(work, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

function cli(args: string[]) {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
    spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'ignore' });
  }
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI contract on a file on disk: exit 0/1, JSON on stdout, no stack trace; returns the document. */
function checkJson(path: string) {
  const r = cli(['check', path, '--format', 'json']);
  expect(r.status === 0 || r.status === 1).toBe(true);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  const doc = JSON.parse(r.stdout);
  expect(badNumbers(doc)).toEqual([]);
  return { status: r.status, doc, messages: doc.diagnostics.files.flatMap((f: { diagnostics: { code: string; message: string }[] }) => f.diagnostics) };
}

describe('repetition counts', () => {
  it('a count of 1e9 is NET1011, without building anything', () => {
    for (const text of [NET('< conv 8 k=3 pad=1 > * 1000000000'), NET('< relu > * 1e9'), 'net n(r=1000000000) : [3, 8, 8] < < relu > * r >\n']) {
      const r = compile(text);
      expect(codes(r.diagnostics)).toEqual(['NET1011']);
      expect(r.diagnostics[0]!.message).toBe('repetition count 1000000000 is over the limit of 10000');
    }
  });

  it('a count at the limit is accepted', () => {
    const r = compile(NET('< relu > * 10000'));
    expect(errors(r.diagnostics)).toEqual([]);
    expect(r.graphs[0]!.nodes.length).toBe(10_001);
  });
});

describe('recursion depth', () => {
  it('a chain of 200 blocks, each calling the next, stops at 64 levels with NET1011', () => {
    const blocks = Array.from({ length: 200 }, (_, i) => (i < 199 ? `block B${i} < B${i + 1} >` : `block B${i} < relu >`));
    const r = compile(`${blocks.join('\n')}\n${NET('B0')}`);
    expect(codes(r.diagnostics)).toEqual(['NET1011']);
    expect(r.diagnostics[0]!.message).toBe('definitions nest more than 64 deep');
  });

  it('groups `<<<...>>>` 10,000 deep are NET1011 at the first level past the limit; the other definitions are still checked', () => {
    const deep = `net deep : [3, 8, 8] ${'<'.repeat(10_000)} relu ${'>'.repeat(10_000)}`;
    const text = `${deep}\nnet ok : [3, 8, 8] < conv 4 k=3 >\n`;
    const r = compile(text);
    expect(codes(r.diagnostics)).toEqual(['NET1011']);
    const d = r.diagnostics[0]!;
    expect(d.message).toMatch(/nests more than 128 levels deep/);
    // `net deep : [3, 8, 8] ` is 21 characters; the 129th `<` is the first one over.
    expect(d.span.start).toBe(21 + MAX_PARSE_NESTING);
    expect(r.graphs.map((g) => g.net)).toEqual(['ok']);
  });

  it('parentheses, branches, prefix operators and conditionals 10,000 deep are NET1011 too', () => {
    const n = 10_000;
    const cases = [
      `net n(a=${'('.repeat(n)}1${')'.repeat(n)}) : [3, 8, 8] < relu >`,
      `net n : [3, 8, 8] ${'['.repeat(n)} relu ${']'.repeat(n)}`,
      `net n(a=${'-'.repeat(n)}1) : [3, 8, 8] < relu >`,
      `net n(a=${'not '.repeat(n)}true) : [3, 8, 8] < relu >`,
      `net n(a=${'true ? '.repeat(n)}1${' : 2'.repeat(n)}) : [3, 8, 8] < relu >`,
    ];
    for (const text of cases) expect(codes(compile(text).diagnostics)).toEqual(['NET1011']);
  });

  it('nesting just under the limit still compiles', () => {
    const depth = MAX_PARSE_NESTING - 8;
    const r = compile(`net n : [3, 8, 8] ${'<'.repeat(depth)} conv 4 k=3 ${'>'.repeat(depth)}\n`);
    expect(errors(r.diagnostics)).toEqual([]);
    expect(r.graphs[0]!.nodes.at(-1)!.shape).toEqual([4, 6, 6]);
  });

  it('comparisons do not count as nesting: 500 `<` comparisons in one definition are fine', () => {
    const tests = Array.from({ length: 500 }, (_, i) => `(${i} < 1000)`).join(' and ');
    const r = compile(`net n(ok=${tests}) : [3, 8, 8] < relu >\n`);
    expect(errors(r.diagnostics)).toEqual([]);
    expect(r.graphs[0]!.args['ok']).toBe(true);
  });

  it('flat chains deeper than 1,000 (`1 + 1 + ...`, `relu + relu + ...`) are NET1011; up to the limit they compile', () => {
    const sum = (n: number) => Array.from({ length: n }, () => '1').join(' + ');
    const big = compile(`net n(a=${sum(20_000)}) : [3, 8, 8] < relu >\n`);
    expect(codes(big.diagnostics)).toEqual(['NET1011']);
    expect(big.diagnostics[0]!.message).toMatch(/more than 1000 levels deep/);
    const ok = compile(`net n(a=${sum(MAX_TREE_DEPTH - 10)}) : [3, 8, 8] < relu >\n`);
    expect(errors(ok.diagnostics)).toEqual([]);
    expect(ok.graphs[0]!.args['a']).toBe(MAX_TREE_DEPTH - 10);
    const adds = compile(NET(Array.from({ length: 20_000 }, () => 'relu').join(' + ')));
    expect(codes(adds.diagnostics)).toEqual(['NET1011']);
  });

  it('`max` of 200,000 arguments evaluates (no spread into the stack)', () => {
    const r = compile(`net n : [10] < linear max(${Array.from({ length: 200_000 }, (_, i) => i % 7).join(', ')}) >\n`);
    expect(errors(r.diagnostics)).toEqual([]);
    expect(r.graphs[0]!.nodes.at(-1)!.shape).toEqual([6]);
  });
});

describe('sizes and counts beyond 2^53', () => {
  it('an input of [3, 1e8, 1e8] (3e16 numbers) is NET1011 at the input shape', () => {
    const text = NET('conv 8 k=3', '[3, 1e8, 1e8]');
    const r = compile(text);
    const d = errors(r.diagnostics);
    expect(d.map((x) => x.code)).toContain('NET1011');
    expect(d[0]!.message).toBe('the input would hold 3.00e+16 numbers per sample ([3, 100000000, 100000000]), more than 2^53 - 1');
    expect(text.slice(d[0]!.span.start, d[0]!.span.end)).toBe('[3, 1e8, 1e8]');
  });

  it('`linear 1e15` repeated: the parameter and MAC totals are NET1011, never Infinity', () => {
    const r = compile(NET('linear 1e15; linear 1e15', '[10]'));
    const messages = errors(r.diagnostics).map((d) => `${d.code} ${d.message}`);
    expect(messages).toContain('NET1011 the parameter count reaches 1.10e+16 at `linear` (fc1), more than 2^53 - 1');
    expect(messages.some((m) => /multiply-accumulate count reaches/.test(m))).toBe(true);
  });

  it('a parameter total over 2^53 from layers that are each under it is still caught', () => {
    // 1e8 inputs x 5e7 outputs = 5e15 weights per layer (under 2^53 = 9.007e15); two of them are 1e16.
    const r = compile(NET('linear 50000000; relu; linear 100000000', '[100000000]'));
    expect(errors(r.diagnostics).map((d) => d.message)).toContain('the parameter count reaches 1.00e+16 at `linear` (fc2), more than 2^53 - 1');
  });

  it('just under the limits, the summary carries exact integers', () => {
    const r = compile(NET('linear 50000000', '[100000000]'));
    expect(errors(r.diagnostics)).toEqual([]);
    const s = summarize(r.graphs[0]!);
    expect(s.totalParams).toBe(5_000_000_050_000_000);
    expect(Number.isSafeInteger(s.totalParams)).toBe(true);
  });

  it('integer arguments beyond 2^53 are NET1016; literals and arithmetic beyond the double range are NET3003', () => {
    expect(codes(compile(NET('linear 9007199254740993', '[10]')).diagnostics)).toEqual(['NET1016']);
    expect(errors(compile(NET('linear 9007199254740993', '[10]')).diagnostics).map((d) => d.message)).toEqual([
      '`linear` out must be an integer of at most 9007199254740991 (2^53 - 1), got the integer 9007199254740992',
    ]);
    const literal = compile(NET('linear 1e400', '[10]'));
    expect(codes(literal.diagnostics)).toEqual(['NET3003']);
    const product = compile('net n(a=1e200) : [10] < linear a * a >\n');
    expect(errors(product.diagnostics).map((d) => d.message)).toEqual(['this arithmetic overflows: the result Infinity is not a finite number']);
    expect(codes(compile('net n : [1e400, 1, 1] < relu >\n').diagnostics)).toEqual(['NET3003']);
  });

  it('a stride product beyond 2^53 (1,100 strided 1x1 convs) is NET1011, not a NaN receptive field', () => {
    const r = compile(NET('< conv 1 k=1 stride=2 > * 1100', '[1, 1, 1]'));
    expect(
      errors(r.diagnostics)
        .map((d) => d.message)
        .some((m) => /receptive field or stride product/.test(m)),
    ).toBe(true);
  });

  it('through the CLI the document holds no Infinity, NaN or inexact count, and exits 1', () => {
    for (const [name, text] of [
      ['huge-input.net', NET('conv 8 k=3', '[3, 1e8, 1e8]')],
      ['huge-linear.net', NET('linear 1e15; linear 1e15', '[10]')],
    ]) {
      const { status, doc } = checkJson(write(name!, text!));
      expect(status).toBe(1);
      expect(doc.totalParams).toBe(0);
    }
  });
});

describe('files', () => {
  it('a file over 4 MiB is NET1011 naming its size (entry file, through the CLI)', () => {
    const path = write('big.net', `# ${'x'.repeat(MAX_FILE_BYTES)}\n`);
    const { status, messages } = checkJson(path);
    expect(status).toBe(1);
    expect(messages.map((m: { code: string }) => m.code)).toEqual(['NET1011']);
    expect(messages[0].message).toBe(`${path} is 4,194,307 bytes, over the limit of 4,194,304 bytes (4 MiB) for a .net file`);
  });

  it('an import over 4 MiB is NET1011 at the `use`, not "not found"', () => {
    write('huge/lib.net', `# ${'x'.repeat(MAX_FILE_BYTES + 10)}\n`);
    const text = 'use "./huge/lib.net"\n';
    const r = compile(text);
    expect(codes(r.diagnostics)).toEqual(['NET1011']);
    expect(r.diagnostics[0]!.message).toBe(
      `cannot import \`./huge/lib.net\`: ${join(work, 'huge/lib.net')} is 4,194,317 bytes, over the limit of 4,194,304 bytes (4 MiB) for a .net file`,
    );
    expect(text.slice(r.diagnostics[0]!.span.start, r.diagnostics[0]!.span.end)).toBe('"./huge/lib.net"');
  });

  it('in-process text over 4 MiB (an editor buffer) is NET1011 too', () => {
    const r = compileSource(`# ${'x'.repeat(MAX_FILE_BYTES)}`, join(work, 'buffer.net'));
    expect(codes(r.diagnostics)).toEqual(['NET1011']);
  });

  it('import cycles (a -> b -> a, and a file importing itself) are NET1005', () => {
    write('cyc/a.net', 'use "./b.net"\nblock A < relu >\n');
    write('cyc/b.net', 'use "./a.net"\nblock B < relu >\n');
    const r = compileFile(join(work, 'cyc/a.net'));
    expect(errors(r.diagnostics).map((d) => d.message)).toEqual(['import cycle: a.net -> b.net -> a.net']);
    const self = compileFile(write('cyc/self.net', 'use "./self.net"\n'));
    expect(codes(self.diagnostics)).toEqual(['NET1005']);
  });

  it("imports may leave the entry file's folder (`..`, absolute paths) when the file exists", () => {
    write('shared/blocks.net', 'block Twice(c) < conv c k=3 pad=1; conv c k=3 pad=1 >\n');
    const main = write('project/models/main.net', `use "../../shared/blocks.net"\nuse "${join(work, 'shared/blocks')}"\n${NET('Twice(8)')}`);
    const r = compileFile(main);
    expect(errors(r.diagnostics)).toEqual([]);
    expect(r.graphs[0]!.nodes.at(-1)!.shape).toEqual([8, 32, 32]);
  });

  it('imports of missing files, directories and FIFOs are NET1006 with the reason, and nothing blocks', () => {
    mkdirSync(join(work, 'imp/dir.net'), { recursive: true });
    const fifo = join(work, 'imp/pipe.net');
    const made = spawnSync('mkfifo', [fifo]).status === 0;
    const text = `use "../../nowhere/missing.net"\nuse "./dir.net"\n${made ? 'use "./pipe.net"\n' : ''}`;
    const r = compileSource(text, join(work, 'imp/main.net'));
    const messages = errors(r.diagnostics).map((d) => `${d.code} ${d.message}`);
    expect(messages[0]).toBe(`NET1006 cannot find file \`../../nowhere/missing.net\` (looked for ${resolve(work, '../nowhere/missing.net')})`);
    expect(messages[1]).toBe(`NET1006 cannot import \`./dir.net\`: ${join(work, 'imp/dir.net')} is a directory, not a file`);
    if (made) expect(messages[2]).toBe(`NET1006 cannot import \`./pipe.net\`: ${fifo} is not a regular file (a device, pipe or socket)`);
    expect(messages).toHaveLength(made ? 3 : 2);
  });

  it.skipIf(process.getuid?.() === 0)('an import without read permission is NET1006 naming the error', () => {
    const path = write('perm/secret.net', 'block S < relu >\n');
    chmodSync(path, 0o000);
    const r = compileSource('use "./secret.net"\n', join(work, 'perm/main.net'));
    expect(errors(r.diagnostics).map((d) => d.message)).toEqual([`cannot import \`./secret.net\`: ${path} cannot be read (EACCES)`]);
  });

  it('a symlink loop and a name too long for the file system are NET1006 naming the error (as root too)', () => {
    mkdirSync(join(work, 'loop'), { recursive: true });
    symlinkSync('b.net', join(work, 'loop/a.net'));
    symlinkSync('a.net', join(work, 'loop/b.net'));
    const long = `./${'x'.repeat(300)}.net`;
    const r = compileSource(`use "./a.net"\nuse "${long}"\n`, join(work, 'loop/main.net'));
    expect(errors(r.diagnostics).map((d) => d.message)).toEqual([
      `cannot import \`./a.net\`: ${join(work, 'loop/a.net')} cannot be read (ELOOP)`,
      `cannot import \`${long}\`: ${join(work, 'loop', long)} cannot be read (ENAMETOOLONG)`,
    ]);
  });

  it('a directory given to `netc check` is a usage error (exit 2, one line, no stack)', () => {
    const r = cli(['check', work, '--format', 'json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^netc: not a file: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('binary garbage is NET0001 with invisible characters spelled as U+XXXX, exit 1, valid JSON', () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    const { status, messages } = checkJson(write('garbage.net', bytes));
    expect(status).toBe(1);
    expect(messages.length).toBeGreaterThan(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test asserts that messages hold no control characters
    for (const m of messages) expect(m.message).not.toMatch(/[\u0000-\u001f\u007f\ufffd]/);
    expect(messages.some((m: { message: string }) => /U\+[0-9A-F]{4}/.test(m.message))).toBe(true);
  });

  it('syntax errors stop at 100 per file, with a note of how many there were', () => {
    const r = compile('$ '.repeat(1000));
    expect(r.diagnostics).toHaveLength(101);
    expect(r.diagnostics.slice(0, 100).every((d) => d.code === 'NET0001')).toBe(true);
    expect(r.diagnostics[100]!.message).toBe('1000 syntax errors in this file; only the first 100 are reported');
    expect(r.diagnostics[100]!.span.start).toBe(200);
  });

  it('a concatenation of 99,990 branches (just under the layer cap) elaborates (no argument spread into the stack)', () => {
    const r = compile(NET(`[ ${'conv 1 k=1 | '.repeat(99_990)}relu ]`, '[3, 8, 8]'));
    expect(errors(r.diagnostics)).toEqual([]);
    expect(r.graphs[0]!.nodes.at(-1)!.shape).toEqual([99_993, 8, 8]);
  });

  it('an empty file and a file of comments only check cleanly (exit 0, no diagnostics)', () => {
    for (const [name, text] of [
      ['empty.net', ''],
      ['comments.net', '# just a comment\n## a doc comment with no definition\n\n#\n'],
    ]) {
      const { status, doc } = checkJson(write(name!, text!));
      expect(status).toBe(0);
      expect(doc.diagnostics.errors + doc.diagnostics.warnings).toBe(0);
      expect(doc.nets).toEqual([]);
    }
  });

  it('CRLF line endings, a UTF-8 BOM and tabs give the same result as plain text; positions stay right', () => {
    const plain = 'net n : [3, 32, 32] <\n  conv 16 k=3 pad=1\n  bn; relu\n  maxpool 2\n>\n';
    const variants = [plain.replace(/\n/g, '\r\n'), `\uFEFF${plain}`, plain.replace(/ {2}/g, '\t').replace(/ /g, '\t ')];
    const expected = summarize(compile(plain).graphs[0]!).totalParams;
    for (const text of variants) {
      const r = compile(text);
      expect(r.diagnostics).toEqual([]);
      expect(summarize(r.graphs[0]!).totalParams).toBe(expected);
    }
    // An error on line 3 is reported on line 3 (0-based 2), at the same column, with CRLF and with a BOM.
    const broken = 'net n : [3, 32, 32] <\n  conv 16 k=3 pad=1\n  bn; batchnrm\n>\n';
    for (const [name, text] of [
      ['lf.net', broken],
      ['crlf.net', broken.replace(/\n/g, '\r\n')],
      ['bom.net', `\uFEFF${broken}`],
    ]) {
      const { messages } = checkJson(write(name!, text!));
      expect(messages.map((m: { code: string }) => m.code)).toEqual(['NET1001']);
      expect(messages[0].range.start.line).toBe(2);
      expect(messages[0].range.start.character).toBe(6);
    }
  });

  it('the same files through the shared CLI invariant checker', () => {
    const violations = checkCli({ bin: BIN }, '\uFEFF# only a BOM and a comment\r\n', join(work, 'inv.net')) as string[];
    expect(violations).toEqual([]);
  });
});
