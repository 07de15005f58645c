// The server against what editors and the outside world do to it: untitled buffers, files changed on
// disk, the installed library, damaged frames, bounded workspace scans, labels, completion, semantic tokens.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module shared with bench/lsp-latency.mjs
import { LspClient, ROOT, uri } from './client.mjs';

const LIB = `block Unit(c, stride=1) <
  conv c k=3 stride=stride pad=1; bn; relu
>
`;

const MODEL = `use "./lib"

net small(classes=10) : [3, 32, 32] <
  Unit(16)
  gap; linear classes
>
`;

/** resnet34's body, with the stdlib's basic_stage. */
const RESNET = `use "resnet"

net r34(classes=1000) : [3, 224, 224] <
  conv1: conv 64 k=7 stride=2 pad=3 bias=false
  bn1: bn; relu; maxpool 3 stride=2 pad=1
  layer1: basic_stage(64, 3)
  layer2: basic_stage(128, 4, stride=2)
  avgpool: gap
  fc: linear classes
>
`;

function pos(text: string, needle: string, delta = 0) {
  const offset = text.indexOf(needle);
  if (offset < 0) throw new Error(`${needle} not in text`);
  const before = text.slice(0, offset + delta);
  return { line: before.split('\n').length - 1, character: before.length - before.lastIndexOf('\n') - 1 };
}

let dir: string;
let client: LspClient;
let capabilities: { semanticTokensProvider: { legend: { tokenTypes: string[] } } };
const lib = () => join(dir, 'lib.net');
const model = () => join(dir, 'model.net');
const resnet = () => join(dir, 'r34.net');
const doc = (path: string) => ({ textDocument: { uri: uri(path) } });

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/lsp/server.js'))) execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', ROOT]);
  dir = mkdtempSync(join(tmpdir(), 'netc-lsp-ws-'));
  writeFileSync(lib(), LIB);
  writeFileSync(model(), MODEL);
  writeFileSync(resnet(), RESNET);
  client = new LspClient();
  ({ capabilities } = await client.initialize({ debounceMs: 0 }, dir));
  for (const [path, text] of [
    [model(), MODEL],
    [resnet(), RESNET],
  ] as const) {
    const opened = client.nextDiagnostics(uri(path), 1);
    client.open(path, text);
    expect((await opened).diagnostics).toEqual([]);
  }
});

