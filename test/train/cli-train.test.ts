/**
 * `netc train` as a user sees it (in-process, the same code as bin/netc.js): what it adapted to the
 * data, the image counts it really uses under --subset / --test-subset, progress of the test pass,
 * one short backend line, "1 epoch", and a single-epoch plot with an integer tick. A tiny net keeps
 * the whole run around a second.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netcInProcess, type CliResult } from '../frontend/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'netc-cli-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Declared for CIFAR-100-like data; trained on the bundled Fashion-MNIST sample (1x28x28, 10 classes).
const NET = `net tiny(classes=100) : [3, 32, 32] <
  conv 4 k=3 pad=1; relu; gap
  linear classes
>
`;

let r: CliResult;
const run = join(dir, 'run');

beforeAll(async () => {
  writeFileSync(join(dir, 'tiny.net'), NET);
  r = await netcInProcess(['train', join(dir, 'tiny.net'), '--backend', 'wasm', '--epochs', '1', '--subset', '100', '--test-subset', '40', '--out', run]);
}, 120_000);

describe('netc train tells what it does', () => {
  it('finishes, and says what it fitted to the data', () => {
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('adapted tiny to fashion-mnist-sample: input 3x32x32 -> 1x28x28, classes 100 -> 10\n');
  });

  it('prints the numbers it uses: --subset and the validation split, --test-subset', () => {
    expect(r.stderr).toMatch(
      /^data: fashion-mnist-sample from .*: 100 of 6000 training images \(90 train \+ 10 validation\), 40 of 1000 test, 1x28x28, 10 classes$/m,
    );
    expect(r.stderr).toMatch(/^test: 40 images in \d+\.\d s$/m);
    expect(r.stdout).toMatch(/^test accuracy: \d+\.\d\d% \(40 images, 1 epoch, /m);
    const result = JSON.parse(readFileSync(join(run, 'result.json'), 'utf8'));
    expect(result.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(40);
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    expect([config.subset, config.testSubset]).toEqual([100, 40]);
    const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
    const valid = ajv.compile(JSON.parse(readFileSync('specs/run-config.schema.json', 'utf8')));
    expect(valid(config), JSON.stringify(valid.errors)).toBe(true);
  });

  it('one short backend line; --verbose is where the details are', () => {
    const lines = r.stderr.split('\n').filter((l) => /^\s*(backend|skipped)/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^backend: wasm\b/);
    expect(lines[0]!.length).toBeLessThan(80);
  });

  it('a single-epoch plot labels its epoch tick 1, not 1.000000', () => {
    const svg = readFileSync(join(run, 'loss.svg'), 'utf8');
    expect(svg).not.toContain('1.000000');
    expect(svg).toMatch(/>1<\/text>/);
  });

  it('--set classes that disagrees with the data says to drop it, not to add it', async () => {
    const bad = await netcInProcess([
      'train',
      join(dir, 'tiny.net'),
      '--backend',
      'wasm',
      '--set',
      'classes=5',
      '--epochs',
      '1',
      '--subset',
      '10',
      '--out',
      join(dir, 'bad'),
    ]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(
      'netc: tiny outputs [5] per sample, but fashion-mnist-sample has 10 classes: drop --set classes=5 to fit it to the data, or --set classes=10',
    );
  });
});

describe('a net that ends in softmax keeps its loss across --resume', () => {
  it('records outputsProbabilities in config.json, and a resumed run (no IR rebuilt) trains with the same loss', async () => {
    writeFileSync(join(dir, 'soft.net'), 'net soft(classes=10) : [1, 28, 28] <\n  conv 4 k=3 stride=2; relu; gap\n  linear classes; softmax\n>\n');
    const soft = join(dir, 'soft-run');
    const common = ['--backend', 'wasm', '--subset', '64', '--test-subset', '16', '--batch-size', '32', '--seed', '3'];
    const first = await netcInProcess(['train', join(dir, 'soft.net'), ...common, '--epochs', '1', '--out', soft]);
    expect(first.status, first.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(soft, 'config.json'), 'utf8')).outputsProbabilities).toBe(true);
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).outputsProbabilities).toBe(false);
    // Two epochs at once vs one, then one more after --resume: the same losses only if the resumed
    // epoch used the softmax net's loss (NLL of log p), not cross-entropy of its outputs as logits.
    const whole = join(dir, 'soft-whole');
    expect((await netcInProcess(['train', join(dir, 'soft.net'), ...common, '--epochs', '2', '--out', whole])).status).toBe(0);
    const resumed = await netcInProcess(['train', '--resume', soft, '--epochs', '2']);
    expect(resumed.status, resumed.stderr).toBe(0);
    const losses = (d: string) =>
      readFileSync(join(d, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).trainLoss as number);
    expect(losses(soft)).toEqual(losses(whole));
  }, 120_000);
});
