/** `netc export --to dot|svg`: the structure of the diagram, checked against the IR. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileFile, type IRGraph } from '../../src/api.js';
import { exportDot } from '../../src/export/dot.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HAS_DOT = spawnSync('dot', ['-V'], { stdio: 'ignore' }).status === 0;

function compile(name: string): IRGraph {
  const result = compileFile(join(ROOT, 'stdlib', `${name}.net`));
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return result.graphs[0]!;
}

describe('dot export', () => {
  const graph = compile('resnet18');
  const dot = exportDot(graph);

  it('has one node per IR node plus the output', () => {
    const nodes = [...dot.matchAll(/^\s*n(\d+) \[label=/gm)].map((m) => Number(m[1]));
    expect(nodes.sort((a, b) => a - b)).toEqual(graph.nodes.map((n) => n.id));
    expect(dot).toMatch(/^\s*output \[label="output\\n1000"/m);
  });

  it('draws every module as a cluster, nested as in the IR', () => {
    const clusters = [...dot.matchAll(/subgraph "cluster_(\d+)_([^"]+)"/g)].map((m) => [Number(m[1]), m[2]]);
    expect(clusters.map(([id]) => id).sort((a, b) => (a as number) - (b as number))).toEqual(graph.modules.map((m) => m.id));
    expect(dot).toContain('label="layer2.0: BasicBlock"');
    // layer2.0.downsample sits inside layer2.0, which sits inside layer2.
    const start = (name: string) => dot.indexOf(`_${name}" {`);
    const layer2 = start('layer2');
    const block = start('layer2.0');
    const down = start('layer2.0.downsample');
    expect(layer2).toBeGreaterThan(0);
    expect(block).toBeGreaterThan(layer2);
    expect(down).toBeGreaterThan(block);
    const depthAt = (i: number) => dot.slice(0, i).match(/\{/g)!.length - (dot.slice(0, i).match(/\}/g)?.length ?? 0);
    expect(depthAt(down)).toBe(depthAt(block) + 1);
    expect(depthAt(block)).toBe(depthAt(layer2) + 1);
  });

  it('labels every edge with the shape flowing along it', () => {
    const edges = [...dot.matchAll(/n(\d+) -> n(\d+) \[label="([^"]*)"\]/g)];
    expect(edges).toHaveLength(graph.nodes.reduce((s, n) => s + n.inputs.length, 0));
    for (const [, from, , label] of edges) expect(label).toBe(graph.nodes[Number(from)]!.shape!.join('×'));
    // The residual add of layer2.0 reads bn2 and the projection, both 128×28×28.
    const add = graph.nodes.find((n) => n.name === 'layer2.0.add')!;
    for (const i of add.inputs) expect(dot).toContain(`n${i} -> n${add.id} [label="128×28×28"]`);
  });

  it.skipIf(!HAS_DOT)(`renders with Graphviz${HAS_DOT ? '' : ' [skipped: the dot program is not installed (apt-get install graphviz)]'}`, () => {
    const r = spawnSync('dot', ['-Tsvg'], { input: exportDot(compile('googlenet')), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('<svg');
    expect(r.stdout).toContain('inception3a: Inception');
  });
});
