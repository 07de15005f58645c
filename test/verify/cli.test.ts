/**
 * `netc verify` from the command line (dist/): exit codes, --help's tolerances, the JSON document
 * validated against specs/verify.schema.json, and the "PyTorch is not installed" usage error.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { NO_TORCH, ROOT } from './helpers.js';

const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(join(ROOT, 'specs/verify.schema.json'), 'utf8')));
const netc = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [join(ROOT, 'bin/netc.js'), 'verify', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });

describe('netc verify CLI', () => {
  it('--help states the tolerances and the exit codes', () => {
    const r = netc(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/forward-train\s+<= 1e-4/);
    expect(r.stdout).toMatch(/grad\s+<= 1e-3/);
    expect(r.stdout).toMatch(/update\s+<= 1e-3/);
    expect(r.stdout).toMatch(/Exit status: 0 every tensor within tolerance, 1 beyond it/);
  });

  it('PyTorch missing is a usage error (exit 2) that says how to install it, in JSON too', () => {
    const r = netc(['stdlib/lenet5.net'], { NETC_PYTHON: '/nonexistent/python3' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/apt-get install python3-torch/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    const j = netc(['stdlib/lenet5.net', '--format', 'json'], { NETC_PYTHON: '/nonexistent/python3' });
    expect(j.status).toBe(2);
    const doc = JSON.parse(j.stdout);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.error).toMatch(/PyTorch/);
  });

  it.skipIf(NO_TORCH)(`errors in the file: exit 1, diagnostics on stderr, JSON on stdout${NO_TORCH}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'netc-verify-cli-'));
    const bad = join(dir, 'bad.net');
    writeFileSync(bad, 'net bad : [3, 8, 8] < conv 4 k=9; gap; linear 2 >\n');
    const r = netc([bad, '--format', 'json']);
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[NET/);
    const doc = JSON.parse(r.stdout);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.exitCode).toBe(1);
  });

  it('a bad flag value is a usage error', () => {
    const r = netc(['stdlib/lenet5.net', '--batch', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--batch must be an integer >= 1/);
  });

  it.skipIf(NO_TORCH)(
    `a passing net: exit 0, a schema-valid document with every kind compared${NO_TORCH}`,
    () => {
      const r = netc(['test/verify/fixtures/small.net', '--backend', 'cpu', '--schedule', 'step', '--format', 'json']);
      expect(r.status, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
      const cpu = doc.nets[0].backends[0];
      expect(cpu.status).toBe('pass');
      const kinds = new Set(cpu.rows.map((x: { kind: string }) => x.kind));
      for (const k of ['forward-train', 'forward-eval', 'loss', 'grad', 'update', 'running-stat']) expect(kinds).toContain(k);
      expect(doc.schedules[0].pass).toBe(true);
    },
    120_000,
  );

  // (Every net that checks also lowers now, test/property/check-train.test.ts: a net that is not a
  // classifier is what verify cannot compare.)
  it.skipIf(NO_TORCH)(
    `a net verify cannot compare: exit 1 and the reason, in the human table${NO_TORCH}`,
    () => {
      const r = netc(['test/verify/fixtures/not-a-classifier.net', '--backend', 'cpu', '--schedule', 'step']);
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/cpu\s+ERROR\s+verify needs a classifier: the net's output is \[3, 8, 8\], not \[classes\]/);
      expect(r.stdout).toMatch(/verdict: FAIL/);
    },
    120_000,
  );
});
