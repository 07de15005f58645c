/**
 * Every user-facing failure is a UserError caught once, in src/cli/main.ts: `netc: message` on stderr,
 * the JSON error document with --format json, no stack trace, and the exit code of its kind (2 usage,
 * 1 everything else). One situation for each kind of error the stages throw.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { netc, ROOT } from '../frontend/helpers.js';
import { UserError } from '../../src/diagnostics/user-error.js';
import type { NodeData } from '../../src/ir/types.js';
import { LowerError } from '../../src/lower/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'netc-user-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const damagedRun = join(dir, 'damaged-run');
const vectorNet = join(dir, 'vector.net');
mkdirSync(damagedRun);
writeFileSync(join(damagedRun, 'config.json'), '{');
writeFileSync(vectorNet, 'net v : [10] < linear 4 >\n');

/** Exactly one `netc: ` line carrying `message` (plus any lines of the message itself), and no stack. */
function expectFailure(r: { status: number | null; stderr: string }, status: number, message: string | RegExp): void {
  expect(r.status, r.stderr).toBe(status);
  expect(r.stderr.match(/^netc: /gm)?.length, r.stderr).toBe(1);
  if (typeof message === 'string') expect(r.stderr).toContain(`netc: ${message}`);
  else expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
}

describe('each kind of user error: its exit code and message, printed once by main', () => {
  it('UsageError (a bad invocation): exit 2', () => {
    expectFailure(netc(['explain', 'NET9999']), 2, 'unknown code "NET9999"; `netc explain` lists them all\n');
  });

  it('UsageError with --format json: the JSON error document, kind usage', () => {
    const r = netc(['check', join(dir, 'no-such.net'), '--format', 'json']);
    expectFailure(r, 2, `no such file: ${join(dir, 'no-such.net')}`);
    expect(JSON.parse(r.stdout)).toEqual({ error: { kind: 'usage', message: `no such file: ${join(dir, 'no-such.net')}`, exitCode: 2 } });
  });

  it('DataError (a dataset that is not there): exit 1, naming the files and where to put them', () => {
    const r = netc(['train', 'lenet5', '--data', 'cifar10', '--data-dir', join(dir, 'empty'), '--no-download', '--backend', 'cpu']);
    expectFailure(r, 1, /netc: dataset cifar10 not found\. Looked in:\n[\s\S]*data_batch_1\.bin[\s\S]*downloading is off \(--no-download\)/);
  });

  it('RunDirError (a damaged run directory on --resume): exit 1, naming the file', () => {
    expectFailure(netc(['train', '--resume', damagedRun]), 1, `${join(damagedRun, 'config.json')}: not valid JSON`);
  });

  it('RunError (a damaged run on eval) with --format json: exit 1 and the JSON error document', () => {
    const r = netc(['eval', 'lenet5', '--weights', damagedRun, '--format', 'json', '--backend', 'cpu']);
    expectFailure(r, 1, `${join(damagedRun, 'config.json')}: not valid JSON`);
    const doc = JSON.parse(r.stdout) as { error: { kind: string; message: string; exitCode: number } };
    expect(doc.error.kind).toBe('error');
    expect(doc.error.exitCode).toBe(1);
    expect(doc.error.message).toMatch(/config\.json: not valid JSON .*the file is damaged$/);
  });

  // Where a GPU build of tfjs-node is set up, node-gpu loads and there is no failure to show.
  const gpuBuilt =
    existsSync(join(ROOT, 'node_modules/@tensorflow/tfjs-node-gpu/lib')) &&
    readdirSync(join(ROOT, 'node_modules/@tensorflow/tfjs-node-gpu/lib'), { recursive: true }).some((f) => String(f).endsWith('tfjs_binding.node'));
  it.skipIf(gpuBuilt)('BackendError (a forced backend that does not load): exit 1 and why', () => {
    expectFailure(netc(['train', 'lenet5', '--backend', 'node-gpu']), 1, "backend 'node-gpu' is not usable: node-gpu: ");
  });

  it('ExportError (a net a torchrun program cannot train): exit 1, with what was being exported', () => {
    const r = netc(['export', vectorNet, '--to', 'torchrun', '--out', join(dir, 'torchrun')]);
    expectFailure(r, 1, 'cannot export `v` as a torchrun program: v takes [10]; the training program feeds images [C, H, W]\n');
    expect(existsSync(join(dir, 'torchrun'))).toBe(false);
  });

  // No net that checks reaches LowerError any more (test/property/check-train.test.ts holds check =>
  // train); it stays as the guard against a lowering bug, a UserError with exit 1 naming the layer.
  it('LowerError (a lowering that cannot be built): a UserError with exit 1, naming the layer', () => {
    const e = new LowerError({ name: 'pool1' } as NodeData, 'maxpool with dilation 2x2 has no tfjs lowering');
    expect(e).toBeInstanceOf(UserError);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe('cannot lower pool1: maxpool with dilation 2x2 has no tfjs lowering');
  });

  it('TrainingError (the loss turns NaN): exit 1, what happened and what to try', () => {
    const out = join(dir, 'nan-run');
    const r = netc([
      'train',
      'test/train/fixtures/tiny.net',
      '--subset',
      '256',
      '--epochs',
      '1',
      '--optimizer',
      'sgd',
      '--lr',
      '1e38',
      '--out',
      out,
      '--backend',
      'cpu',
    ]);
    expectFailure(r, 1, /netc: loss became NaN at epoch 1, step 2 of 4 \(learning rate 1e\+38\); no checkpoint was written yet; try a smaller --lr/);
  });
});
