/**
 * Convolutions and pools that tfjs cannot train as one of its layers (grouped, dilated, dilated and
 * strided, adaptive average pooling that upsamples or overlaps, dilated max pooling), lowered by netc and differentiated
 * on one backend, against PyTorch in float64 on the same weights and input: the output and the
 * gradients of sum(y * r) for the input and every weight. Used by torch-parity.test.ts (cpu, wasm
 * with the native addon when built) and torch-parity-wasm.test.ts (wasm with netc's kernels only).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { compileSource } from '../../src/api.js';
import { lowerGraph, torchParamName } from '../../src/lower/lower.js';
import { selectBackend, type BackendChoice } from '../../src/runtime/backend.js';
import { relErr } from '../runtime/rel-err.js';
import { pythonHas } from '../python.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';
export const TORCH_OK = pythonHas('torch');
export const NO_TORCH = TORCH_OK ? '' : ` [skipped: ${PYTHON} cannot import torch (apt-get install python3-torch)]`;

interface Case {
  name: string;
  source: string;
  /** What PyTorch builds: nn.Conv2d's arguments, or AdaptiveAvgPool2d's size. */
  torch:
    | { op: 'conv'; out: number; k: [number, number]; stride: number; pad: number; dilation: number; groups: number; bias: boolean }
    | { op: 'adaptive'; size: [number, number] }
    | { op: 'maxpool'; k: [number, number]; stride: [number, number]; pad: [number, number]; dilation: [number, number]; ceil: boolean };
}

const conv = (input: string, args: string, out: number, o: { stride?: number; pad?: number; dilation?: number; groups?: number; bias?: boolean }): Case => ({
  name: `[${input}] conv ${out} k=3 ${args}`,
  source: `net t : [${input}] < conv ${out} k=3 ${args} >`,
  torch: { op: 'conv', out, k: [3, 3], stride: o.stride ?? 1, pad: o.pad ?? 0, dilation: o.dilation ?? 1, groups: o.groups ?? 1, bias: o.bias ?? true },
});
const adaptive = (input: string, size: number): Case => ({
  name: `[${input}] adaptive_avgpool ${size}`,
  source: `net t : [${input}] < adaptive_avgpool ${size} >`,
  torch: { op: 'adaptive', size: [size, size] },
});

const maxpool = (input: string, args: string, torch: Omit<Extract<Case['torch'], { op: 'maxpool' }>, 'op'>): Case => ({
  name: `[${input}] maxpool ${args}`,
  source: `net t : [${input}] < maxpool ${args} >`,
  torch: { op: 'maxpool', ...torch },
});

export const CASES: Case[] = [
  conv('4, 6, 6', 'pad=1 groups=2', 8, { pad: 1, groups: 2 }),
  conv('2, 6, 6', 'pad=1 groups=2', 8, { pad: 1, groups: 2 }), // groups = in-channels: depthwise, multiplier 4
  conv('3, 11, 11', 'dilation=2 stride=2', 8, { dilation: 2, stride: 2 }),
  conv('3, 9, 8', 'pad=2 dilation=2 bias=false', 4, { pad: 2, dilation: 2, bias: false }),
  conv('6, 10, 9', 'pad=1 dilation=3 stride=2 groups=3', 6, { pad: 1, dilation: 3, stride: 2, groups: 3 }),
  adaptive('3, 1, 1', 7), // VGG's classifier input on CIFAR: 1x1 -> 7x7
  adaptive('2, 5, 5', 3), // overlapping windows
  adaptive('2, 2, 2', 3), // upsampling with shared cells
  adaptive('2, 6, 6', 4),
  maxpool('2, 7, 7', '3 stride=1 pad=1 dilation=2', { k: [3, 3], stride: [1, 1], pad: [1, 1], dilation: [2, 2], ceil: false }),
  maxpool('3, 8, 9', '(2, 3) stride=(2, 1) pad=1 dilation=(2, 1) ceil=true', { k: [2, 3], stride: [2, 1], pad: [1, 1], dilation: [2, 1], ceil: true }),
  maxpool('2, 10, 9', '3 stride=3 dilation=2 ceil=true', { k: [3, 3], stride: [3, 3], pad: [0, 0], dilation: [2, 2], ceil: true }),
];

