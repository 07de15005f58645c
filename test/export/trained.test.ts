/**
 * `netc export --weights RUN`: a network trained by netc, exported to PyTorch with its weights, gives
 * the same outputs in PyTorch as in netc (tfjs), on the same inputs. The network mixes every kind of
 * layer and merge whose layout could go wrong: conv (with and without bias), batch norm (trained running
 * statistics), -inf-padded max pool, zero-padded average pool, a residual block with a projection
 * shortcut, squeeze-and-excitation scaling, Inception-style branches, DenseNet-style concat, leaky
 * ReLU, dropout (identity at inference) and a linear head after global pooling.
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
const NET = join(ROOT, 'test', 'export', 'fixtures', 'mixnet.net');
const TORCH_OK = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
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

    // netc's side: the run's own checkpoint, evaluated by tfjs.
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

    // PyTorch's side: the exported module with the exported weights, in eval mode.
    writeFileSync(join(dir, 'input.f32'), Buffer.from(nchw.buffer));
    const script = [
      'import importlib.util, sys, torch',
      `spec = importlib.util.spec_from_file_location('mixnet', ${JSON.stringify(join(dir, 'mixnet.py'))})`,
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
