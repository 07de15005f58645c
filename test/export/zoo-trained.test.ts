/**
 * Issue 13's constructs through training and back to PyTorch: a net with per-axis kernels/strides/padding,
 * hardswish, hardsigmoid, an SE gate, conditional stages, depthwise convs, chunk, channel_shuffle and
 * stochastic depth is trained a few steps by netc, exported with its weights, and PyTorch (eval mode) must
 * give netc's (tfjs) outputs on the same inputs. This checks every new lowering's layout against PyTorch.
 * The same for the sequence constructs (fixtures/seqnet.net: a ConvNeXt block with permute, layernorm,
 * per-position linears and layer scale; patch tokens, class token, position embedding, multi-head
 * self-attention). Both are trained on plain wasm (the default backend without the native addon, with
 * netc's own depthwise and grouped gradient kernels); tfjs's cpu backend took ten times as long.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithPytorch } from './trained-outputs.js';
import { pythonHas } from '../python.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NETC = join(ROOT, 'bin', 'netc.js');
const PYTHON = '/usr/bin/python3';
const FIXTURES = join(ROOT, 'test', 'export', 'fixtures');
/** Fixture net -> the backend it is trained on. */
const NETS: [string, string][] = [
  ['zoonet', 'wasm'],
  ['seqnet', 'wasm'],
];
const TORCH_OK = pythonHas('torch', 'torchvision');
const NO_TORCH = TORCH_OK ? '' : ` [skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)]`;

let dir: string;
const netc = (...args: string[]) => spawnSync(process.execPath, [NETC, ...args], { cwd: ROOT, encoding: 'utf8' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'netc-export-zoo-'));
  for (const [net, backend] of NETS) {
    const trained = netc(
      'train',
      join(FIXTURES, `${net}.net`),
      '--subset',
      '128',
      '--epochs',
      '1',
      '--batch-size',
      '64',
      '--seed',
      '3',
      '--backend',
      backend,
      '--out',
      join(dir, net, 'run'),
    );
    if (trained.status !== 0) throw new Error(`training ${net} failed (${trained.status}): ${trained.stderr}`);
  }
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('issue 13 constructs: trained by netc, reproduced by PyTorch', () => {
  for (const [net, backend] of NETS) {
    it(`${net} (trained on ${backend}): PyTorch reproduces the trained network's outputs within 1e-4${NO_TORCH}`, async () => {
      if (!TORCH_OK) return;
      const exported = netc(
        'export',
        join(FIXTURES, `${net}.net`),
        '--to',
        'pytorch',
        '--weights',
        join(dir, net, 'run'),
        '--checkpoint',
        'last',
        '--out',
        join(dir, net, `${net}.py`),
      );
      expect(exported.status, exported.stderr).toBe(0);

      const r = await compareWithPytorch(PYTHON, join(dir, net), join(dir, net, `${net}.py`));
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.length[1]).toBe(r.length[0]);
      const { maxDiff, maxAbs } = r;
      expect(maxAbs).toBeGreaterThan(0.1); // outputs that are not all ~0, so the comparison means something
      expect(maxDiff).toBeLessThan(1e-4);
    }, 120_000);
  }
});
