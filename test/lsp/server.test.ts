// Talks JSON-RPC to `node bin/netc.js lsp --stdio` as an editor would.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module shared with bench/lsp-latency.mjs
import { LspClient, ROOT, uri } from './client.mjs';

const LIB = `## A conv, a bn and a relu.
block Unit(c, stride=1) <
  conv c k=3 stride=stride pad=1; bn; relu
>
`;

const MODEL = `use "./lib"

net small(classes=10) : [3, 32, 32] <
  Unit(16)
  Unit(32, stride=2) * 2
  gap; linear classes
>
`;

/** The position of the `nth` occurrence of `needle` in `text`, plus `delta` characters. */
function pos(text: string, needle: string, delta = 0, nth = 0) {
  let offset = -1;
  for (let i = 0; i <= nth; i++) offset = text.indexOf(needle, offset + 1);
  if (offset < 0) throw new Error(`${needle} not in text`);
  const before = text.slice(0, offset + delta);
  const line = before.split('\n').length - 1;
  return { line, character: before.length - before.lastIndexOf('\n') - 1 };
}

let dir: string;
let lib: string;
let model: string;
let client: LspClient;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/lsp/server.js'))) execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', ROOT]);
  dir = mkdtempSync(join(tmpdir(), 'netc-lsp-'));
  lib = join(dir, 'lib.net');
  mkdirSync(join(dir, 'sub'));
  model = join(dir, 'model.net');
  writeFileSync(lib, LIB);
  writeFileSync(model, MODEL);
  client = new LspClient();
  const init = await client.initialize({ debounceMs: 0 }, dir);
  expect(init.capabilities.hoverProvider).toBe(true);
  expect(init.capabilities.inlayHintProvider).toBe(true);
  const opened = client.nextDiagnostics(uri(model), 1);
  client.open(model, MODEL);
  expect((await opened).diagnostics).toEqual([]);
});

afterAll(() => {
  client?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const doc = (path: string) => ({ textDocument: { uri: uri(path) } });

describe('diagnostics', () => {
  it('publishes a broken buffer with the exact range, then an empty list once fixed', async () => {
    const broken = MODEL.replace('  gap;', '  rleu; gap;');
    let next = client.nextDiagnostics(uri(model), 2);
    client.change(model, 2, broken);
    const { diagnostics } = await next;
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0].code).toBe('NET1001');
    expect(diagnostics[0].severity).toBe(1);
    expect(diagnostics[0].message).toContain('rleu');
    expect(diagnostics[0].range).toEqual({ start: { line: 5, character: 2 }, end: { line: 5, character: 6 } });

    next = client.nextDiagnostics(uri(model), 3);
    client.change(model, 3, MODEL);
    expect((await next).diagnostics).toEqual([]);
  });

  it('checks a library file (no net) on its own and re-checks the open files that import it', async () => {
    let own = client.nextDiagnostics(uri(lib), 1);
    const reopened = client.nextDiagnostics(uri(model));
    client.open(lib, LIB);
    expect((await own).diagnostics).toEqual([]);
    // Opening an imported file re-checks its importers (its buffer now replaces the disk).
    expect((await reopened).diagnostics).toEqual([]);

    own = client.nextDiagnostics(uri(lib), 2);
    const dependent = client.nextDiagnostics(uri(model));
    client.change(lib, 2, LIB.replace('bn; relu', 'bnn; relu'));
    const libDiagnostics = (await own).diagnostics;
    expect(libDiagnostics.map((d: { code: string }) => d.code)).toEqual(['NET1001']);
    expect(libDiagnostics[0].range).toEqual({ start: { line: 2, character: 34 }, end: { line: 2, character: 37 } });
    // The importer, unchanged on disk and in its buffer, now reports the library's mistake at its `use`.
    const modelDiagnostics = (await dependent).diagnostics;
    expect(modelDiagnostics.length).toBeGreaterThan(0);
    expect(modelDiagnostics[0].message).toContain('(in lib.net)');
    expect(modelDiagnostics[0].range.start.line).toBe(0);
    expect(modelDiagnostics[0].relatedInformation[0].location.uri).toBe(uri(lib));

    own = client.nextDiagnostics(uri(lib), 3);
    const cleared = client.nextDiagnostics(uri(model));
    client.change(lib, 3, LIB);
    expect((await own).diagnostics).toEqual([]);
    expect((await cleared).diagnostics).toEqual([]);
  });
});

