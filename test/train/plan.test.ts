/**
 * The training planner (src/train/plan.ts) on its own: the run's config, the images used and the
 * steps they make, how a net is fitted to the data, and the memory estimate's verdict. No data is
 * loaded and nothing is trained or written.
 */
import { describe, expect, it } from 'vitest';
import { compileSource, type CompileOptions } from '../../src/api.js';
import { DEFAULTS, type RunConfig } from '../../src/train/config.js';
import { estimateTrainingMemory, GiB, sizeOfGraph } from '../../src/train/memory.js';
import { planData, planNet, runConfig, type ConfigOptions, type DataSummary } from '../../src/train/plan.js';

const OPTIONS: ConfigOptions = {
  ...DEFAULTS,
  data: 'fashion-mnist',
  dataDir: undefined,
  args: {},
  normalize: true,
  crop: 0,
  flip: false,
  subset: undefined,
  testSubset: undefined,
};
const BACKEND = { name: 'wasm', kernels: 'wasm' };
const FMNIST: DataSummary = {
  name: 'fashion-mnist',
  source: '/data/fm',
  shape: [1, 28, 28],
  classes: Array.from({ length: 10 }, (_, i) => `c${i}`),
  train: { count: 6000 },
  test: { count: 1000 },
};

const compilerFor = (text: string) => (o: Pick<CompileOptions, 'args' | 'input'>) => compileSource(text, '/virtual/plan.net', o);
const config = (o: Partial<ConfigOptions> = {}) => runConfig({ ...OPTIONS, ...o }, '/virtual/plan.net', null, BACKEND);
const plan = (text: string, cfg = config(), opts: { resuming?: boolean; memoryLimit?: number } = {}) =>
  planNet(compilerFor(text), cfg, FMNIST, 'wasm', { resuming: opts.resuming ?? false, memoryLimit: opts.memoryLimit ?? 4 * GiB });

const CLASSES_NET = 'net n(classes=1000) : [3, 64, 64] < conv 8 k=3; relu; gap; linear classes >\n';

describe('runConfig', () => {
  it('a new run takes every option, --set as args, augmentation grouped', () => {
    const cfg = config({ args: { width: 4 }, crop: 4, flip: true, epochs: 3, subset: 500 });
    expect(cfg).toMatchObject({
      net: '',
      file: '/virtual/plan.net',
      args: { width: 4 },
      backend: 'wasm',
      kernels: 'wasm',
      epochs: 3,
      subset: 500,
      augment: { crop: 4, flip: true },
      out: '',
    });
  });

  it('a resumed run keeps its own config: only a given --epochs and the backend now used replace it', () => {
    const prior: RunConfig = { ...config({ lr: 0.5, epochs: 4 }), net: 'n', out: 'runs/n', backend: 'node', kernels: 'node' };
    expect(runConfig({ ...OPTIONS, lr: 0.1 }, undefined, prior, BACKEND)).toEqual({ ...prior, backend: 'wasm', kernels: 'wasm' });
    expect(runConfig({ ...OPTIONS, epochs: 20 }, undefined, prior, BACKEND).epochs).toBe(20);
  });
});

describe('planData', () => {
  it('counts what the run uses: --subset, the validation split, --test-subset, and the steps of an epoch', () => {
    const d = planData(FMNIST, { subset: 2000, valSplit: 0.1, testSubset: 500, batchSize: 64 });
    expect(d).toEqual({
      train: 1800,
      validation: 200,
      test: 500,
      batchSize: 64,
      stepsPerEpoch: 29,
      line: 'data: fashion-mnist from /data/fm: 2000 of 6000 training images (1800 train + 200 validation), 500 of 1000 test, 1x28x28, 10 classes',
    });
  });

  it('whole splits are shown without "of"; a subset larger than the data is the data', () => {
    const d = planData(FMNIST, { subset: 10_000, valSplit: 0, testSubset: undefined, batchSize: 1000 });
    expect([d.train, d.validation, d.test, d.stepsPerEpoch]).toEqual([6000, 0, 1000, 6]);
    expect(d.line).toContain(': 6000 training images (6000 train + 0 validation), 1000 test,');
  });
});

