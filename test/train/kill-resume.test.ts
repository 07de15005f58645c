/**
 * A run killed at random moments resumes to exactly the weights of an uninterrupted run.
 *
 * The same `netc train` command (a tiny conv net with batch norm and dropout, Adam, a step
 * schedule, 512 images of the bundled sample, 4 epochs, fixed seed) runs once uninterrupted, then
 * again as a child process that is sent SIGKILL at moments drawn from a seeded generator (and SIGINT
 * and SIGTERM once each), each time continued with `--resume`. After every kill the run directory
 * is checked: every file in it parses, and the last checkpoint loads. At the end the final weights
 * and optimizer state must equal the uninterrupted run's byte for byte (same backend, same
 * kernels: resuming restores weights, optimizer slots and Adam's beta powers, epoch and step,
 * best-val tracking; shuffles, augmentation and dropout masks are drawn per epoch/step from the seed).
 *
 * The moments are times, so where they land varies from machine to machine; the assertions hold
 * for every moment, and the test counts only signals that actually interrupted a process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { findCheckpoint, loadCheckpoint } from '../../src/train/rundir.js';
// @ts-expect-error plain JavaScript shared with bench/fuzz.mjs
import { rng } from '../fuzz/hostile.mjs';

const BIN = 'bin/netc.js';
const built = existsSync('dist/cli/main.js') || existsSync('dist/src/cli/main.js');
const ARGS = [
  'train',
  'test/train/fixtures/tiny.net',
  '--subset',
  '512',
  '--batch-size',
  '32',
  '--epochs',
  '4',
  '--seed',
  '3',
  '--optimizer',
  'adam',
  '--lr',
  '0.01',
  '--schedule',
  'step',
  '--step-size',
  '2',
  '--backend',
  'wasm',
];

/** The signals to land, in order; `fromSpawn` kills count from the start (start-up, compiling, creating the run directory). */
const PLAN: { sig: NodeJS.Signals; fromSpawn?: boolean }[] = [
  { sig: 'SIGKILL', fromSpawn: true },
  { sig: 'SIGKILL' },
  { sig: 'SIGINT' },
  { sig: 'SIGKILL' },
  { sig: 'SIGKILL', fromSpawn: true },
  { sig: 'SIGTERM' },
  { sig: 'SIGKILL' },
  { sig: 'SIGKILL' },
];

const mulberry32 = rng as (seed: number) => () => number;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  killed: boolean;
}

/** Runs netc; sends sig after delayMs (counted from spawn, or from the "run directory:" line). */
function runAndKill(args: string[], kill: { sig: NodeJS.Signals; delayMs: number; fromSpawn: boolean } | null): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timer: NodeJS.Timeout | null = null;
    let sent = false;
    const arm = () => {
      if (!kill || timer) return;
      timer = setTimeout(() => {
        sent = child.exitCode === null && child.signalCode === null && child.kill(kill.sig);
      }, kill.delayMs);
    };
    if (kill?.fromSpawn) arm();
    child.stderr.on('data', (d) => {
      stderr += d;
      if (kill && !kill.fromSpawn && /run directory: /.test(stderr)) arm();
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      // A signal "landed" when the process did not finish the run on its own.
      resolve({ code, signal, stderr, killed: sent && code !== 0 });
    });
  });
}

/** Every file in the run directory is complete: JSON parses, SVGs end, checkpoints load. */
async function checkRunDir(dir: string): Promise<string | null> {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  expect(cfg.seed).toBe(3);
  for (const e of readdirSync(dir)) {
    const f = join(dir, e);
    if (/\.tmp-\d+$/.test(e)) continue; // a write the kill interrupted: never read, removed on resume
    if (e.endsWith('.json')) JSON.parse(readFileSync(f, 'utf8'));
    if (e === 'metrics.jsonl') for (const l of readFileSync(f, 'utf8').split('\n').filter(Boolean)) expect(JSON.parse(l).epoch).toBeGreaterThan(0);
    if (e.endsWith('.svg')) expect(readFileSync(f, 'utf8').trimEnd()).toMatch(/<\/svg>$/);
    if (e === 'metrics.csv') expect(readFileSync(f, 'utf8')).toMatch(/^epoch,[^\n]*\n(.*\n)*$/);
  }
  for (const e of readdirSync(join(dir, 'checkpoints'))) expect(e).toMatch(/^(best|last)(\.tmp-\d+|\.old-\d+)?$/);
  if (!findCheckpoint(dir, 'last')) return null;
  const ck = await loadCheckpoint(dir, 'last');
  for (const w of ck.model.getWeights()) expect(Number.isFinite(w.sum().dataSync()[0])).toBe(true);
  expect(ck.state.epoch).toBeLessThanOrEqual(4);
  return ck.state.step ? `epoch ${ck.state.epoch + 1}, step ${ck.state.step} (mid-epoch)` : `the end of epoch ${ck.state.epoch}`;
}

