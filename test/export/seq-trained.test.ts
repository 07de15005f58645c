/**
 * Issue 13's sequence constructs through training and back to PyTorch: a net with a ConvNeXt block
 * (permute to channels-last, layernorm, per-position linears, layer scale, stochastic depth), LayerNorm2d,
 * patch tokens, a class token, a position embedding and multi-head self-attention is trained a few steps
 * by netc (wasm, with the native addon where built), exported with its weights, and PyTorch (eval mode)
 * must give netc's (tfjs) outputs on the same inputs: every new lowering's layout against PyTorch.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithPytorch } from './trained-outputs.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NETC = join(ROOT, 'bin', 'netc.js');
const PYTHON = '/usr/bin/python3';
const NET = join(ROOT, 'test', 'export', 'fixtures', 'seqnet.net');
const TORCH_OK = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
const NO_TORCH = TORCH_OK ? '' : ` [skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)]`;

let dir: string;
const netc = (...args: string[]) => spawnSync(process.execPath, [NETC, ...args], { cwd: ROOT, encoding: 'utf8' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'netc-export-seq-'));
  const trained = netc('train', NET, '--subset', '128', '--epochs', '1', '--batch-size', '64', '--seed', '3', '--backend', 'wasm', '--out', join(dir, 'run'));
  if (trained.status !== 0) throw new Error(`training failed (${trained.status}): ${trained.stderr}`);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('issue 13 sequence constructs: trained by netc, reproduced by PyTorch', () => {
  it(`PyTorch reproduces the trained network's outputs within 1e-4${NO_TORCH}`, async () => {
    if (!TORCH_OK) return;
    const exported = netc('export', NET, '--to', 'pytorch', '--weights', join(dir, 'run'), '--checkpoint', 'last', '--out', join(dir, 'seqnet.py'));
    expect(exported.status, exported.stderr).toBe(0);

    const r = await compareWithPytorch(PYTHON, dir, join(dir, 'seqnet.py'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.length[1]).toBe(r.length[0]);
    const { maxDiff, maxAbs } = r;
    expect(maxAbs).toBeGreaterThan(0.1); // outputs that are not all ~0, so the comparison means something
    expect(maxDiff).toBeLessThan(1e-4);
  }, 120_000);
});