describe('planNet', () => {
  it('fits the input shape and `classes` to the data, and says so', () => {
    const { plan: p } = plan(CLASSES_NET);
    expect(p).not.toBeNull();
    expect(p!.adaptations).toEqual(['input 3x64x64 -> 1x28x28', 'classes 1000 -> 10']);
    expect([p!.net, p!.args.classes, p!.graph.input, p!.classMismatch, p!.outputsProbabilities]).toEqual(['n', 10, [1, 28, 28], null, false]);
  });

  it('a resumed run is not re-adapted (its config already holds the fitted arguments)', () => {
    expect(plan(CLASSES_NET, config({ args: { classes: 10 } }), { resuming: true }).plan!.adaptations).toEqual([]);
  });

  it('a net ending in softmax outputs probabilities (the loss is NLL of log p)', () => {
    expect(plan('net n(classes=10) : [1, 28, 28] < flatten; linear classes; softmax >\n').plan!.outputsProbabilities).toBe(true);
  });

  it('an output that is not one score per class: what to change, for --set classes and for a net without `classes`', () => {
    expect(plan(CLASSES_NET, config({ args: { classes: 5 } })).plan!.classMismatch).toBe(
      'n outputs [5] per sample, but fashion-mnist has 10 classes: drop --set classes=5 to fit it to the data, or --set classes=10',
    );
    expect(plan('net m : [1, 28, 28] < flatten; linear 3 >\n').plan!.classMismatch).toMatch(
      /^m outputs \[3\] per sample, .*give the net a `classes` parameter/,
    );
  });

  it('errors in the file: no plan, and the diagnostics to print', () => {
    const { plan: p, compiled } = plan('net n(classes=10) : [1, 28, 28] < conv 8 k=40; flatten; linear classes >\n');
    expect(p).toBeNull();
    expect(compiled.diagnostics.map((d) => d.code)).toContain('NET2004');
  });

  it('the memory estimate grows with the batch, and past the limit is refused with a batch size that fits', () => {
    const small = plan(CLASSES_NET, config({ batchSize: 64 })).plan!;
    const large = plan(CLASSES_NET, config({ batchSize: 128 })).plan!;
    expect(small.memoryProblem).toBeNull();
    expect(large.memory.activationBytes).toBeCloseTo(2 * small.memory.activationBytes, 6);
    expect(large.memory.paramBytes).toBe(small.memory.paramBytes);
    const refused = plan(CLASSES_NET, config({ batchSize: 4096 }), { memoryLimit: 64 * 1024 ** 2 }).plan!;
    expect(refused.memory.bytes).toBeGreaterThan(64 * 1024 ** 2);
    expect(refused.memoryProblem).toMatch(/^training n at batch size 4096 needs about .* more than the --memory-limit of 64\.0 MiB:/);
    expect(refused.memoryProblem).toMatch(/help: --batch-size \d+ fits/);
  });

  it('recomputes batch norm and ReLU outputs on wasm only where keeping them would not fit', () => {
    // Six conv-bn-relu blocks: recomputing saves more than the one output it holds while recomputing.
    const BN_NET = 'block C < conv 16 k=3 pad=1; bn; relu >\nnet n(classes=10) : [3, 32, 32] < C * 6; gap; linear classes >\n';
    const cfg = config({ batchSize: 64 });
    const keeping = plan(BN_NET, cfg).plan!;
    expect(keeping.recompute).toBe(false);
    const size = sizeOfGraph(keeping.graph);
    const recomputing = estimateTrainingMemory({ ...size, kept: size.keptRecomputing }, cfg, 'wasm', 1e15).bytes;
    expect(recomputing).toBeLessThan(keeping.memory.bytes);
    const tight = plan(BN_NET, cfg, { memoryLimit: (recomputing + keeping.memory.bytes) / 2 }).plan!;
    expect(tight.recompute).toBe(true);
    expect(tight.memoryProblem).toBeNull();
  });
});
