/** The IR validator (src/ir/validate.ts) over every stdlib network, and proof that it catches broken graphs. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../src/api.js';
import type { IRGraph } from '../../src/ir/types.js';
import { validateGraph } from '../../src/ir/validate.js';
import { graphOf, ROOT, schemaErrors, STDLIB } from './helpers.js';

const NETWORKS = readdirSync(STDLIB).filter((f) => f.endsWith('.net') && /^\s*net\s/m.test(readFileSync(join(STDLIB, f), 'utf8')));

interface Reference {
  totalParams: number;
  macs: number;
  layers: { module: string; type: string; outputShape: number[]; params: number }[];
}

describe('every stdlib network is a valid IR graph', () => {
  it('there are networks to check', () => {
    expect(NETWORKS.length).toBeGreaterThanOrEqual(15);
  });

  it.each(NETWORKS)('%s', (file) => {
    const { graphs, diagnostics } = compileFile(join(STDLIB, file));
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(graphs.length).toBeGreaterThan(0);
    for (const g of graphs) {
      expect(validateGraph(g)).toEqual([]);
      expect(schemaErrors('ir', JSON.parse(JSON.stringify(g)), '#/$defs/IRGraph')).toEqual([]);
      expect(g.nodes.every((n) => n.shape !== null)).toBe(true);
    }
  });
});

describe('names and shapes match PyTorch (test/reference, produced by torchvision)', () => {
  // Every Conv2d / BatchNorm2d / Linear call of torchvision's forward pass, in order, with its state-dict
  // path, output shape and params: netc's weighted nodes must be the same list.
  it.each(['resnet18', 'resnet50', 'densenet121', 'googlenet', 'vgg16_bn', 'se_resnet50_cifar'])('%s', (net) => {
    const ref = JSON.parse(readFileSync(join(ROOT, 'test/reference', `${net}.json`), 'utf8')) as Reference;
    const [g] = compileFile(join(STDLIB, `${net}.net`)).graphs;
    const weighted = g!.nodes.filter((n) => n.weights.length > 0);
    const torchType = (op: string, shape: number[]) =>
      op === 'conv' ? 'Conv2d' : op === 'linear' ? 'Linear' : shape.length === 1 ? 'BatchNorm1d' : 'BatchNorm2d';
    const mine = weighted.map((n) => ({
      module: n.name,
      type: torchType(n.op, n.shape!),
      outputShape: n.shape,
      params: n.weights.filter((w) => !w.buffer).reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0),
    }));
    expect(mine).toEqual(ref.layers);
    expect(g!.nodes.reduce((s, n) => s + n.macs, 0)).toBe(ref.macs);
  });
});

describe('the validator catches what it promises', () => {
  const base = () =>
    JSON.parse(
      JSON.stringify(graphOf('use "resnet"\nnet n : [8, 8, 8] < conv 8 k=3 pad=1; layer1: BasicBlock(16, stride=2) * 2; gap; linear 3 >\n')),
    ) as IRGraph;

  it('a good graph has no problems', () => {
    expect(validateGraph(base())).toEqual([]);
  });

  const cases: [string, (g: IRGraph) => void, RegExp][] = [
    [
      'an id that is not the index',
      (g) => {
        g.nodes[2]!.id = 7;
      },
      /id 7 differs/,
    ],
    [
      'an input from a later node',
      (g) => {
        g.nodes[2]!.inputs = [3];
      },
      /not topological/,
    ],
    [
      'an input that is no node',
      (g) => {
        g.nodes[2]!.inputs = [999];
      },
      /input 999 is not a node/,
    ],
    [
      'a layer without inputs',
      (g) => {
        g.nodes[2]!.inputs = [];
      },
      /has no inputs/,
    ],
    [
      'a zero dimension',
      (g) => {
        g.nodes[2]!.shape = [8, 0, 8];
      },
      /shape \[8,0,8\]/,
    ],
    [
      'a fractional dimension',
      (g) => {
        g.nodes[2]!.shape = [8, 2.5, 8];
      },
      /shape/,
    ],
    [
      'a 4-d shape',
      (g) => {
        g.nodes[2]!.shape = [8, 8, 8, 8];
      },
      /shape/,
    ],
    [
      'an unsafe integer',
      (g) => {
        g.nodes[2]!.shape = [2 ** 60];
      },
      /shape/,
    ],
    [
      'two weighted nodes with one name',
      (g) => {
        const w = g.nodes.filter((n) => n.weights.length);
        w[1]!.name = w[0]!.name;
      },
      /weights would collide/,
    ],
    [
      'a module output out of range',
      (g) => {
        g.modules[0]!.output = g.nodes.length;
      },
      /output \d+ is not a node/,
    ],
    [
      'closesAfter out of range',
      (g) => {
        g.modules[0]!.closesAfter = -1;
      },
      /closesAfter -1/,
    ],
    [
      'a cyclic parent chain',
      (g) => {
        g.modules[0]!.parent = g.modules.length - 1;
        g.modules[g.modules.length - 1]!.parent = 0;
      },
      /cyclic/,
    ],
    [
      'a node in a missing module',
      (g) => {
        g.nodes[1]!.module = 99;
      },
      /module 99 does not exist/,
    ],
    [
      'a graph output that is no node',
      (g) => {
        g.output = -2;
      },
      /output -2/,
    ],
  ];

  it.each(cases)('%s', (_what, breakIt, expected) => {
    const g = base();
    breakIt(g);
    const problems = validateGraph(g);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(expected);
  });

  it('null shapes (unknown after an error) are allowed', () => {
    const g = base();
    g.nodes[3]!.shape = null;
    expect(validateGraph(g)).toEqual([]);
  });
});