describe('hover', () => {
  it('shows each instance of a repeated block use with shape and params', async () => {
    const hover = await client.request('textDocument/hover', { ...doc(model), position: pos(MODEL, 'Unit(32', 1) });
    const text: string = hover.contents.value;
    expect(text).toContain('block Unit(c, stride=1)');
    expect(text).toContain('A conv, a bn and a relu.');
    expect(text).toContain('2 instances');
    // conv 16->32 k3 (4,608 + 32 bias) + bn (64) = 4,704; conv 32->32 (9,216 + 32) + bn 64 = 9,312
    expect(text).toContain('`[32, 16, 16]` · 4,704 params');
    expect(text).toContain('`[32, 8, 8]` · 9,312 params');
    expect(hover.range).toEqual({ start: { line: 4, character: 2 }, end: { line: 4, character: 6 } });
  });

  it('shows a layer use inside a block body per instance, from the importing net', async () => {
    const hover = await client.request('textDocument/hover', { ...doc(lib), position: pos(LIB, 'conv c', 1) });
    const text: string = hover.contents.value;
    expect(text).toContain('2-D convolution');
    expect(text).toContain('3 instances');
    expect(text).toContain('`[16, 32, 32]` · 448 params');
  });

  it('shows the signature and doc comment on a block name', async () => {
    const hover = await client.request('textDocument/hover', { ...doc(lib), position: pos(LIB, 'Unit', 2) });
    expect(hover.contents.value).toContain('```netc\nblock Unit(c, stride=1)\n```');
    expect(hover.contents.value).toContain('A conv, a bn and a relu.');
  });
});

describe('inlay hints', () => {
  it('puts the output shape after each line', async () => {
    const hints = await client.request('textDocument/inlayHint', {
      ...doc(model),
      range: { start: { line: 0, character: 0 }, end: { line: 10, character: 0 } },
    });
    const byLine = Object.fromEntries(hints.map((h: { position: { line: number; character: number }; label: string }) => [h.position.line, h]));
    expect(byLine[3].label).toBe('→ [16, 32, 32]');
    expect(byLine[3].position.character).toBe('  Unit(16)'.length);
    expect(byLine[4].label).toBe('→ [32, 8, 8]');
    expect(byLine[5].label).toBe('→ [10]');
    expect(byLine[0]).toBeUndefined();
  });

  it('shows every distinct shape on a block-body line used in several places', async () => {
    const hints = await client.request('textDocument/inlayHint', { ...doc(lib), range: { start: { line: 0, character: 0 }, end: { line: 10, character: 0 } } });
    expect(hints).toHaveLength(1);
    expect(hints[0].position.line).toBe(2);
    expect(hints[0].label).toBe('→ [16, 32, 32] | [32, 16, 16] | [32, 8, 8]');
  });
});

describe('macro (def) uses', () => {
  const MACRO = `def stage(c) = <conv3x3 c stride=2; bn; relu>
net m : [3, 32, 32] <
  stage(8)
  stage(16)
  gap
>
`;

  it('shows what each macro use produced, in hover and inlay hints', async () => {
    const file = join(dir, 'sub', 'macro.net');
    const opened = client.nextDiagnostics(uri(file), 1);
    client.open(file, MACRO);
    expect((await opened).diagnostics).toEqual([]);
    const hover = await client.request('textDocument/hover', { ...doc(file), position: pos(MACRO, 'stage(16)', 1) });
    expect(hover.contents.value).toContain('def stage(c)');
    // conv3x3 8->16 (no bias): 1,152 + bn 32 = 1,184
    expect(hover.contents.value).toContain('**output** `[16, 8, 8]` · 1,184 params');
    const conv = await client.request('textDocument/hover', { ...doc(file), position: pos(MACRO, 'conv3x3', 1) });
    expect(conv.contents.value).toContain('2 instances');
    expect(conv.contents.value).toContain('`[8, 16, 16]` · 216 params');
    const hints = await client.request('textDocument/inlayHint', { ...doc(file), range: { start: { line: 0, character: 0 }, end: { line: 9, character: 0 } } });
    expect(hints.map((h: { position: { line: number }; label: string }) => `${h.position.line} ${h.label}`)).toEqual([
      '0 → [8, 16, 16] | [16, 8, 8]',
      '2 → [8, 16, 16]',
      '3 → [16, 8, 8]',
      '4 → [16, 1, 1]',
    ]);
    client.notify('textDocument/didClose', doc(file));
  });
});

