/**
 * What `netc verify` compares and how strictly. Shared by the engine, the worker processes that run
 * netc's side on one backend each, and the report.
 */
import type { RunConfig } from '../train/config.js';

/** One net to verify, in a form a worker process can rebuild on its own (plain JSON). */
export interface VerifyJob {
  id: string;
  file: string;
  net?: string;
  args: Record<string, number | boolean | string>;
  input?: number[];
  batch: number;
  seed: number;
  optimizer: RunConfig['optimizer'];
  lr: number;
  momentum: number;
  weightDecay: number;
  steps: number;
}

/** Kinds of compared tensors, with the tolerance on their relative max-abs error. */
export const KINDS = {
  'forward-train': { tolerance: 1e-4, what: "a layer's output in training mode (first step)" },
  'forward-eval': { tolerance: 1e-4, what: "a layer's output in eval mode, after the first training pass moved the running statistics" },
  loss: { tolerance: 1e-4, what: 'the loss at each step, relative to the largest loss of the steps' },
  grad: { tolerance: 1e-3, what: 'a parameter gradient (first step)' },
  update: { tolerance: 1e-3, what: "a parameter's change over the optimizer steps" },
  'running-stat': { tolerance: 1e-3, what: "a batch norm running statistic's change over the steps" },
  lr: { tolerance: 1e-9, what: 'the learning rate at every step of a schedule' },
} as const;
export type Kind = keyof typeof KINDS;

/**
 * A tensor whose reference is all but zero (a conv bias just before a batch norm has a true
 * gradient of 0; float32 leaves ~1e-9 there) is measured against this fraction of the largest
 * tensor of its kind in the same net instead of its own size.
 */
export const FLOOR = 1e-3;

/** Per-kind floors that differ: a loss is measured against the largest loss of the steps (a loss
 * near 0 after the batch is learnt carries float32's absolute rounding, not a relative one). */
export const KIND_FLOOR: Partial<Record<Kind, number>> = { loss: 1 };

/**
 * A tensor beyond its tolerance still passes when netc's error is at most this multiple of
 * PyTorch's own float32 error on it (same weights, same batch): the tensor is ill-conditioned (e.g.
 * a deep bottleneck net's gradients at batch 2), and no float32 implementation does better.
 */
export const CONDITIONING = 10;

/** Backends verify knows: netc's backends, with wasm split by whether the native addon runs. */
export const VERIFY_BACKENDS = ['cpu', 'wasm', 'wasm+native', 'node', 'node-gpu'] as const;
export type VerifyBackend = (typeof VERIFY_BACKENDS)[number];

/** How PyTorch is asked: the schedules compared with torch.optim.lr_scheduler. */
export interface ScheduleJob {
  id: string;
  schedule: RunConfig['schedule'];
  lr: number;
  epochs: number;
  stepsPerEpoch: number;
  stepSize: number;
  gamma: number;
}

/** Where netc deliberately differs from PyTorch's defaults; verify prints these. */
export const DELIBERATE = [
  'dropout: PyTorch draws other masks than tfjs, so the PyTorch side replays the keep mask netc drew at each step (scaling by 1/(1-p) is still compared)',
  "onecycle: netc does not cycle momentum (PyTorch's OneCycleLR has cycle_momentum=True by default); the reference uses cycle_momentum=False",
  'batch norm: netc keeps no num_batches_tracked counter (it only matters for momentum=None, which netc does not offer)',
];
