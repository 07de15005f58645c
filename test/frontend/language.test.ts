/**
 * Each language construct, elaborated in process. Every expected shape and parameter count is worked out
 * by hand in the comments (PyTorch's formulas: conv out = floor((H + 2P - D(K-1) - 1)/S) + 1, conv params =
 * out*in/groups*kh*kw (+ out with bias), BatchNorm = 2*C, Linear = in*out (+ out)), not copied from netc.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSource } from '../../src/syntax/parse.js';
import type { BlockDecl, CallStage, Stage } from '../../src/syntax/ast.js';
import { compile, graphOf, netc, node, output, paramCount } from './helpers.js';

const CARD = 'block Basic(c)< conv3x3 c; bn; relu; conv3x3 c; bn > + shortcut';

const callNames = (s: Stage): string[] => (s.kind === 'seq' ? s.stages.flatMap(callNames) : s.kind === 'call' ? [s.name] : [`<${s.kind}>`]);

describe("the card's line", () => {
  it('parses exactly as written: a block Basic(c) whose body is a group of five calls plus shortcut', () => {
    const { file, errors } = parseSource(CARD, 'card.net');
    expect(errors).toEqual([]);
    expect(file.items).toHaveLength(1);
    const block = file.items[0] as BlockDecl;
    expect(block.kind).toBe('block');
    expect(block.name).toBe('Basic');
    expect(block.params.map((p) => p.name)).toEqual(['c']);
    expect(block.params[0]!.default).toBeUndefined();
    const body = block.body;
    expect(body.kind).toBe('combine');
    if (body.kind !== 'combine') return;
    expect(body.op).toBe('+');
    expect(CARD.slice(body.opRange.start, body.opRange.end)).toBe('+');
    expect(body.left.kind).toBe('group');
    if (body.left.kind !== 'group') return;
    expect(callNames(body.left.body)).toEqual(['conv3x3', 'bn', 'relu', 'conv3x3', 'bn']);
    const convs = (body.left.body as Extract<Stage, { kind: 'seq' }>).stages.filter((s): s is CallStage => s.kind === 'call' && s.name === 'conv3x3');
    for (const conv of convs) expect(conv.args.map((a) => CARD.slice(a.range.start, a.range.end))).toEqual(['c']);
    expect(body.right.kind === 'call' && body.right.name).toBe('shortcut');
    expect(CARD.slice(block.range.start, block.range.end)).toBe(CARD);
  });

  it('a file holding only the card line checks with exit 0 (a library: no net, prelude in scope)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'netc-card-'));
    const file = join(dir, 'basic.net');
    writeFileSync(file, `${CARD}\n`);
    const r = netc(['check', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Also without a trailing newline.
    writeFileSync(file, CARD);
    expect(netc(['check', file]).status).toBe(0);
  });

  it('instantiated with the same channels the shortcut is the identity: add(bn2, input)', () => {
    // [64, 56, 56]: conv3x3 64 keeps 56 (pad 1); params 2 * (64*64*9) + 2 * (2*64) = 73,728 + 256 = 73,984.
    const g = graphOf(`${CARD}\nnet n : [64, 56, 56] < Basic(64) >\n`);
    const add = output(g);
    expect(add.op).toBe('add');
    expect(add.shape).toEqual([64, 56, 56]);
    expect(add.inputs).toEqual([node(g, 'basic.bn2').id, 0]);
    expect(g.nodes.some((n) => n.name.includes('downsample'))).toBe(false);
    expect(paramCount(g)).toBe(73_984);
  });

  it('instantiated with more channels the shortcut becomes downsample = 1x1 conv (stride 1, no bias) + bn', () => {
    // [64, 8, 8] -> Basic(128): body [128, 8, 8]; projection conv 128x64x1x1 = 8,192, bn 256.
    // body: 128*64*9 = 73,728 + 256 + 128*128*9 = 147,456 + 256; total 73,728 + 147,456 + 512 + 8,192 + 256 = 230,144.
    const g = graphOf(`${CARD}\nnet n : [64, 8, 8] < Basic(128) >\n`);
    const conv = node(g, 'basic.downsample.0');
    expect(conv.op).toBe('conv');
    expect(conv.attrs).toMatchObject({ kernel: [1, 1], stride: [1, 1], padding: [0, 0], bias: false, out: 128 });
    expect(conv.weights.map((w) => [w.name, w.shape])).toEqual([['weight', [128, 64, 1, 1]]]);
    expect(conv.inputs).toEqual([0]);
    expect(node(g, 'basic.downsample.1').op).toBe('bn');
    expect(paramCount(g)).toBe(230_144);
  });
});

describe('imports', () => {
  it('use "module" reads stdlib/, use "./file.net" a file beside the importer', () => {
    // Two(8) on [3, 32, 32]: conv3x3 8 = 8*3*9 = 216 params, [8, 32, 32].
    // BasicBlock(8) (stdlib resnet): 2 * 8*8*9 = 1,152 + 2 * 16 = 32 -> 1,184; identity shortcut.
    const g = graphOf('use "resnet"\nuse "./blocks.net"\nnet n : [3, 32, 32] < Two(8); BasicBlock(8) >\n', {
      files: { 'blocks.net': 'block Two(c) < conv3x3 c; relu >\n' },
    });
    expect(output(g).shape).toEqual([8, 32, 32]);
    expect(paramCount(g)).toBe(216 + 1_184);
    expect(g.modules.map((m) => m.type)).toEqual(['Two', 'BasicBlock']);
  });

  it('imports are transitive only through what each file uses: a file sees its own imports', () => {
    const g = graphOf('use "./a.net"\nnet n : [2, 4, 4] < A(3) >\n', {
      files: { 'a.net': 'use "./b.net"\nblock A(c) < B(c) >\n', 'b.net': 'def B(c) = conv c k=1\n' },
    });
    // conv 1x1 2 -> 3 with bias: 3*2 + 3 = 9.
    expect(output(g).shape).toEqual([3, 4, 4]);
    expect(paramCount(g)).toBe(9);
  });
});

describe('definitions', () => {
  it("def is a macro: inlined, no module, its layers named in the caller's scope", () => {
    // cbr(8) on [3, 16, 16]: conv 8 k=3 pad=1: 8*3*9 = 216, bn 16. cbr(16, k=5): pad 5//2 = 2 keeps 16;
    // conv 16*8*25 = 3,200, bn 32. Total 216 + 16 + 3,200 + 32 = 3,464.
    const g = graphOf('def cbr(c, k=3) = conv c k=k pad=k//2 bias=false; bn; relu\nnet n : [3, 16, 16] < cbr(8); cbr(16, k=5) >\n');
    expect(g.modules).toEqual([]);
    expect(output(g).shape).toEqual([16, 16, 16]);
    expect(paramCount(g)).toBe(3_464);
    expect(g.nodes.slice(1).map((n) => n.name)).toEqual(['conv1', 'bn1', 'relu1', 'conv2', 'bn2', 'relu2']);
    expect(node(g, 'conv2').attrs).toMatchObject({ kernel: [5, 5], padding: [2, 2] });
  });

  it('block parameters: defaults (also from earlier parameters), keywords in any order', () => {
    const src = 'block B(c, stride=1, width=2*c) < conv width k=3 stride=stride pad=1 bias=false >\n';
    // B(4) on [3, 16, 16]: width 8, stride 1 -> [8, 16, 16], 8*3*9 = 216.
    expect(output(graphOf(`${src}net n : [3, 16, 16] < B(4) >\n`)).shape).toEqual([8, 16, 16]);
    // B(4, width=5, stride=2): floor((16 + 2 - 2 - 1)/2) + 1 = 8 -> [5, 8, 8], 5*3*9 = 135.
    const g = graphOf(`${src}net n : [3, 16, 16] < B(4, width=5, stride=2) >\n`);
    expect(output(g).shape).toEqual([5, 8, 8]);
    expect(paramCount(g)).toBe(135);
    // Command style and call style are the same call.
    expect(output(graphOf(`${src}net n : [3, 16, 16] < B 4 stride=2 >\n`)).shape).toEqual([8, 8, 8]);
  });
});

describe('expressions', () => {
  const body = [
    'conv floor(c / 3) k=1',
    'conv ceil(c / 3) k=1',
    'conv c // 4 k=1',
    'conv c % 4 + 1 k=1',
    'conv (c > 5 ? 7 : 1) k=1',
    'conv max(2, min(c, 6)) k=1',
    'conv round(2.4) + abs(-1) k=1',
    'conv (c >= 10 and not (c == 3) ? 11 : 12) k=1',
    'conv -2*-3 - 1 k=1',
    'conv (c != 10 or false ? 2 : 9) k=1',
  ];
  const src = `net a(c=10) : [3, 9, 9] <\n  ${body.join('\n  ')}\n>\n`;
  const channels = (g: ReturnType<typeof graphOf>) => g.nodes.slice(1).map((n) => n.shape![0]);

  it('arithmetic, floor/ceil/round/min/max/abs, comparisons, and/or/not, ternary', () => {
    // c = 10: floor(3.33) = 3, ceil(3.33) = 4, 10 // 4 = 2, 10 % 4 + 1 = 3, 10 > 5 -> 7, max(2, min(10, 6)) = 6,
    // round(2.4) + abs(-1) = 3, (true and true) -> 11, 6 - 1 = 5, (false or false) -> 9.
    expect(channels(graphOf(src))).toEqual([3, 4, 2, 3, 7, 6, 3, 11, 5, 9]);
  });

  it('net parameters are overridable (--set): the same expressions with c = 4', () => {
    // c = 4: floor(1.33) = 1, ceil(1.33) = 2, 1, 0 + 1 = 1, 4 > 5 false -> 1, max(2, min(4, 6)) = 4, 3, 12, 5, 2.
    const g = graphOf(src, { args: { c: 4 } });
    expect(channels(g)).toEqual([1, 2, 1, 1, 1, 4, 3, 12, 5, 2]);
    expect(g.args).toEqual({ c: 4 });
  });

  it("in.c / in.h / in.w read the enclosing definition's input, not the running shape", () => {
    // P on [4, 8, 6]: conv in.c*2 = 8 channels; then in.c + in.h + in.w = 4 + 8 + 6 = 18 (in.c is still 4).
    // params: 8*4 + 8 = 40; 18*8 + 18 = 162.
    const g = graphOf('block P() < conv in.c * 2 k=1; conv in.c + in.h + in.w k=1 >\nnet n : [4, 8, 6] < P() >\n');
    expect(g.nodes.slice(1).map((n) => n.shape)).toEqual([
      [8, 8, 6],
      [18, 8, 6],
    ]);
    expect(paramCount(g)).toBe(202);
  });

  it('floor(in.c * theta) (DenseNet transition) with a float default', () => {
    // Transition on [30, 8, 8]: bn 2*30 = 60; conv1x1 floor(30 * 0.5) = 15: 15*30 = 450; avgpool 2 -> [15, 4, 4].
    const g = graphOf('use "densenet"\nnet n : [30, 8, 8] < Transition() >\n');
    expect(output(g).shape).toEqual([15, 4, 4]);
    expect(paramCount(g)).toBe(510);
    // theta=0.25: floor(7.5) = 7.
    expect(output(graphOf('use "densenet"\nnet n : [30, 8, 8] < Transition(theta=0.25) >\n')).shape).toEqual([7, 4, 4]);
  });
});

describe('sequences and repetition', () => {
  it('stages separated by ; and newlines run in order', () => {
    // [1, 28, 28] -> conv 6 k=5 -> [6, 24, 24] -> maxpool 2 -> [6, 12, 12] -> flatten -> [864] -> linear 10.
    const g = graphOf('net n : [1, 28, 28] <\n  conv 6 k=5; maxpool 2\n\n  flatten\n  linear 10\n>\n');
    expect(g.nodes.map((n) => n.shape)).toEqual([[1, 28, 28], [6, 24, 24], [6, 12, 12], [864], [10]]);
    expect(g.nodes.map((n, i) => (i === 0 ? [] : n.inputs))).toEqual([[], [0], [1], [2], [3]]);
    // conv 6*25 + 6 = 156; linear 864*10 + 10 = 8,650.
    expect(paramCount(g)).toBe(8_806);
  });

  it('`* 3` repeats a group; `* n` with a parameter; `* (n + 1)`; `* 0` is the identity', () => {
    // <conv 4 k=3> on [4, 8, 8]: each repetition loses 2 rows; params 4*4*9 + 4 = 148 each.
    const src = (count: string) => `net r(n=2) : [4, 12, 12] < <conv 4 k=3> * ${count} >\n`;
    const three = graphOf(src('3'));
    expect(output(three).shape).toEqual([4, 6, 6]);
    expect(paramCount(three)).toBe(3 * 148);
    const n = graphOf(src('n'));
    expect(output(n).shape).toEqual([4, 8, 8]);
    expect(paramCount(n)).toBe(2 * 148);
    expect(output(graphOf(src('(n + 1)'))).shape).toEqual([4, 6, 6]);
    const zero = graphOf(src('n'), { args: { n: 0 } });
    expect(zero.output).toBe(0);
    expect(zero.nodes).toHaveLength(1);
    expect(output(graphOf(src('0'))).shape).toEqual([4, 12, 12]);
  });

  it('a block repeated under a label is numbered like nn.Sequential: layer1.0, layer1.1', () => {
    const g = graphOf('use "resnet"\nnet n : [16, 8, 8] < layer1: BasicBlock(16) * 2 >\n');
    expect(g.nodes.filter((n) => n.op === 'conv').map((n) => n.name)).toEqual(['layer1.0.conv1', 'layer1.0.conv2', 'layer1.1.conv1', 'layer1.1.conv2']);
  });
});

describe('residual connections', () => {
  it('BasicBlock(128, stride=2) on [64, 56, 56]: projection downsample.0 (1x1, stride 2, no bias) + downsample.1 (bn)', () => {
    // body: conv3x3 stride 2 -> floor((56 + 2 - 2 - 1)/2) + 1 = 28; projection stride = 56/28 = 2.
    const g = graphOf('use "resnet"\nnet n : [64, 56, 56] < layer2: <BasicBlock(128, stride=2); BasicBlock(128)> >\n');
    const proj = node(g, 'layer2.0.downsample.0');
    expect(proj.attrs).toMatchObject({ out: 128, kernel: [1, 1], stride: [2, 2], padding: [0, 0], bias: false });
    expect(proj.weights.map((w) => w.shape)).toEqual([[128, 64, 1, 1]]);
    expect(proj.shape).toEqual([128, 28, 28]);
    expect(proj.inputs).toEqual([0]);
    const bn = node(g, 'layer2.0.downsample.1');
    expect(bn.inputs).toEqual([proj.id]);
    expect(node(g, 'layer2.0.add').inputs).toEqual([node(g, 'layer2.0.bn2').id, bn.id]);
    // The second block keeps the shape: identity shortcut, no downsample.
    expect(g.nodes.filter((n) => n.name.startsWith('layer2.1.downsample'))).toEqual([]);
    expect(node(g, 'layer2.1.add').inputs).toEqual([node(g, 'layer2.1.bn2').id, node(g, 'layer2.0.relu2').id]);
    // torchvision's layer2 of resnet18: 73,728 + 256 + 147,456 + 256 + 8,192 + 256 + 2 * (147,456 + 256) = 525,568.
    expect(paramCount(g)).toBe(525_568);
  });

  it('shortcut may be written first: shortcut + body', () => {
    const g = graphOf('block S(c) shortcut + <conv3x3 c stride=2; bn>\nnet n : [8, 8, 8] < S(8) >\n');
    const add = output(g);
    expect(add.shape).toEqual([8, 4, 4]);
    expect(add.inputs).toEqual([node(g, 's.downsample.1').id, node(g, 's.bn1').id]);
  });

  it('+ identity and + an explicit projection branch', () => {
    // R on [8, 8, 8]: conv3x3 8: 576 + bn 16 = 592; add(bn, input).
    const r = graphOf('block R() < conv3x3 in.c; bn > + identity\nnet n : [8, 8, 8] < R() >\n');
    expect(output(r).inputs).toEqual([node(r, 'r.bn1').id, 0]);
    expect(paramCount(r)).toBe(592);
    // P(16) on [8, 16, 16]: conv3x3 stride 2 -> [16, 8, 8]: 16*8*9 = 1,152 + bn 32; conv1x1 stride 2: 128 + bn 32.
    const p = graphOf('block P(c) < conv3x3 c stride=2; bn > + <conv1x1 c stride=2; bn>\nnet n : [8, 16, 16] < P(16) >\n');
    expect(output(p).shape).toEqual([16, 8, 8]);
    expect(paramCount(p)).toBe(1_344);
    expect(p.nodes.some((n) => n.name.includes('downsample'))).toBe(false);
    expect(output(p).inputs.map((i) => p.nodes[i]!.op)).toEqual(['bn', 'bn']);
  });
});

describe('concatenation, branches, scaling', () => {
  it('++ identity (DenseNet): channels grow by k per layer', () => {
    // DenseLayer(4) on [8, 8, 8]: bn 16; conv1x1 4*4 = 16 ch: 16*8 = 128; bn 32; conv3x3 4: 4*16*9 = 576.
    // cat(input, new) = [8 + 4, 8, 8]; params 16 + 128 + 32 + 576 = 752.
    const g = graphOf('use "densenet"\nnet n : [8, 8, 8] < DenseLayer(4) >\n');
    expect(output(g).op).toBe('concat');
    expect(output(g).shape).toEqual([12, 8, 8]);
    expect(output(g).inputs[0]).toBe(0);
    expect(paramCount(g)).toBe(752);
    // DenseBlock(3, k=4): 8 + 3*4 = 20 channels.
    expect(output(graphOf('use "densenet"\nnet n : [8, 8, 8] < DenseBlock(3, k=4) >\n')).shape).toEqual([20, 8, 8]);
    // Plain a ++ b: conv 5 k=1 and conv 2 k=3 pad=1 on [3, 8, 8] -> [7, 8, 8].
    expect(output(graphOf('net n : [3, 8, 8] < conv 5 k=1 ++ conv 2 k=3 pad=1 >\n')).shape).toEqual([7, 8, 8]);
  });

  it('[a | b | c] runs each branch on the input and concatenates (Inception)', () => {
    // on [6, 8, 8]: 2 + 4 + 6 (max-pool keeps the channels) = 12.
    const g = graphOf('net n : [6, 8, 8] < [conv 2 k=1 | <conv 3 k=1; conv 4 k=3 pad=1> | maxpool 3 stride=1 pad=1] >\n');
    expect(output(g).shape).toEqual([12, 8, 8]);
    expect(output(g).inputs).toHaveLength(3);
    // GoogLeNet's inception3a on [192, 28, 28]: 64 + 128 + 32 + 32 = 256 channels. Params (conv, no bias, + bn 2C):
    // 192*64 + 128 | 192*96 + 192, 96*128*9 + 256 | 192*16 + 32, 16*32*9 + 64 | 192*32 + 64
    // = 12,416 + 18,624 + 110,848 + 3,104 + 4,672 + 6,208 = 155,872.
    const inc = graphOf('use "inception"\nnet n : [192, 28, 28] < inception3a: Inception(64, 96, 128, 16, 32, 32) >\n');
    expect(output(inc).shape).toEqual([256, 28, 28]);
    expect(paramCount(inc)).toBe(155_872);
    expect(node(inc, 'inception3a.branch2.1.conv').weights[0]!.shape).toEqual([128, 96, 3, 3]);
  });

  it('* scales channels by a gate (squeeze-and-excitation)', () => {
    // SE(r=4) on [16, 4, 4]: gap -> [16, 1, 1]; linear 16//4 = 4 no bias: 64; linear 16 no bias: 64; sigmoid -> [16].
    const g = graphOf('use "se"\nnet n : [16, 4, 4] < SE(r=4) >\n');
    const scale = output(g);
    expect(scale.op).toBe('scale');
    expect(scale.shape).toEqual([16, 4, 4]);
    expect(paramCount(g)).toBe(128);
    expect(node(g, 'se.fc.0').weights.map((w) => w.shape)).toEqual([[4, 16]]);
    expect(node(g, 'se.fc.2').weights.map((w) => w.shape)).toEqual([[16, 4]]);
    // Written out: conv 8 k=1 on [8, 4, 4] (72 params) scaled by gap; linear 8 (72); sigmoid.
    const h = graphOf('net n : [8, 4, 4] < <conv 8 k=1> * <gap; linear 8; sigmoid> >\n');
    expect(output(h).shape).toEqual([8, 4, 4]);
    expect(paramCount(h)).toBe(144);
  });
});

describe('nets', () => {
  it('parameters with defaults, --set overrides, and an input override', () => {
    const src = 'net n(classes=10, width=4) : [1, 8, 8] < conv width k=3; gap; linear classes >\n';
    const g = graphOf(src, { args: { classes: 3 } });
    expect(g.args).toEqual({ classes: 3, width: 4 });
    expect(output(g).shape).toEqual([3]);
    // conv 4*1*9 + 4 = 40; linear 4*3 + 3 = 15.
    expect(paramCount(g)).toBe(55);
    const big = graphOf(src, { input: [2, 16, 16] });
    expect(big.input).toEqual([2, 16, 16]);
    expect(node(big, 'conv1').shape).toEqual([4, 14, 14]);
  });

  it('the input shape may be an expression of the parameters; --net picks one of several nets', () => {
    const src = 'net a(s=8) : [3, s * 2, s * 2] < relu >\nnet b : [5] < linear 2 >\n';
    const all = compile(src);
    expect(all.graphs.map((g) => [g.net, g.input])).toEqual([
      ['a', [3, 16, 16]],
      ['b', [5]],
    ]);
    expect(compile(src, { net: 'b' }).graphs.map((g) => g.net)).toEqual(['b']);
  });
});

describe('naming', () => {
  it('torchvision rules: numbered convs/bns, unique others bare, labels, Sequential indices, lowercase block names', () => {
    const g = graphOf(
      [
        'block Tiny(c) < conv c k=1; relu >',
        'net n : [3, 8, 8] <',
        '  conv 4 k=3 pad=1; bn; relu',
        '  stem: <conv 4 k=1; bn; relu>',
        '  Tiny(4)',
        '  gap',
        '  head: linear 2',
        '>',
        '',
      ].join('\n'),
    );
    expect(
      g.nodes
        .slice(1)
        .filter((n) => !['add', 'concat', 'scale'].includes(n.op))
        .map((n) => n.name),
    ).toEqual(['conv1', 'bn1', 'relu', 'stem.0', 'stem.1', 'stem.2', 'tiny.conv1', 'tiny.relu', 'avgpool', 'head']);
  });
});

describe('shortcut stride inference', () => {
  it('projects 7x7 to 4x4 with stride 2, as a stride-2 3x3 body with padding 1 shrinks odd sizes (torchvision at 28x28)', () => {
    // body: conv3x3 stride 2 pad 1 on 7 -> floor((7 + 2 - 3) / 2) + 1 = 4; a 1x1 stride-2 conv: floor((7 - 1) / 2) + 1 = 4.
    const g = graphOf('block B(c) < conv3x3 c stride=2; bn > + shortcut\nnet n : [8, 7, 7] < B(16) >\n');
    const projection = node(g, 'b.downsample.0');
    expect(projection.attrs['stride']).toEqual([2, 2]);
    expect(projection.shape).toEqual([16, 4, 4]);
  });
});
