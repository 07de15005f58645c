/** The resolved run configuration, stored as config.json in the run directory (specs/run-config.schema.json). */
export interface RunConfig {
  net: string;
  /** The .net file, when training from a file. */
  file?: string;
  args?: Record<string, number | boolean | string>;
  data: string;
  dataDir?: string;
  backend: string;
  /** What computes the training steps: the backend, plus netc's native convolutions when used (see CheckpointRuntime). */
  kernels?: string;
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'momentum' | 'nesterov' | 'adam' | 'adamw' | 'rmsprop';
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: 'none' | 'step' | 'cosine' | 'onecycle';
  stepSize: number;
  gamma: number;
  augment: { crop: number; flip: boolean };
  normalize: boolean;
  valSplit: number;
  subset?: number;
  /** Test on the first n test images only (--test-subset). */
  testSubset?: number;
  /**
   * The net's output is probabilities (it ends in softmax), so the loss is NLL of log p rather than
   * cross-entropy of logits. Recorded so that a resumed run, which rebuilds no IR, keeps its loss.
   */
  outputsProbabilities?: boolean;
  seed: number;
  out: string;
}

export const DEFAULTS = {
  epochs: 10,
  batchSize: 64,
  optimizer: 'momentum',
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 0,
  schedule: 'none',
  stepSize: 10,
  gamma: 0.1,
  valSplit: 0.1,
  seed: 0,
} as const;
