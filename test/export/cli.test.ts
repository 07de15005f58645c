/** `netc export` on the command line: outputs, files and exit codes (0 ok, 1 diagnostics, 2 usage). */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../post/helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'netc-export-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = cli;

const lenet = join(ROOT, 'stdlib', 'lenet5.net');

describe('netc export', () => {
  it('writes PyTorch code to stdout, with --set and --input applied', async () => {
    const r = await run(['export', join(ROOT, 'stdlib', 'resnet18.net'), '--to', 'pytorch', '--set', 'classes=10', '--input', '3x32x32']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('class Resnet18(nn.Module):');
    expect(r.stdout).toContain('self.fc = nn.Linear(512, 10)');
    expect(r.stdout).toContain('torch.randn(1, 3, 32, 32)');
  });

  it('writes to --out and reports it on stderr', async () => {
    const file = join(dir, 'lenet5.py');
    const r = await run(['export', lenet, '--to', 'pytorch', '--out', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`wrote PyTorch module for lenet5 to ${file}`);
    expect(readFileSync(file, 'utf8')).toContain('class Lenet5(nn.Module):');
  });

  it('writes Graphviz source', async () => {
    const r = await run(['export', lenet, '--to', 'dot']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^digraph "lenet5" \{/);
  });

  it('exit 2 for usage mistakes: no --to, an unknown target, a missing file, tfjs without --out', async () => {
    expect((await run(['export', lenet])).code).toBe(2);
    expect((await run(['export', lenet, '--to', 'onnx'])).code).toBe(2);
    expect((await run(['export', join(dir, 'nope.net'), '--to', 'dot'])).code).toBe(2);
    const r = await run(['export', lenet, '--to', 'tfjs']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give a directory with --out');
  });

  it('exit 1 with rendered diagnostics for a file with errors', async () => {
    const bad = join(dir, 'bad.net');
    writeFileSync(bad, 'net bad : [3, 8, 8] < conv 4 k=3; linear 10 >\n');
    const r = await run(['export', bad, '--to', 'pytorch']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[NET2006]');
    expect(r.stdout).toBe('');
  });

  it('exit 2 for --to svg when Graphviz is missing, saying what to do', async () => {
    const path = process.env['PATH'];
    process.env['PATH'] = dir;
    try {
      const r = await run(['export', lenet, '--to', 'svg']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('install graphviz');
      expect(r.stderr).toContain('--to dot');
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('writes a tfjs model directory whose weights file matches its manifest', async () => {
    const out = join(dir, 'lenet5-tfjs');
    const r = await run(['export', lenet, '--to', 'tfjs', '--out', out]);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'model.json'))).toBe(true);
    const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as {
      modelTopology: unknown;
      weightsManifest: { paths: string[]; weights: { shape: number[]; dtype: string }[] }[];
    };
    expect(model.modelTopology).toBeTruthy();
    const bytes = model.weightsManifest[0]!.weights.reduce((s, w) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
    expect(statSync(join(out, 'weights.bin')).size).toBe(bytes);
  });

  it('--weights to pytorch needs --out (two files are written), and a real run directory', async () => {
    const noOut = await run(['export', lenet, '--to', 'pytorch', '--weights', dir]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain("give the module's path with --out");
    const notARun = await run(['export', lenet, '--to', 'pytorch', '--weights', join(dir, 'no-such-run'), '--out', join(dir, 'x.py')]);
    expect(notARun.code).toBe(2);
    expect(notARun.stderr).toContain('no such run directory');
  });
});