describe('navigation', () => {
  it('goes to the definition of a block and of an import', async () => {
    const def = await client.request('textDocument/definition', { ...doc(model), position: pos(MODEL, 'Unit(16)', 2) });
    expect(def).toEqual({ uri: uri(lib), range: { start: { line: 1, character: 6 }, end: { line: 1, character: 10 } } });
    const use = await client.request('textDocument/definition', { ...doc(model), position: pos(MODEL, './lib', 2) });
    expect(use.uri).toBe(uri(lib));
    const param = await client.request('textDocument/definition', { ...doc(lib), position: pos(LIB, 'stride=stride', 8) });
    expect(param.range).toEqual({ start: { line: 1, character: 14 }, end: { line: 1, character: 20 } });
  });

  it('finds references across the importing file and the library', async () => {
    const refs = await client.request('textDocument/references', { ...doc(lib), position: pos(LIB, 'Unit', 1), context: { includeDeclaration: true } });
    const found = refs
      .map((r: { uri: string; range: { start: { line: number } } }) => `${r.uri.endsWith('lib.net') ? 'lib' : 'model'}:${r.range.start.line}`)
      .sort();
    expect(found).toEqual(['lib:1', 'model:3', 'model:4']);
    const uses = await client.request('textDocument/references', { ...doc(lib), position: pos(LIB, 'Unit', 1), context: { includeDeclaration: false } });
    expect(uses).toHaveLength(2);
  });

  it('lists blocks, nets and imports as document symbols', async () => {
    const symbols = await client.request('textDocument/documentSymbol', doc(model));
    expect(symbols.map((s: { name: string; kind: number }) => [s.name, s.kind])).toEqual([
      ['use "./lib"', 2],
      ['small', 2],
    ]);
    expect(symbols[1].detail).toBe('net small(classes=10) : [3, 32, 32]');
    const libSymbols = await client.request('textDocument/documentSymbol', doc(lib));
    expect(libSymbols[0]).toMatchObject({ name: 'Unit', kind: 5, selectionRange: { start: { line: 1, character: 6 } } });
  });
});

describe('completion', () => {
  const labels = (items: { label: string }[]) => items.map((i) => i.label);

  it('offers stdlib modules inside use "..."', async () => {
    const text = 'use "res\n' + MODEL;
    const next = client.nextDiagnostics(uri(model), 10);
    client.change(model, 10, text);
    await next;
    const items = await client.request('textDocument/completion', { ...doc(model), position: { line: 0, character: 8 } });
    expect(labels(items)).toContain('resnet');
    expect(labels(items)).toContain('vgg');
    expect(labels(items)).not.toContain('prelude');
    expect(labels(items)).not.toContain('conv');
  });

  it('offers the parameter names of the op or block being written, then layers and blocks', async () => {
    const text = MODEL.replace('  gap;', '  conv 8 st\n  Unit(8, st\n  gap;');
    const next = client.nextDiagnostics(uri(model), 11);
    client.change(model, 11, text);
    await next;
    const opItems = labels(await client.request('textDocument/completion', { ...doc(model), position: pos(text, 'conv 8 st', 9) }));
    expect(opItems).toContain('stride=');
    expect(opItems).toContain('dilation=');
    expect(opItems).toContain('Unit');
    expect(opItems).toContain('conv3x3');
    expect(opItems).toContain('maxpool');
    const blockItems = labels(await client.request('textDocument/completion', { ...doc(model), position: pos(text, 'Unit(8, st', 10) }));
    expect(blockItems).toContain('stride=');
    // `c` is given by position already.
    expect(blockItems).not.toContain('c=');
    expect(blockItems).not.toContain('dilation=');
    const restored = client.nextDiagnostics(uri(model), 12);
    client.change(model, 12, MODEL);
    expect((await restored).diagnostics).toEqual([]);
  });
});