afterAll(() => {
  client?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('untitled buffers', () => {
  const UNTITLED = 'untitled:Untitled-1';
  const TEXT = 'net u : [3, 8, 8] <\n  conv 4 k=3; rleu\n  gap\n>\n';

  it('get diagnostics under their own URI, hover and inlay hints', async () => {
    const published = client.nextDiagnostics(UNTITLED, 1);
    client.notify('textDocument/didOpen', { textDocument: { uri: UNTITLED, languageId: 'netc', version: 1, text: TEXT } });
    const { diagnostics } = await published;
    expect(diagnostics.map((d: { code: string }) => d.code)).toEqual(['NET1001']);
    expect(diagnostics[0].range.start).toEqual({ line: 1, character: 14 });
    const hover = await client.request('textDocument/hover', { textDocument: { uri: UNTITLED }, position: { line: 1, character: 3 } });
    expect(hover.contents.value).toContain('2-D convolution');
    const hints = await client.request('textDocument/inlayHint', {
      textDocument: { uri: UNTITLED },
      range: { start: { line: 0, character: 0 }, end: { line: 5, character: 0 } },
    });
    expect(hints.map((h: { label: string }) => h.label)).toContain('→ [4, 6, 6]');
    client.notify('textDocument/didClose', { textDocument: { uri: UNTITLED } });
  });
});

describe('many problems', () => {
  it('publishes the first 1,000 of a file and one NET1011 that says how many more there are', async () => {
    const path = join(dir, 'garbage.net');
    const text = `net g : [3, 8, 8] <\n${'  rleu\n'.repeat(1500)}>\n`;
    const published = client.nextDiagnostics(uri(path), 1);
    client.open(path, text);
    const { diagnostics } = await published;
    expect(diagnostics).toHaveLength(1001);
    expect(diagnostics[999].message).toContain('rleu');
    // The front end keeps 1,000 and counts the rest in one NET1011 (src/check/limits.ts).
    expect(diagnostics[1000].code).toBe('NET1011');
    expect(diagnostics[1000].message).toMatch(/^500 more diagnostics \(500 errors\) were found but not reported/);
    client.notify('textDocument/didClose', doc(path));
  });
});

describe('files changed on disk', () => {
  it('re-checks the open files that import a file edited outside the editor', async () => {
    const at = { ...doc(model()), position: pos(MODEL, 'Unit(16)', 1) };
    // conv 3->16 k3 (432 + 16) + bn (32)
    expect((await client.request('textDocument/hover', at)).contents.value).toContain('480 params');
    const broken = client.nextDiagnostics(uri(model()));
    writeFileSync(lib(), LIB.replace('bn;', 'bnn;'));
    client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(lib()), type: 2 }] });
    const { diagnostics } = await broken;
    expect(diagnostics[0].message).toContain('(in lib.net)');
    // The hover reads the new text too: the misspelt bn builds nothing.
    expect((await client.request('textDocument/hover', at)).contents.value).toContain('448 params');

    const fixed = client.nextDiagnostics(uri(model()));
    writeFileSync(lib(), LIB);
    client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(lib()), type: 2 }] });
    expect((await fixed).diagnostics).toEqual([]);
  });

  it('notices an imported file changed on disk at the next request when the client sends no file events', async () => {
    const at = { ...doc(model()), position: pos(MODEL, 'Unit(16)', 1) };
    expect((await client.request('textDocument/hover', at)).contents.value).toContain('480 params');
    const republished = client.nextDiagnostics(uri(model()));
    writeFileSync(lib(), LIB.replace('bn;', 'bnn;') + '\n');
    expect((await client.request('textDocument/hover', at)).contents.value).toContain('448 params');
    expect((await republished).diagnostics[0].message).toContain('(in lib.net)');
    const fixed = client.nextDiagnostics(uri(model()));
    writeFileSync(lib(), LIB);
    await client.request('textDocument/hover', at);
    expect((await fixed).diagnostics).toEqual([]);
  });

  it('registers a watcher for .net files when the client can take one', async () => {
    const watching = new LspClient();
    try {
      const registered = new Promise<unknown>((resolve) => {
        const receive = watching.receive.bind(watching);
        watching.receive = (m: { method?: string; params?: unknown }) => {
          if (m.method === 'client/registerCapability') resolve(m.params);
          receive(m);
        };
      });
      await watching.initialize({}, dir, { workspace: { didChangeWatchedFiles: { dynamicRegistration: true } } });
      expect(JSON.stringify(await registered)).toContain('**/*.net');
    } finally {
      watching.kill();
    }
  });
});

describe('rename and the installed library', () => {
  it('refuses to rename a stdlib definition, with the reason', async () => {
    const at = { ...doc(resnet()), position: pos(RESNET, 'basic_stage(128', 2) };
    await expect(client.request('textDocument/prepareRename', at)).rejects.toThrow(/standard library \(resnet\.net\)/);
    await expect(client.request('textDocument/rename', { ...at, newName: 'stage' })).rejects.toThrow(/installed library/);
  });

  it("renames a stdlib definition consistently when the workspace is netc's own source", async () => {
    const own = new LspClient();
    try {
      await own.initialize({ debounceMs: 0 }, ROOT);
      const path = join(ROOT, 'stdlib/resnet34.net');
      const text = (await import('node:fs')).readFileSync(path, 'utf8');
      const opened = own.nextDiagnostics(uri(path), 1);
      own.open(path, text);
      await opened;
      const edit = await own.request('textDocument/rename', { ...doc(path), position: pos(text, 'basic_stage', 2), newName: 'stage' });
      const files = Object.keys(edit.changes)
        .map((u) => u.split('/').pop())
        .sort();
      expect(files).toEqual(['resnet.net', 'resnet18.net', 'resnet20_cifar.net', 'resnet34.net']);
    } finally {
      own.kill();
    }
  });

  it('still renames a definition of the workspace in every file that uses it', async () => {
    const edit = await client.request('textDocument/rename', { ...doc(model()), position: pos(MODEL, 'Unit', 1), newName: 'Cell' });
    expect(Object.keys(edit.changes).sort()).toEqual([uri(lib()), uri(model())].sort());
  });
});