describe.skipIf(!built)('kill at random moments, resume, same final weights', () => {
  const root = mkdtempSync(join(tmpdir(), 'netc-kill-'));
  const ref = join(root, 'ref');
  beforeAll(async () => {
    expect((await selectBackend('wasm')).name).toBe('wasm');
  });

  it('resumes after SIGKILL, SIGINT and SIGTERM to the uninterrupted weights, byte for byte', async () => {
    const r = spawnSync(process.execPath, [BIN, ...ARGS, '--out', ref], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const refWeights = readFileSync(join(ref, 'checkpoints/last/weights.bin'));
    const refOptim = readFileSync(join(ref, 'checkpoints/last/optimizer.bin'));
    const refMetrics = readFileSync(join(ref, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));

    const rand = mulberry32(Number(process.env.NETC_KILL_SEED ?? 20240611));
    const log: string[] = [];
    let run = 0;
    let dir = join(root, `run${run}`);
    let landed = 0;
    let finishedRuns = 0;
    let mid = 0;
    for (let attempt = 0; attempt < 40 && landed < PLAN.length; attempt++) {
      const p = PLAN[landed]!;
      const delayMs = Math.floor(rand() * (p.fromSpawn ? 3000 : 1200));
      const fresh = !existsSync(join(dir, 'config.json'));
      const args = fresh ? [...ARGS, '--out', dir] : ['train', '--resume', dir];
      const o = await runAndKill(args, { sig: p.sig, delayMs, fromSpawn: p.fromSpawn ?? false });
      if (!o.killed) {
        // Finished before the signal: it must have finished right.
        expect(o.code, o.stderr).toBe(0);
        expect(readFileSync(join(dir, 'checkpoints/last/weights.bin')).equals(refWeights), `${log.join('\n')}\n${o.stderr}`).toBe(true);
        log.push(`${p.sig} after ${delayMs} ms: the run finished first (weights equal)`);
        finishedRuns++;
        dir = join(root, `run${++run}`);
        continue;
      }
      landed++;
      if (p.sig === 'SIGKILL') expect(o.signal).toBe('SIGKILL');
      // SIGINT/SIGTERM before the handlers exist (start-up) kill like SIGKILL; after, the run saves and exits 130/143.
      else if (o.signal == null) expect(o.code, o.stderr).toBe(p.sig === 'SIGINT' ? 130 : 143);
      const at = existsSync(join(dir, 'config.json')) ? await checkRunDir(dir) : null;
      if (at?.includes('mid-epoch')) mid++;
      log.push(
        `${p.sig} after ${delayMs} ms${p.fromSpawn ? ' from start' : ''} (${fresh ? 'fresh' : 'resumed'}): ${at == null ? 'no checkpoint yet' : `last checkpoint at ${at}, loaded`}`,
      );
    }
    expect(landed).toBe(PLAN.length);
    const fin = await runAndKill(existsSync(join(dir, 'config.json')) ? ['train', '--resume', dir] : [...ARGS, '--out', dir], null);
    expect(fin.code, fin.stderr).toBe(0);
    console.log(
      `kill/resume: ${landed} signals landed, ${mid} mid-epoch checkpoints, ${finishedRuns} runs finished before their signal\n  ` + log.join('\n  '),
    );

    // Exactly the uninterrupted run's weights and optimizer state, and the same metrics.
    expect(readFileSync(join(dir, 'checkpoints/last/weights.bin')).equals(refWeights)).toBe(true);
    expect(readFileSync(join(dir, 'checkpoints/last/optimizer.bin')).equals(refOptim)).toBe(true);
    const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((x) => x.epoch)).toEqual([1, 2, 3, 4]);
    expect(rows.map((x) => [x.trainLoss, x.trainAccuracy, x.valLoss, x.valAccuracy, x.lr])).toEqual(
      refMetrics.map((x) => [x.trainLoss, x.trainAccuracy, x.valLoss, x.valAccuracy, x.lr]),
    );
    expect(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')).testAccuracy).toBe(
      JSON.parse(readFileSync(join(ref, 'result.json'), 'utf8')).testAccuracy,
    );
    // Nothing temporary is left behind once the run is done.
    const leftovers = (d: string): string[] =>
      readdirSync(d).flatMap((e) => (/\.(tmp|old)-\d+$/.test(e) ? [join(d, e)] : statSync(join(d, e)).isDirectory() ? leftovers(join(d, e)) : []));
    expect(leftovers(root)).toEqual([]);
  }, 240_000);
});
