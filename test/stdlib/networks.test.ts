/**
 * The standard library against PyTorch (issue 3).
 *
 * Every expectation here comes from test/reference/ — JSON and tables produced by real PyTorch /
 * torchvision (test/reference/generate.py) — or is computed by hand in a comment. None comes from netc.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileFile, type IRGraph } from '../../src/api.js';
import { summarize } from '../../src/check/summary.js';
import { renderTable } from '../../src/check/table.js';
import { ISSUE3_NETS, TORCHVISION_NETS, ZOO_NETS } from '../reference/nets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REFERENCE = join(ROOT, 'test', 'reference');
const STDLIB = join(ROOT, 'stdlib');

interface Reference {
  name: string;
  input: number[];
  totalParams: number;
  macs: number;
  layers: { module: string; type: string; outputShape: number[]; params: number }[];
  stateDict: [string, number[]][];
}

/** Reference networks whose stdlib file has another name. */
const FILE_FOR: Record<string, string> = { vgg_gap_seed003: 'vgg16_gap' };

/** Built by torchvision itself; their state dicts load into torchvision's models. */
const TORCHVISION = new Set(TORCHVISION_NETS);

/**
 * Warnings that are true of torchvision's own definition. squeezenet1_0's first conv (7x7, stride 2, no
 * padding) on 224: floor((224 - 7) / 2) + 1 = 109 windows read rows 0..222, so row 223 is never read.
 */
const EXPECTED_WARNINGS: Record<string, string[]> = { squeezenet1_0: ['warning NET2005', 'warning NET2005'] };

const REFERENCES: Reference[] = readdirSync(REFERENCE)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(REFERENCE, f), 'utf8')) as Reference);

const fileOf = (name: string) => join(STDLIB, `${FILE_FOR[name] ?? name}.net`);

function compile(name: string, options: { args?: Record<string, number>; input?: number[] } = {}) {
  const result = compileFile(fileOf(name), options);
  const problems = result.diagnostics.map((d) => `${d.severity} ${d.code}`);
  expect(problems, result.diagnostics.map((d) => d.message).join('\n')).toEqual(EXPECTED_WARNINGS[name] ?? []);
  expect(result.graphs).toHaveLength(1);
  return result.graphs[0]!;
}

/** Conv2d, BatchNorm2d, Linear, LayerNorm(2d) and MultiheadAttention rows of the summary, in execution order — what the reference lists. */
function counted(graph: IRGraph) {
  return summarize(graph, 'torch').rows.filter(
    (r) => r.kind === 'layer' && ['Conv2d', 'BatchNorm2d', 'Linear', 'LayerNorm', 'LayerNorm2d', 'MultiheadAttention'].includes(r.type),
  );
}

const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** `${module}.${parameter}` -> shape, as state_dict() would give it. */
function stateDict(graph: IRGraph): [string, number[]][] {
  // A parameter outside any module (layer_scale, class_token) has no name of its own: its key is the node's.
  return graph.nodes.flatMap((n) => n.weights.map((w) => [w.name ? `${n.name}.${w.name}` : n.name, w.shape] as [string, number[]]));
}

describe('reference data', () => {
  it('covers the networks of issue 3, each with a stdlib file', () => {
    const names = REFERENCES.map((r) => r.name);
    for (const n of [...ISSUE3_NETS, ...ZOO_NETS]) expect(names).toContain(n);
    for (const n of names) expect(existsSync(fileOf(n)), fileOf(n)).toBe(true);
  });
});