describe('labels', () => {
  it('hover on a label names the module and what it builds', async () => {
    const hover = await client.request('textDocument/hover', { ...doc(resnet()), position: pos(RESNET, 'layer2:', 2) });
    const text: string = hover.contents.value;
    expect(text).toContain('label `layer2`');
    // layer2 of resnet34's first four stages: 4 BasicBlocks 64->128, output [128, 28, 28]
    expect(text).toContain('`[128, 28, 28]`');
    expect(text).toContain('`layer2`');
  });

  it('hover on a labelled macro use names the label, not the last layer inside', async () => {
    const hover = await client.request('textDocument/hover', { ...doc(resnet()), position: pos(RESNET, 'basic_stage(128', 2) });
    const text: string = hover.contents.value;
    expect(text).toContain('— `layer2`');
    expect(text).not.toContain('relu2');
  });
});

describe('completion', () => {
  const labels = async (text: string, needle: string) => {
    const version = Date.now() % 1e6;
    const next = client.nextDiagnostics(uri(model()), version);
    client.change(model(), version, text);
    await next;
    const items = await client.request('textDocument/completion', { ...doc(model()), position: pos(text, needle, needle.length) });
    return items.map((i: { label: string }) => i.label);
  };

  it('does not offer parameters already given, by name or position', async () => {
    const text = MODEL.replace('  gap;', '  conv 8 k=3 \n  Unit(8, \n  gap;');
    const op = await labels(text, 'conv 8 k=3 ');
    expect(op).toContain('stride=');
    expect(op).not.toContain('k=');
    expect(op).not.toContain('out=');
    const block = await labels(text, 'Unit(8, ');
    expect(block).toContain('stride=');
    expect(block).not.toContain('c=');
  });

  it('does not offer nets as callables', async () => {
    const text = MODEL + '\nnet other : [3, 8, 8] <\n  gap\n>\n';
    const items = await labels(text, '  gap;');
    expect(items).toContain('Unit');
    expect(items).not.toContain('small');
    expect(items).not.toContain('other');
  });
});

describe('semantic tokens', () => {
  it('types the names the grammar cannot tell apart', async () => {
    const { data } = await client.request('textDocument/semanticTokens/full', doc(resnet()));
    const legend = capabilities.semanticTokensProvider.legend;
    const tokens: string[] = [];
    const lines = RESNET.split('\n');
    let line = 0;
    let character = 0;
    for (let i = 0; i < data.length; i += 5) {
      line += data[i];
      character = data[i] ? data[i + 1] : character + data[i + 1];
      tokens.push(`${lines[line]!.slice(character, character + data[i + 2])}:${legend.tokenTypes[data[i + 3]]}:${data[i + 4]}`);
    }
    expect(tokens).toContain('r34:namespace:1');
    expect(tokens).toContain('classes:parameter:1');
    expect(tokens).toContain('layer1:property:1');
    expect(tokens).toContain('basic_stage:macro:2');
    expect(tokens).toContain('conv:function:2');
    expect(tokens.filter((t) => t === 'classes:parameter:0')).toHaveLength(1);
  });
});

describe('cancelled requests', () => {
  it('a hover cancelled while it waited in the queue is answered RequestCancelled, without the work', async () => {
    client.child.stdin.cork();
    const id = client.nextId;
    const hover = client.request('textDocument/hover', { ...doc(resnet()), position: pos(RESNET, 'layer2:', 2) });
    client.notify('$/cancelRequest', { id });
    client.child.stdin.uncork();
    await expect(hover).rejects.toMatchObject({ code: -32800 });
    expect((await client.request('textDocument/hover', { ...doc(resnet()), position: pos(RESNET, 'layer2:', 2) })).contents.value).toContain('layer2');
  });
});

