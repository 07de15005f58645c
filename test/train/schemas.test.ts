import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';

// allowUnionTypes: run-config's `args` values are `"type": ["number", "boolean", ...]`, which strict mode warns about.
const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
const load = (f: string) => ajv.compile(JSON.parse(readFileSync(`specs/${f}`, 'utf8')));

describe('run-directory schemas', () => {
  it('accept a real metrics row and result, and reject wrong ones', () => {
    const metrics = load('metrics.schema.json');
    const row = { epoch: 1, trainLoss: 1.4, trainAccuracy: 0.46, valLoss: 0.9, valAccuracy: 0.62, lr: 0.01, imagesPerSecond: 1210, seconds: 4.4 };
    expect(metrics(row)).toBe(true);
    expect(metrics({ ...row, trainAccuracy: 46 })).toBe(false);
    const result = load('result.schema.json');
    const r = {
      testAccuracy: 0.78,
      perClassAccuracy: { a: 0.5 },
      confusionMatrix: [
        [1, 0],
        [0, 1],
      ],
      backend: 'wasm',
    };
    expect(result(r)).toBe(true);
    expect(result({ ...r, backend: 'tpu' })).toBe(false);
    const cfg = load('run-config.schema.json');
    expect(
      cfg({
        net: 'x',
        data: 'mnist',
        backend: 'wasm',
        epochs: 1,
        batchSize: 2,
        optimizer: 'adam',
        lr: 0.1,
        momentum: 0.9,
        weightDecay: 0,
        schedule: 'none',
        stepSize: 1,
        gamma: 0.1,
        augment: { crop: 0, flip: false },
        normalize: true,
        valSplit: 0.1,
        seed: 0,
        out: 'r',
      }),
    ).toBe(true);
  });
});
