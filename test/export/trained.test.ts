/**
 * `netc export --weights RUN`: a network trained by netc, exported to PyTorch with its weights, gives
 * the same outputs in PyTorch as in netc (tfjs), on the same inputs. The network mixes every kind of
 * layer and merge whose layout could go wrong: conv (with and without bias), batch norm (trained running
 * statistics), -inf-padded max pool, zero-padded average pool, a residual block with a projection
 * shortcut, squeeze-and-excitation scaling, Inception-style branches, DenseNet-style concat, leaky
 * ReLU, dropout (identity at inference) and a linear head after global pooling.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithPytorch } from './trained-outputs.js';
import { pythonHas } from '../python.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NETC = join(ROOT, 'bin', 'netc.js');
const PYTHON = '/usr/bin/python3';
const NET = join(ROOT, 'test', 'export', 'fixtures', 'mixnet.net');
const TORCH_OK = pythonHas('torch');
const NO_TORCH = TORCH_OK ? '' : ` [skipped: ${PYTHON} cannot import torch (apt-get install python3-torch)]`;

let dir: string;
const netc = (...args: string[]) => spawnSync(process.execPath, [NETC, ...args], { cwd: ROOT, encoding: 'utf8' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'netc-export-trained-'));
  const trained = netc('train', NET, '--subset', '512', '--epochs', '1', '--batch-size', '64', '--seed', '3', '--out', join(dir, 'run'));
  if (trained.status !== 0) throw new Error(`training failed (${trained.status}): ${trained.stderr}`);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('netc export --weights', () => {
  it(`PyTorch reproduces the trained network's outputs within 1e-4${NO_TORCH}`, async () => {
    if (!TORCH_OK) return;
    const exported = netc('export', NET, '--to', 'pytorch', '--weights', join(dir, 'run'), '--checkpoint', 'last', '--out', join(dir, 'mixnet.py'));
    expect(exported.stderr).toContain('mixnet.safetensors');
    expect(exported.status).toBe(0);

    const r = await compareWithPytorch(PYTHON, dir, join(dir, 'mixnet.py'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.length[1]).toBe(r.length[0]);
    const { maxDiff, maxAbs } = r;
    expect(maxAbs).toBeGreaterThan(0.1); // outputs that are not all ~0, so the comparison means something
    expect(maxDiff).toBeLessThan(1e-4);
  }, 120_000);

  it('refuses --weights with a target that has no weights, and --set with --weights', () => {
    const dot = netc('export', NET, '--to', 'dot', '--weights', join(dir, 'run'));
    expect(dot.status).toBe(2);
    expect(dot.stderr).toContain('--weights goes with --to pytorch or --to tfjs');
    const set = netc('export', NET, '--to', 'pytorch', '--weights', join(dir, 'run'), '--out', join(dir, 'x.py'), '--set', 'classes=3');
    expect(set.status).toBe(2);
  });

  it('exports the trained tfjs model, whose weights file matches its manifest', () => {
    const out = join(dir, 'tfjs');
    const r = netc('export', NET, '--to', 'tfjs', '--weights', join(dir, 'run'), '--out', out);
    expect(r.status).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { weightsManifest: { weights: { shape: number[] }[] }[] };
    const values = manifest.weightsManifest[0]!.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    expect(readFileSync(join(out, 'weights.bin')).byteLength).toBe(values * 4);
  });
});
