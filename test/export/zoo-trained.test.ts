/**
 * Issue 13's constructs through training and back to PyTorch: a net with per-axis kernels/strides/padding,
 * hardswish, hardsigmoid, an SE gate, conditional stages, depthwise convs, chunk, channel_shuffle and
 * stochastic depth is trained a few steps by netc, exported with its weights, and PyTorch (eval mode) must
 * give netc's (tfjs) outputs on the same inputs. This checks every new lowering's layout against PyTorch.
 * The cpu backend: depthwise gradients on wasm come with branch `speed`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NETC = join(ROOT, 'bin', 'netc.js');
const PYTHON = '/usr/bin/python3';
const NET = join(ROOT, 'test', 'export', 'fixtures', 'zoonet.net');
const TORCH_OK = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
const NO_TORCH = TORCH_OK ? '' : ` [skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)]`;

let dir: string;
const netc = (...args: string[]) => spawnSync(process.execPath, [NETC, ...args], { cwd: ROOT, encoding: 'utf8' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'netc-export-zoo-'));
  const trained = netc('train', NET, '--subset', '128', '--epochs', '1', '--batch-size', '64', '--seed', '3', '--backend', 'cpu', '--out', join(dir, 'run'));
  if (trained.status !== 0) throw new Error(`training failed (${trained.status}): ${trained.stderr}`);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('issue 13 constructs: trained by netc, reproduced by PyTorch', () => {
  it(`PyTorch reproduces the trained network's outputs within 1e-4${NO_TORCH}`, async () => {
    if (!TORCH_OK) return;
    const exported = netc('export', NET, '--to', 'pytorch', '--weights', join(dir, 'run'), '--checkpoint', 'last', '--out', join(dir, 'zoonet.py'));
    expect(exported.status, exported.stderr).toBe(0);

    const tf = await import('@tensorflow/tfjs-core');
    const { selectBackend } = await import('../../src/runtime/backend.js');
    const { openRun } = await import('../../src/post/run.js');
    await selectBackend('cpu');
    const run = await openRun(join(dir, 'run'), 'last');
    const n = 6;
    const nchw = new Float32Array(n * 28 * 28);
    for (let i = 0; i < nchw.length; i++) nchw[i] = Math.sin(i * 0.37) * 1.5 + Math.cos(i * 0.011);
    const x = tf.tensor4d(nchw, [n, 1, 28, 28]).transpose([0, 2, 3, 1]);
    const ours = (run.model.predict(x) as import('@tensorflow/tfjs-core').Tensor).dataSync() as Float32Array;

    writeFileSync(join(dir, 'input.f32'), Buffer.from(nchw.buffer));
    const script = [
      'import importlib.util, sys, torch',
      `spec = importlib.util.spec_from_file_location('zoonet', ${JSON.stringify(join(dir, 'zoonet.py'))})`,
      'm = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)',
      'model = m.load_netc_weights(m.build()).eval()',
      `x = torch.frombuffer(bytearray(open(${JSON.stringify(join(dir, 'input.f32'))}, 'rb').read()), dtype=torch.float32).reshape(${n}, 1, 28, 28)`,
      'with torch.no_grad(): y = model(x)',
      `open(${JSON.stringify(join(dir, 'output.f32'))}, 'wb').write(y.numpy().astype('float32').tobytes())`,
    ].join('\n');
    const py = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(py.status).toBe(0);
    const buffer = readFileSync(join(dir, 'output.f32'));
    const theirs = new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4);

    expect(theirs.length).toBe(ours.length);
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < ours.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - theirs[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(ours[i]!));
    }
    expect(maxAbs).toBeGreaterThan(0.1); // outputs that are not all ~0, so the comparison means something
    expect(maxDiff).toBeLessThan(1e-4);
  }, 120_000);
});
