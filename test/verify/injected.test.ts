/**
 * verify catches real bugs, even though it forgives what float32 cannot do (kinks replayed, tensors
 * judged against PyTorch's own float32 error): netc's side is given two real bugs and must fail.
 * - `pooled` on plain wasm with tfjs-backend-wasm 4.22's own MaxPoolGrad put back (issue 10's bug);
 * - `bn_eps`: netc computes batch norm with eps 1e-3 where the exported PyTorch module has 1e-5.
 * The same nets pass without the bugs (test/verify/ops.test.ts verifies max pools and batch norm on
 * every backend); here only the failures are asserted.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/api.js';
import { verifyMany, type VerifyReport } from '../../src/verify/engine.js';
import { BASE, failures, NO_TORCH, ROOT } from './helpers.js';

const FIXTURE = join(ROOT, 'test/verify/fixtures/injected.net');
const graph = (net: string) => compileFile(FIXTURE, { net }).graphs[0]!;

let report: VerifyReport;
beforeAll(async () => {
  if (NO_TORCH) return;
  const before = process.env['NODE_OPTIONS'];
  // The workers inherit this environment (engine.ts spawns them with process.env).
  process.env['NODE_OPTIONS'] = `${before ?? ''} --require ${join(ROOT, 'test/verify/fixtures/stock-wasm-maxpool-grad.cjs')}`.trim();
  try {
    report = await verifyMany(
      [
        { job: { ...BASE, steps: 1, id: 'pooled', file: FIXTURE, net: 'pooled' }, graph: graph('pooled') },
        // PyTorch is exported from bn_ref's graph; the worker compiles bn_eps (the job's file and net).
        { job: { ...BASE, steps: 1, id: 'bn_eps', file: FIXTURE, net: 'bn_eps' }, graph: graph('bn_ref') },
      ],
      { backends: ['wasm'], schedules: [] },
    );
  } finally {
    if (before === undefined) delete process.env['NODE_OPTIONS'];
    else process.env['NODE_OPTIONS'] = before;
  }
}, 300_000);

const rows = (id: string) => {
  const n = report.nets.find((x) => x.id === id)!;
  const b = n.backends.find((x) => x.backend === 'wasm')!;
  expect(b.status, failures(n)).not.toBe('error');
  return b.rows;
};

describe(`netc verify catches bugs injected into netc${NO_TORCH}`, () => {
  it.skipIf(NO_TORCH)('the stock wasm MaxPoolGrad: gradients below the pool fail, the forward pass does not', () => {
    const r = rows('pooled');
    const failed = r.filter((x) => !x.pass);
    expect(failed.map((x) => x.name)).toContain('conv1.weight');
    expect(failed.every((x) => x.kind === 'grad' || x.kind === 'update')).toBe(true);
    // Far beyond the tolerance and beyond 10x PyTorch's own float32 error: not forgiven as ill-conditioned.
    const g = r.find((x) => x.kind === 'grad' && x.name === 'conv1.weight')!;
    expect(g.relErr!).toBeGreaterThan(0.05);
    expect(g.relErr!).toBeGreaterThan(100 * g.torch32RelErr!);
    expect(r.filter((x) => x.kind === 'forward-train').every((x) => x.pass)).toBe(true);
  });
  it.skipIf(NO_TORCH)('batch norm eps 1e-3 instead of 1e-5: the forward outputs after each batch norm fail', () => {
    const failed = rows('bn_eps').filter((x) => !x.pass);
    expect(failed.some((x) => x.kind === 'forward-train' && x.name === 'bn1')).toBe(true);
    expect(failed.some((x) => x.kind === 'forward-eval')).toBe(true);
    expect(failed.every((x) => !x.note?.startsWith('ill-conditioned'))).toBe(true);
  });
});