describe.each(REFERENCES.map((r) => [r.name, r] as const))('%s', (name, ref) => {
  let graph: IRGraph;
  let summary: ReturnType<typeof summarize>;

  it("compiles with no errors and no warnings (but torchvision's own), at the reference input", () => {
    graph = compile(name);
    summary = summarize(graph, 'torch');
    expect(graph.input).toEqual(ref.input);
  });

  it(`has ${ref.totalParams.toLocaleString('en-US')} params and ${ref.macs.toLocaleString('en-US')} MACs`, () => {
    expect(summary.totalParams).toBe(ref.totalParams);
    expect(summary.trainableParams).toBe(ref.totalParams);
    expect(summary.macs).toBe(ref.macs);
  });

  it('has the reference Conv2d/BatchNorm2d/Linear layers in execution order (type, output shape, params)', () => {
    const mine = counted(graph).map((r) => ({ type: r.type, outputShape: r.outputShape, params: r.params }));
    const theirs = ref.layers.map((l) => ({ type: l.type, outputShape: [-1, ...l.outputShape], params: l.params }));
    expect(mine).toEqual(theirs);
  });

  it('names every such layer with the reference module path', () => {
    // torchvision's names for the torchvision nets, the seed code's attribute names for the tutorial nets.
    expect(counted(graph).map((r) => r.name)).toEqual(ref.layers.map((l) => l.module));
  });

  it('has the reference state dict keys and shapes (without num_batches_tracked)', () => {
    // netc does not model BatchNorm's num_batches_tracked counter (a shape-[] int64 buffer that only
    // matters for momentum=None); every other entry, running statistics included, must match.
    const theirs = ref.stateDict.filter(([k]) => !k.endsWith('.num_batches_tracked'));
    const mine = stateDict(graph);
    const sorted = (xs: [string, number[]][]) => [...xs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    expect(sorted(mine)).toEqual(sorted(theirs));
    // torchvision registers modules in execution order, so its state-dict order is ours too.
    // (Seed 004's SE bottleneck registers `shortcut` before `se` but runs `se` first.)
    // A module's own parameters (ConvNeXt's layer_scale, ViT's class_token) come before its submodules'
    // in state_dict(), whatever the execution order: the order is compared without them.
    const own = new Set(graph.nodes.filter((n) => n.weights.some((w) => w.name === '')).map((n) => n.name));
    const order = (xs: [string, number[]][]) => xs.map(([k]) => k).filter((k) => !own.has(k));
    if (TORCHVISION.has(name)) expect(order(mine)).toEqual(order(theirs));
  });

  it('counts only weights and biases as params; running statistics are buffers', () => {
    const nodes = graph.nodes.flatMap((n) => n.weights);
    const params = nodes.filter((w) => !w.buffer).reduce((s, w) => s + product(w.shape), 0);
    expect(params).toBe(ref.totalParams);
    for (const w of nodes) expect(w.buffer, w.name).toBe(w.name === 'running_mean' || w.name === 'running_var');
  });
});

describe('torchsummary tables, byte for byte', () => {
  it.each(['resnet18', 'resnet34'])('%s', (name) => {
    const expected = readFileSync(join(REFERENCE, `${name}.summary.txt`), 'utf8');
    expect(renderTable(summarize(compile(name), 'torch'))).toBe(expected);
  });

  // The CLI runs from dist/: `npm test` builds it first.
  it.skipIf(!existsSync(join(ROOT, 'dist', 'cli', 'main.js')))('netc check prints exactly that table', () => {
    const cli = join(ROOT, 'bin', 'netc.js');
    const out = execFileSync(process.execPath, [cli, 'check', join(STDLIB, 'resnet34.net')], { encoding: 'utf8' });
    expect(out).toBe(readFileSync(join(REFERENCE, 'resnet34.summary.txt'), 'utf8'));
  });
});

describe('parameters and input overridden (--set / --input)', () => {
  it('resnet34 with classes=10 at 3x32x32', () => {
    const ref = REFERENCES.find((r) => r.name === 'resnet34')!;
    const graph = compile('resnet34', { args: { classes: 10 }, input: [3, 32, 32] });
    const summary = summarize(graph, 'torch');
    // Params: only fc changes, 512*1000+1000 = 513,000 -> 512*10+10 = 5,130:
    // 21,797,672 - 513,000 + 5,130 = 21,289,802.
    expect(summary.totalParams).toBe(21_289_802);
    // Every feature map shrinks 7x per side: conv1 (32+6-7)//2+1 = 16 (224 gives 112), maxpool
    // (16+2-3)//2+1 = 8 (56), then 4, 2, 1 (28, 14, 7). So each conv's MACs are its 224 count / 49:
    // (3,663,761,408 - 512*1000 for fc) / 49 = 74,760,192, plus fc 512*10 = 5,120.
    expect(summary.macs).toBe(74_765_312);
    // Layer by layer, from the reference: H and W divided by 7, the same params (none of these
    // convs has a bias, so a conv's MACs are output H*W times its weight count); fc 512 -> 10.
    const expected = ref.layers.map((l) => {
      if (l.type === 'Linear') return { type: l.type, outputShape: [-1, 10], params: 5130, macs: 5120 };
      const [c, h, w] = l.outputShape as [number, number, number];
      const macs = l.type === 'Conv2d' ? (h / 7) * (w / 7) * l.params : 0;
      return { type: l.type, outputShape: [-1, c, h / 7, w / 7], params: l.params, macs };
    });
    expect(counted(graph).map((r) => ({ type: r.type, outputShape: r.outputShape, params: r.params, macs: r.macs }))).toEqual(expected);
  });

  it('resnet20_cifar with n=5 is ResNet-32', () => {
    const summary = summarize(compile('resnet20_cifar', { args: { n: 5 } }), 'torch');
    // Two more BasicBlocks per stage, each two 3x3 convs + two BNs (no new projections):
    // 16: 2*(16*16*9) + 2*(2*16) = 4,672; 32: 2*9,216 + 128 = 18,560; 64: 2*36,864 + 256 = 73,984.
    // 272,474 + 2*(4,672 + 18,560 + 73,984) = 466,906 (the paper's ResNet-32: 0.46M).
    expect(summary.totalParams).toBe(466_906);
    // Every 3x3 conv of a stage costs the same: 32*32*2,304 = 16*16*9,216 = 8*8*36,864 = 2,359,296 MACs,
    // so each new block costs 4,718,592: 40,813,184 + 6 * 4,718,592 = 69,124,736.
    expect(summary.macs).toBe(69_124_736);
  });

  it('vgg16 with classes=10', () => {
    const summary = summarize(compile('vgg16', { args: { classes: 10 } }), 'torch');
    // The last linear 4096*1000+1000 = 4,097,000 becomes 4096*10+10 = 40,970.
    expect(summary.totalParams).toBe(138_357_544 - 4_097_000 + 40_970);
    expect(summary.macs).toBe(15_470_264_320 - 4_096_000 + 40_960);
  });

  it('densenet_bc_cifar at growth 24 still infers every in-channel', () => {
    const graph = compile('densenet_bc_cifar', { args: { k: 24 } });
    // Channels: 2k = 48 -> +19*24 = 504 -> 252 -> 708 -> 354 -> 810 (the default k=12 gives 24 .. 405).
    const fc = counted(graph).at(-1)!;
    expect(fc.params).toBe(810 * 10 + 10);
    const bn = counted(graph).at(-2)!;
    expect(bn.outputShape).toEqual([-1, 810, 8, 8]);
  });
});
