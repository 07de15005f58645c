/**
 * Language constructs for torchvision's classification zoo (issue 13): per-axis window arguments,
 * hardswish/hardsigmoid, labels that spell torchvision's module paths, `+`/`++` continuation lines,
 * and conditional stages. Expected numbers are worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { exportPytorch } from '../../src/export/pytorch.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { parseSource } from '../../src/syntax/parse.js';
import { compile, graphOf, node, paramCount } from './helpers.js';

const names = (text: string) =>
  graphOf(text)
    .nodes.filter((n) => n.weights.length > 0 || n.op === 'relu6')
    .map((n) => n.name);

describe('per-axis k, stride, pad, dilation: (h, w)', () => {
  it('conv 8 k=(1,7) pad=(0,3): shape, params, MACs', () => {
    const g = graphOf('net n : [4, 17, 17] < conv 8 k=(1,7) pad=(0,3) >');
    const c = node(g, 'conv1');
    // H: 17 + 0 - 1 + 1 = 17; W: 17 + 6 - 7 + 1 = 17. Params 8*4*1*7 + 8 = 232. MACs 8*17*17 * 4*7 = 64,736.
    expect(c.shape).toEqual([8, 17, 17]);
    expect(paramCount(g)).toBe(232);
    expect(c.macs).toBe(64_736);
    expect(c.weights[0]!.shape).toEqual([8, 4, 1, 7]);
  });
  it('stride and dilation per axis', () => {
    // H: floor((20 + 2*2 - 2*(3-1) - 1)/2) + 1 = 10; W: floor((20 + 0 - 1*(1-1) - 1)/1) + 1 = 20.
    const g = graphOf('net n : [2, 20, 20] < conv 4 k=(3,1) stride=(2,1) pad=(2,0) dilation=(2,1) >');
    expect(node(g, 'conv1').shape).toEqual([4, 10, 20]);
  });
  it('pools take pairs too: maxpool (3,1) stride=(2,1) pad=(1,0)', () => {
    // H: floor((9 + 2 - 3)/2) + 1 = 5; W: floor((9 - 1)/1) + 1 = 9.
    const g = graphOf('net n : [2, 9, 9] < maxpool (3,1) stride=(2,1) pad=(1,0) >');
    expect(node(g, 'maxpool').shape).toEqual([2, 5, 9]);
  });
  it('a square pair equals the scalar', () => {
    const a = graphOf('net n : [3, 16, 16] < conv 8 k=(3,3) pad=(1,1) >');
    const b = graphOf('net n : [3, 16, 16] < conv 8 k=3 pad=1 >');
    expect(node(a, 'conv1').shape).toEqual(node(b, 'conv1').shape);
    expect(paramCount(a)).toBe(paramCount(b));
  });
  it('exports PyTorch kernel_size=(1, 7), padding=(0, 3)', () => {
    const code = exportPytorch(graphOf('net n : [4, 17, 17] < conv 8 k=(1,7) pad=(0,3); maxpool (3,1) stride=(2,1) pad=(1,0) >'), { source: 'n.net' });
    expect(code).toContain('nn.Conv2d(4, 8, kernel_size=(1, 7), padding=(0, 3))');
    expect(code).toContain('nn.MaxPool2d(kernel_size=(3, 1), stride=(2, 1), padding=(1, 0))');
  });
  it('tuples compare item by item in conditions', () => {
    const g = graphOf('block B(k) < conv 4 k=k pad=(k == (1,3) ? (0,1) : 0) >\nnet n : [2, 8, 8] < B((1,3)) >');
    expect(node(g, 'b.conv1').shape).toEqual([4, 8, 8]);
  });
});

describe('hardswish and hardsigmoid', () => {
  it('keep the shape, have no weights, and have their PyTorch rows', () => {
    const g = graphOf('net n : [3, 8, 8] < conv 4 k=1; hardswish; hardsigmoid >');
    expect(node(g, 'hardswish').shape).toEqual([4, 8, 8]);
    expect(node(g, 'hardsigmoid').weights).toEqual([]);
    const code = exportPytorch(g, { source: 'n.net' });
    expect(code).toContain('nn.Hardswish()');
    expect(code).toContain('nn.Hardsigmoid()');
  });
  it("lower to PyTorch's functions (not tfjs's slope-0.2 hardSigmoid)", async () => {
    await selectBackend('cpu');
    const x = [-4, -3, -1, 0, 1.5, 3, 4];
    // hardsigmoid = relu6(x + 3) / 6: 0, 0, 2/6, 3/6, 4.5/6, 1, 1; hardswish = x * hardsigmoid(x).
    const hsig = [0, 0, 1 / 3, 0.5, 0.75, 1, 1];
    const hswish = x.map((v, i) => v * hsig[i]!);
    for (const [op, want] of [
      ['hardsigmoid', hsig],
      ['hardswish', hswish],
    ] as const) {
      const { model } = lowerGraph(graphOf(`net n : [${x.length}] < ${op} >`));
      const y = model.predict(tf.tensor2d([x])) as tf.Tensor;
      const got = [...y.dataSync()];
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    }
  });
});

describe('names for torchvision module paths', () => {
  it('a whole-number label is a Sequential index; `_:` a Sequential named by its position', () => {
    const text = 'net n : [3, 8, 8] < features: < 0: < conv 4 k=1 bias=false; bn; relu6 >; _: < conv 4 k=1; bn >; conv 4 k=1 > >';
    expect(names(text)).toEqual(['features.0.0', 'features.0.1', 'features.0.2', 'features.1.0', 'features.1.1', 'features.2']);
  });
  it('keywords are labels: block:, in:', () => {
    expect(names('net n : [3, 8, 8] < block: < 0: conv 4 k=1; in: bn > >')).toEqual(['block.0', 'block.in']);
  });
  it('a one-element group keeps a labelled child inside (`fc.0`) and gives an unlabelled one the label (`fc`)', () => {
    expect(names('net n : [6] < fc: < 0: linear 10 > >')).toEqual(['fc.0']);
    expect(names('net n : [6] < fc: < linear 10 > >')).toEqual(['fc']);
  });
  it('branches are branchN Sequentials unless labels inside name their layers (Inception-v3)', () => {
    expect(names('block I [ conv 4 k=1 | < conv 4 k=1; conv 4 k=3 pad=1 > ]\nnet n : [3, 8, 8] < I >')).toEqual(['i.branch1', 'i.branch2.0', 'i.branch2.1']);
    expect(
      names(
        'block I [ b1x1: conv 4 k=1 | < b5_1: conv 4 k=1; b5_2: conv 4 k=3 pad=1 > | < avgpool 3 stride=1 pad=1; bp: conv 4 k=1 > ]\nnet n : [3, 8, 8] < I >',
      ),
    ).toEqual(['i.b1x1', 'i.b5_1', 'i.b5_2', 'i.bp']);
  });
  it('automatic names: conv and bn always numbered, other ops numbered when repeated, aliases named by their op', () => {
    expect(
      graphOf('block B < conv 4 k=1; batchnorm; relu; linear 3; swish; swish >\nnet n : [3, 1, 1] < B >')
        .nodes.slice(1)
        .map((n) => n.name),
    ).toEqual(['b.conv1', 'b.bn1', 'b.relu', 'b.fc', 'b.silu1', 'b.silu2']);
  });
  it('a label before `+` names only the first operand', () => {
    const g = graphOf('net n : [4, 8, 8] < a: <conv 4 k=1> + <conv 4 k=1> >');
    expect(g.nodes.filter((n) => n.op === 'conv').map((n) => n.name)).toEqual(['a', 'conv1']);
    const grouped = graphOf('net n : [4, 8, 8] < a: < <conv 4 k=1> + <conv 4 k=1> > >');
    expect(grouped.nodes.filter((n) => n.op === 'conv').map((n) => n.name)).toEqual(['a.0', 'a.1']);
  });
});

describe('a line that starts with + or ++ continues the line above', () => {
  it('parses as one combination', () => {
    const { errors, file } = parseSource('block D(k) < identity\n  ++ < bn; relu; conv 4 k=1 >\n  + identity >', 'd.net');
    expect(errors).toEqual([]);
    const body = file.items[0]!.kind === 'block' ? file.items[0]!.body : undefined;
    expect(body).toMatchObject({ kind: 'group', body: { kind: 'combine', op: '+', left: { kind: 'combine', op: '++' } } });
  });
  it('concatenates: 4 + 4 channels', () => {
    const g = graphOf('net n : [4, 8, 8] < identity\n  ++ conv 4 k=1 >');
    expect(g.nodes[g.output]!.shape).toEqual([8, 8, 8]);
  });
});

describe('conditional stages: if (test) stage [else stage]', () => {
  const IR = `block IR(c, t=6, stride=1) < conv: <
    _: if (t != 1) < conv in.c*t k=1 bias=false; bn; relu6 >
    _: < conv in.c*t k=3 stride=stride pad=1 groups=in.c*t bias=false; bn; relu6 >
    conv c k=1 bias=false; bn >
  > + if (stride == 1 and in.c == c) identity
`;
  it('expansion present when t != 1: conv.0 is the expansion, conv.1 the depthwise conv', () => {
    const g = graphOf(`${IR}net n : [8, 8, 8] < IR(8) >`);
    expect(g.nodes.filter((n) => n.weights.length).map((n) => n.name)).toEqual([
      'ir.conv.0.0',
      'ir.conv.0.1',
      'ir.conv.1.0',
      'ir.conv.1.1',
      'ir.conv.2',
      'ir.conv.3',
    ]);
    // stride 1 and 8 == 8: the residual add is there.
    expect(g.nodes.some((n) => n.op === 'add')).toBe(true);
  });
  it('absent when t == 1: the depthwise conv becomes conv.0; no residual when the stride is 2', () => {
    const g = graphOf(`${IR}net n : [8, 8, 8] < IR(16, t=1, stride=2) >`);
    expect(g.nodes.filter((n) => n.weights.length).map((n) => n.name)).toEqual(['ir.conv.0.0', 'ir.conv.0.1', 'ir.conv.1', 'ir.conv.2']);
    expect(g.nodes.some((n) => n.op === 'add')).toBe(false);
    expect(g.nodes[g.output]!.shape).toEqual([16, 4, 4]);
  });
  it('else picks the other stage; an absent stage in a sequence passes the input through', () => {
    const g = graphOf('block A(h) < if (h) hardswish else relu; if (not h) sigmoid >\nnet n : [4] < A(true); A(false) >');
    expect(g.nodes.filter((n) => n.op !== 'input').map((n) => n.op)).toEqual(['hardswish', 'relu', 'sigmoid']);
  });
  it('a non-boolean test is NET1003, pointing at the test', () => {
    const r = compile('net n(t=2) : [4] < if (t) relu >');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['NET1003']);
  });
});

describe('chunk and channel_shuffle (ShuffleNetV2): functions, no summary row', () => {
  it('shapes, no rows, and PyTorch expressions', () => {
    const g = graphOf('net n : [8, 4, 4] < chunk 2 0 ++ < chunk 2 1; conv 4 k=1 >; channel_shuffle 2 >');
    expect(node(g, 'chunk1').shape).toEqual([4, 4, 4]);
    expect(g.nodes[g.output]!.shape).toEqual([8, 4, 4]);
    const code = exportPytorch(g, { source: 'n.net' });
    expect(code).toContain('.chunk(2, dim=1)[0]');
    expect(code).toContain('.chunk(2, dim=1)[1]');
    expect(code).toContain('.unflatten(1, (2, -1)).transpose(1, 2).flatten(1, 2)');
  });
  it('lower to the same channel order as PyTorch', async () => {
    await selectBackend('cpu');
    // Channels 0..5 of a 1x1 map (channels-last in tfjs). chunk 2 1 keeps channels 3, 4, 5.
    // channel_shuffle 2 views [2, 3] = [[0,1,2],[3,4,5]], transposes to [[0,3],[1,4],[2,5]]: 0, 3, 1, 4, 2, 5.
    // channel_shuffle 3 views [3, 2] = [[0,1],[2,3],[4,5]] -> [[0,2,4],[1,3,5]]: 0, 2, 4, 1, 3, 5.
    const x = tf.tensor4d([0, 1, 2, 3, 4, 5], [1, 1, 1, 6]);
    const run = (body: string) => [...(lowerGraph(graphOf(`net n : [6, 1, 1] < ${body} >`)).model.predict(x) as tf.Tensor).dataSync()];
    expect(run('chunk 2 1')).toEqual([3, 4, 5]);
    expect(run('chunk 3 0')).toEqual([0, 1]);
    expect(run('channel_shuffle 2')).toEqual([0, 3, 1, 4, 2, 5]);
    expect(run('channel_shuffle 3')).toEqual([0, 2, 4, 1, 3, 5]);
    // A flat input [6]: features 2, 3 are the second of three slices.
    const flat = lowerGraph(graphOf('net n : [6] < chunk 3 1 >')).model.predict(tf.tensor2d([[0, 1, 2, 3, 4, 5]])) as tf.Tensor;
    expect([...flat.dataSync()]).toEqual([2, 3]);
  });
  it('a label may stand before any operand of + or ++; else may start a line', () => {
    const g = graphOf(
      'block U(s) < if (s == 1) < chunk 2 0 ++ b2: < chunk 2 1; conv 4 k=1 > >\n  else < b1: conv 4 k=1 ++ b2: conv 4 k=1 > >\nnet n : [8, 4, 4] < U(2) >',
    );
    expect(g.nodes.filter((n) => n.op === 'conv').map((n) => n.name)).toEqual(['u.b1', 'u.b2']);
  });
});

describe('stochastic_depth (EfficientNet): a row, identity in eval, per-sample drop while training', () => {
  it('keeps the shape, has a StochasticDepth row and no weights, exports torchvision.ops.StochasticDepth', () => {
    const g = graphOf('net n : [4, 8, 8] < < conv 4 k=1; sd: stochastic_depth 0.1 > + identity >');
    expect(node(g, 'sd').shape).toEqual([4, 8, 8]);
    expect(node(g, 'sd').weights).toEqual([]);
    const code = exportPytorch(g, { source: 'n.net' });
    expect(code).toMatch(/^import torchvision$/m);
    expect(code).toContain('torchvision.ops.StochasticDepth(0.1, "row")');
  });
  it('a probability of 1 is NET2012 and an unknown mode NET1016', () => {
    expect(compile('net n : [4] < stochastic_depth 1 >').diagnostics.map((d) => d.code)).toEqual(['NET2012']);
    expect(compile('net n : [4] < stochastic_depth 0.1 mode="col" >').diagnostics.map((d) => d.code)).toEqual(['NET1016']);
  });
  it('lowers to the identity in inference and to whole-row drops scaled by 1/(1-p) in training', async () => {
    await selectBackend('cpu');
    const { model } = lowerGraph(graphOf('net n : [4] < stochastic_depth 0.5 >'));
    const x = tf.ones([64, 4]);
    expect([...(model.predict(x) as tf.Tensor).dataSync()].every((v) => v === 1)).toBe(true);
    const y = (model.apply(x, { training: true }) as tf.Tensor).arraySync() as number[][];
    // Each row is all 0 (dropped) or all 1 / (1 - 0.5) = 2 (kept); with 64 rows both happen (else p = 2^-63).
    for (const row of y) expect(row.every((v) => v === row[0]) && (row[0] === 0 || row[0] === 2)).toBe(true);
    expect(new Set(y.map((r) => r[0]))).toEqual(new Set([0, 2]));
  });
});