function values(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1);
}

interface Result {
  y: Float32Array;
  gx: Float32Array;
  grads: Record<string, Float32Array>;
  torchIn: Record<string, unknown>;
}

/** Output and gradients of sum(y * r) for one case on the current backend. */
function runCase(c: Case): Result {
  const r = compileSource(c.source, 'parity.net');
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const graph = r.graphs[0]!;
  const { model, owners } = lowerGraph(graph, { seed: 5 });
  const [ci, h, w] = graph.input as [number, number, number];
  const xShape = [2, h, w, ci];
  const xv = values(
    xShape.reduce((a, b) => a * b),
    11,
  );
  const x = tf.variable(tf.tensor4d(xv, xShape as [number, number, number, number]));
  const [co, oh, ow] = graph.nodes[graph.output]!.shape as number[];
  const rv = values(2 * oh! * ow! * co!, 23);
  const layer = owners.get(graph.nodes.find((n) => n.weights.length > 0)?.id ?? -1);
  const weights = new Map((layer?.weights ?? []).map((v) => [torchParamName(v.originalName)!, v]));
  const vars = [x, ...[...weights.values()].map((v) => (v as unknown as { val: tf.Variable }).val)];
  const y = model.apply(x, { training: true }) as tf.Tensor;
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }) as tf.Tensor, tf.tensor(rv, y.shape))), vars);
  const got = (v: tf.Variable) => grads[v.name]!.dataSync() as Float32Array;
  const torchIn: Record<string, unknown> = { ...c.torch, xShape, x: xv, r: rv };
  const named: Record<string, Float32Array> = {};
  for (const [name, v] of weights) {
    const val = (v as unknown as { val: tf.Variable }).val;
    named[name] = got(val);
    torchIn[name === 'weight' ? 'kernel' : 'biasValues'] = [...(v.read().dataSync() as Float32Array)];
  }
  const res = { y: y.dataSync() as Float32Array, gx: got(x), grads: named, torchIn };
  tf.dispose([x, y, ...Object.values(grads)]);
  model.dispose();
  return res;
}

function torchReference(inputs: Record<string, unknown>[]): { y: number[]; gx: number[]; gkernel?: number[]; gbias?: number[] }[] {
  const dir = mkdtempSync(join(tmpdir(), 'netc-parity-'));
  try {
    writeFileSync(join(dir, 'in.json'), JSON.stringify(inputs));
    const p = spawnSync(PYTHON, [join(HERE, 'torch_parity.py'), join(dir, 'in.json'), join(dir, 'out.json')], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`torch_parity.py failed: ${p.stderr}`);
    return JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TOL = 1e-4;

/** One describe block: every case on `backend`, against PyTorch. */
export function describeParity(backend: 'cpu' | 'wasm', expectNative?: boolean) {
  describe(`${backend}${expectNative === false ? ' (netc kernels, no native addon)' : ''}: forward and gradients equal PyTorch float64${NO_TORCH}`, () => {
    it.skipIf(!TORCH_OK)(`${CASES.length} cases within ${TOL} relative`, async () => {
      const choice: BackendChoice = await selectBackend(backend);
      if (expectNative === false) expect(choice.convolutions).toBeNull();
      const ours = CASES.map(runCase);
      const ref = torchReference(ours.map((o) => o.torchIn));
      CASES.forEach((c, i) => {
        const o = ours[i]!;
        const t = ref[i]!;
        const label = `${c.name} on ${choice.name}${choice.convolutions ? '+native' : ''}`;
        expect(o.y.length, label).toBe(t.y.length);
        expect(relErr(o.y, Float32Array.from(t.y)), `${label}: output`).toBeLessThan(TOL);
        expect(relErr(o.gx, Float32Array.from(t.gx)), `${label}: input gradient`).toBeLessThan(TOL);
        if (c.torch.op === 'conv') {
          expect(relErr(o.grads['weight']!, Float32Array.from(t.gkernel!)), `${label}: weight gradient`).toBeLessThan(TOL);
          if (c.torch.bias) expect(relErr(o.grads['bias']!, Float32Array.from(t.gbias!)), `${label}: bias gradient`).toBeLessThan(TOL);
          else expect(o.grads['bias']).toBeUndefined();
        }
      });
    });
  });
}
