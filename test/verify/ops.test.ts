/**
 * `netc verify` on targeted cases against PyTorch float64: every pooling and convolution option,
 * merges, heads and dropout, each optimizer with weight decay, each learning-rate schedule, on every
 * backend present (cpu, wasm, wasm + native addon, tfjs-node when it loads). One engine call, so one
 * Python process for the whole file. Without PyTorch the tests are skipped with the reason in their names.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import type { VerifyReport } from '../../src/verify/engine.js';
import type { ScheduleJob } from '../../src/verify/spec.js';
import { failures, NO_TORCH, ran, verifyCases, type Case } from './helpers.js';

const F = 'test/verify/fixtures';
const OPS: Case[] = [
  ...['maxpool_pad', 'maxpool_ceil', 'avgpool_pad', 'avgpool_ceil', 'adaptive'].map((net) => ({ id: net, file: `${F}/pools.net`, net })),
  ...['depthwise', 'grouped', 'dilated'].map((net) => ({ id: net, file: `${F}/convs.net`, net })),
  ...['concat', 'squeeze_excite', 'dropout_head', 'softmax_head', 'drop_path'].map((net) => ({ id: net, file: `${F}/merges.net`, net })),
  // issue 13's sequence constructs: permute, layernorm(2d), per-position linear, layer scale, tokens, class token,
  // position embedding, multi-head self-attention (test/export/zoo-trained.test.ts trains and exports the same net)
  { id: 'seqnet', file: 'test/export/fixtures/seqnet.net' },
  { id: 'sequences', file: `${F}/sequences.net` },
];
/** Kernels a backend lacks are an error for that backend (plain wasm has no depthwise gradient). */
const MISSING_KERNEL = /not registered for backend/;
const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'rmsprop'] as const;
const OPTIM_CASES: Case[] = OPTIMIZERS.map((o) => ({
  id: `optim-${o}`,
  file: `${F}/small.net`,
  job: { optimizer: o, lr: o.startsWith('adam') || o === 'rmsprop' ? 0.01 : 0.1, weightDecay: 5e-4, steps: 3 },
}));
const SCHEDULES: ScheduleJob[] = (['step', 'cosine', 'onecycle'] as const).flatMap((schedule) =>
  [
    [5, 7],
    [10, 3],
  ].map(([epochs, stepsPerEpoch]) => ({
    id: `${schedule}-${epochs}x${stepsPerEpoch}`,
    schedule,
    lr: 0.1,
    epochs: epochs!,
    stepsPerEpoch: stepsPerEpoch!,
    stepSize: 2,
    gamma: 0.1,
  })),
);

let report: VerifyReport;
beforeAll(async () => {
  if (NO_TORCH) return;
  report = await verifyCases([...OPS, ...OPTIM_CASES], ['cpu', 'wasm', 'wasm+native', 'node'], SCHEDULES);
}, 600_000);

const net = (id: string) => report.nets.find((n) => n.id === id);

describe(`netc verify: ops against PyTorch float64${NO_TORCH}`, () => {
  for (const c of OPS) {
    it.skipIf(NO_TORCH)(`${c.id}: forward (train, eval), loss, gradients, update, running stats within tolerance`, () => {
      const n = net(c.id)!;
      expect(ran(n)).toContain('cpu');
      const cpu = n.backends.find((b) => b.backend === 'cpu')!;
      expect(cpu.status, failures(n)).toBe('pass');
      expect(cpu.compared).toBeGreaterThan(5);
      for (const b of n.backends) {
        if (b.status === 'error') expect(b.reason, b.backend).toMatch(MISSING_KERNEL);
        else if (b.status !== 'unavailable') expect(b.status, failures(n)).toBe('pass');
      }
    });
  }
});

describe(`netc verify: optimizers with weight decay, 3 steps, against torch.optim${NO_TORCH}`, () => {
  for (const c of OPTIM_CASES) {
    it.skipIf(NO_TORCH)(`${c.id}: every parameter's change over 3 steps`, () => {
      const n = net(c.id)!;
      expect(n.status, failures(n)).toBe('pass');
      const cpu = n.backends.find((b) => b.backend === 'cpu')!;
      expect(cpu.rows.filter((r) => r.kind === 'update').length).toBeGreaterThan(5);
    });
  }
});

describe(`netc verify: schedules against torch.optim.lr_scheduler, every step${NO_TORCH}`, () => {
  for (const s of SCHEDULES) {
    it.skipIf(NO_TORCH)(s.id, () => {
      const row = report.schedules.find((r) => r.name === s.id)!;
      expect(row.pass, `${row.relErr} ${row.note ?? ''}`).toBe(true);
    });
  }
});