describe('rename', () => {
  it('renames a block in its file and in the files that import it', async () => {
    const prepared = await client.request('textDocument/prepareRename', { ...doc(model), position: pos(MODEL, 'Unit(16)', 1) });
    expect(prepared.placeholder).toBe('Unit');
    const edit = await client.request('textDocument/rename', { ...doc(model), position: pos(MODEL, 'Unit(16)', 1), newName: 'Cell' });
    const modelEdits = edit.changes[uri(model)];
    const libEdits = edit.changes[uri(lib)];
    expect(modelEdits.map((e: { range: { start: { line: number; character: number } } }) => e.range.start)).toEqual([
      { line: 3, character: 2 },
      { line: 4, character: 2 },
    ]);
    expect(libEdits).toEqual([{ range: { start: { line: 1, character: 6 }, end: { line: 1, character: 10 } }, newText: 'Cell' }]);
    await expect(client.request('textDocument/rename', { ...doc(model), position: pos(MODEL, 'Unit(16)', 1), newName: '9lives' })).rejects.toThrow(
      /not a valid name/,
    );
  });
});

describe('sequence and ConvNeXt constructs (issue 13)', () => {
  const SEQ = `net seq(classes=10) : [3, 32, 32] <
  conv 16 k=8 stride=8
  tokens
  class_token
  pos_embedding
  < layernorm eps=1e-6; attention 4 > + identity
  token 0
  linear classes
>
`;
  it('hovers the new ops with their shape and parameters, and completes their arguments', async () => {
    const file = join(dir, 'seq.net');
    writeFileSync(file, SEQ);
    const opened = client.nextDiagnostics(uri(file), 1);
    client.open(file, SEQ);
    expect((await opened).diagnostics).toEqual([]);
    const hover = await client.request('textDocument/hover', { ...doc(file), position: pos(SEQ, 'attention', 1) });
    expect(hover.contents.value).toContain('multi-head self-attention');
    // 4*4 patches + the class token = 17 tokens of 16; in_proj 3*16*16 + 48, out_proj 16*16 + 16 = 1,088
    expect(hover.contents.value).toContain('`[17, 16]` · 1,088 params');
    const token = await client.request('textDocument/hover', { ...doc(file), position: pos(SEQ, 'class_token', 1) });
    expect(token.contents.value).toContain('`[17, 16]` · 16 params');
    const text = SEQ.replace('  token 0', '  permute (0, 2, 1); layernorm ep\n  token 0');
    const next = client.nextDiagnostics(uri(file), 2);
    client.change(file, 2, text);
    await next;
    const items = (await client.request('textDocument/completion', { ...doc(file), position: pos(text, 'layernorm ep', 12) })).map(
      (i: { label: string }) => i.label,
    );
    expect(items).toContain('eps=');
    expect(items).toContain('attention');
    expect(items).toContain('layernorm2d');
  });
});

describe('debounce', () => {
  it('coalesces quick edits into one check of the latest text', async () => {
    const slow = new LspClient();
    try {
      await slow.initialize({ debounceMs: 1000 }, dir);
      const first = slow.nextDiagnostics(uri(model), 1);
      slow.open(model, MODEL);
      await first;
      const published = slow.next((m: { method: string }) => m.method === 'textDocument/publishDiagnostics');
      slow.change(model, 2, MODEL.replace('gap', 'gapp'));
      slow.change(model, 3, MODEL.replace('gap', 'gappp'));
      slow.change(model, 4, MODEL);
      const { params } = await published;
      expect(params.version).toBe(4);
      expect(params.diagnostics).toEqual([]);
    } finally {
      slow.kill();
    }
  });
});

describe('lifecycle', () => {
  it('shuts down and exits with status 0', async () => {
    const code = await client.shutdown();
    expect(code).toBe(0);
  });
});
