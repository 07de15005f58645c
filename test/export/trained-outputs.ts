/**
 * The comparison behind test/export/trained.test.ts and zoo-trained.test.ts: a run's last checkpoint
 * evaluated by netc (tfjs, cpu backend) and by the PyTorch module `netc export --weights` wrote, on
 * the same 6 deterministic 1x28x28 inputs. Returns the largest difference and the largest |output|
 * (so a caller can check the outputs are not all ~0); assertions stay in the tests.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export async function compareWithPytorch(
  python: string,
  dir: string,
  modulePath: string,
): Promise<{ stderr: string; status: number | null; length: [number, number]; maxDiff: number; maxAbs: number }> {
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
    `spec = importlib.util.spec_from_file_location(${JSON.stringify(basename(modulePath, '.py'))}, ${JSON.stringify(modulePath)})`,
    'm = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)',
    'model = m.load_netc_weights(m.build()).eval()',
    `x = torch.frombuffer(bytearray(open(${JSON.stringify(join(dir, 'input.f32'))}, 'rb').read()), dtype=torch.float32).reshape(${n}, 1, 28, 28)`,
    'with torch.no_grad(): y = model(x)',
    `open(${JSON.stringify(join(dir, 'output.f32'))}, 'wb').write(y.numpy().astype('float32').tobytes())`,
  ].join('\n');
  const py = spawnSync(python, ['-c', script], { encoding: 'utf8' });
  if (py.status !== 0) return { stderr: py.stderr, status: py.status, length: [ours.length, 0], maxDiff: Infinity, maxAbs: 0 };
  const buffer = readFileSync(join(dir, 'output.f32'));
  const theirs = new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < Math.min(ours.length, theirs.length); i++) {
    maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - theirs[i]!));
    maxAbs = Math.max(maxAbs, Math.abs(ours[i]!));
  }
  return { stderr: py.stderr, status: py.status, length: [ours.length, theirs.length], maxDiff, maxAbs };
}