describe('damaged frames', () => {
  it('answers a body that is not JSON with -32700 and keeps serving', async () => {
    const answered = client.next((m: { id?: unknown; error?: { code: number } }) => m.id === null && m.error?.code === -32700);
    client.raw('Content-Length: 9\r\n\r\nnot json!');
    await answered;
    const symbols = await client.request('textDocument/documentSymbol', doc(model()));
    expect(symbols.length).toBeGreaterThan(0);
  });

  it('recovers from a Content-Length that is too short', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 999, method: 'textDocument/documentSymbol', params: doc(model()) });
    const answered = client.next((m: { id?: unknown; error?: { code: number } }) => m.id === null && m.error?.code === -32700);
    client.raw(`Content-Length: ${body.length - 10}\r\n\r\n${body}`);
    await answered;
    const symbols = await client.request('textDocument/documentSymbol', doc(model()));
    expect(symbols.map((s: { name: string }) => s.name)).toContain('small');
  });

  it('recovers from a Content-Length that is too long when the next frame follows', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', method: '$/noSuchNotification', params: {} });
    const answered = client.next((m: { id?: unknown; error?: { code: number } }) => m.id === null && m.error?.code === -32700);
    // The request follows this frame at once; the overstated length swallows the start of it.
    client.child.stdin.cork();
    client.raw(`Content-Length: ${body.length + 30}\r\n\r\n${body}`);
    const symbols = client.request('textDocument/documentSymbol', doc(model()));
    client.child.stdin.uncork();
    await answered;
    expect(await symbols).toBeDefined();
  });
});

describe('bounded workspace scans', () => {
  it('refuses a rename when the scan stopped at its file limit, and reports references it found', async () => {
    const many = mkdtempSync(join(tmpdir(), 'netc-lsp-many-'));
    const bounded = new LspClient();
    try {
      writeFileSync(join(many, 'lib.net'), LIB);
      for (let i = 0; i < 6; i++) writeFileSync(join(many, `m${i}.net`), MODEL);
      await bounded.initialize({ debounceMs: 0, scanLimits: { files: 3 } }, many);
      const path = join(many, 'lib.net');
      const opened = bounded.nextDiagnostics(uri(path), 1);
      bounded.open(path, LIB);
      await opened;
      const at = { ...doc(path), position: pos(LIB, 'Unit', 1) };
      const warned = bounded.next((m: { method: string }) => m.method === 'window/showMessage');
      const refs = await bounded.request('textDocument/references', { ...at, context: { includeDeclaration: false } });
      expect((await warned).params.message).toMatch(/only part of the workspace \(the workspace folders hold more than 3 \.net files\)/);
      expect(refs.length).toBeGreaterThan(0);
      expect(refs.length).toBeLessThan(6);
      await expect(bounded.request('textDocument/rename', { ...at, newName: 'Cell' })).rejects.toThrow(/scan stopped early.*more than 3 \.net files/);
    } finally {
      bounded.kill();
      rmSync(many, { recursive: true, force: true });
    }
  });

  it('does not elaborate workspace files: a net that unrolls without end costs only its parse', async () => {
    const huge = join(dir, 'huge.net');
    writeFileSync(huge, 'use "inception"\nnet g : [3, 224, 224] <\n  <conv 8 k=1; Inception(8, 8, 8, 8, 8, 8)> * 100000\n>\n');
    try {
      const uses = await client.request('textDocument/references', {
        ...doc(model()),
        position: pos(MODEL, 'small', 1),
        context: { includeDeclaration: true },
      });
      expect(uses).toHaveLength(1);
    } finally {
      rmSync(huge);
    }
  });

  it('answers ContentModified when a buffer changes during the scan (its ranges could be stale)', async () => {
    const busy = new LspClient();
    try {
      await busy.initialize({ debounceMs: 0, scanLimits: { sliceMs: 0 } }, ROOT);
      const path = join(dir, 'moving.net');
      const opened = busy.nextDiagnostics(uri(path), 1);
      busy.open(path, LIB);
      await opened;
      const refs = busy.request('textDocument/references', { ...doc(path), position: pos(LIB, 'Unit', 1), context: { includeDeclaration: true } });
      busy.change(path, 2, `\n${LIB}`);
      await expect(refs).rejects.toMatchObject({ code: -32801 });
    } finally {
      busy.kill();
    }
  });

  it('answers a cancelled scan with RequestCancelled', async () => {
    const slow = new LspClient();
    try {
      await slow.initialize({ scanLimits: { sliceMs: 0 } }, ROOT);
      const path = join(ROOT, 'stdlib/resnet.net');
      const opened = slow.nextDiagnostics(uri(path), 1);
      slow.open(path, (await import('node:fs')).readFileSync(path, 'utf8'));
      await opened;
      const id = slow.nextId;
      const refs = slow.request('textDocument/references', { ...doc(path), position: { line: 5, character: 8 }, context: { includeDeclaration: true } });
      slow.notify('$/cancelRequest', { id });
      await expect(refs).rejects.toMatchObject({ code: -32800 });
    } finally {
      slow.kill();
    }
  });
});
