// Damaged checkpoints and full disks (issue 14, items 4 and 5): byte-level damage to every file of a
// checkpoint is refused naming the file and changes nothing; hand-edited state.json fields are checked
// against specs/state.schema.json; NaN weights are never loaded; a missing part is refused, not
// restarted over; a write that fails for lack of space leaves no temporary file and the old copy intact.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { makeOptim } from '../../src/train/optim.js';
import {
  checkpointProblem,
  createRunDir,
  loadCheckpoint,
  readMetrics,
  resumableCheckpoint,
  RunDirError,
  runtimeSwitch,
  saveCheckpoint,
  writeFileAtomic,
  writeMetrics,
} from '../../src/train/rundir.js';
// @ts-expect-error plain JavaScript shared with bench/fuzz.mjs
import { damageBytes, rng } from './hostile.mjs';

const work = mkdtempSync(join(tmpdir(), 'netc-ckdamage-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const PARTS = ['model.json', 'weights.bin', 'optimizer.json', 'optimizer.bin', 'state.json'];
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const snapshot = (d: string) =>
  Object.fromEntries(
    readdirSync(d, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => [
        join(e.parentPath ?? (e as unknown as { path: string }).path, e.name),
        sha(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)),
      ]),
  );

beforeAll(async () => {
  await selectBackend('wasm');
});

function tinyModel() {
  const g = compileFile('test/train/fixtures/tiny.net').graphs[0]!;
  return lowerGraph(g, { seed: 1 }).model;
}

async function savedRun(): Promise<string> {
  const dir = join(work, `run${n++}`);
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  const opt = makeOptim({ optimizer: 'adam', lr: 0.01, momentum: 0.9, weightDecay: 0 });
  await saveCheckpoint(dir, 'last', tinyModel(), opt.tf, { epoch: 1, bestValAccuracy: 0.5, optimizer: 'adam', runtime: { backend: 'wasm', kernels: 'wasm' } });
  return dir;
}

async function refused(dir: string): Promise<string> {
  try {
    await loadCheckpoint(dir, 'last');
  } catch (e) {
    expect(e).toBeInstanceOf(RunDirError);
    return (e as Error).message;
  }
  throw new Error('the damaged checkpoint loaded');
}

describe('byte-level damage to each file of a checkpoint', () => {
  it('the intact checkpoint loads', async () => {
    const dir = await savedRun();
    const ck = await loadCheckpoint(dir, 'last');
    expect(ck.state.epoch).toBe(1);
  });
  // 12 seeded damages per file: single bit flips, runs of random bytes, sign bits of float32 weights.
  for (const part of PARTS) {
    it(`${part}: 12 random damages, each refused naming ${part}, nothing on disk changed`, async () => {
      const dir = await savedRun();
      const file = join(dir, 'checkpoints/last', part);
      const intact = readFileSync(file);
      const random = rng(part.length * 7919);
      for (let i = 0; i < 12; i++) {
        const damaged = damageBytes(intact, random, i % 3);
        if (damaged.equals(intact)) continue;
        writeFileSync(file, damaged);
        const before = snapshot(dir);
        const message = await refused(dir);
        expect(message).toContain(part === 'state.json' ? 'state.json' : file);
        expect(message).not.toMatch(/\n\s+at /);
        expect(snapshot(dir)).toEqual(before);
      }
    });
  }
});

describe('state.json fields read back are validated', () => {
  const edit = async (change: (s: Record<string, unknown>) => void, reseal: boolean) => {
    const dir = await savedRun();
    const file = join(dir, 'checkpoints/last/state.json');
    const s = JSON.parse(readFileSync(file, 'utf8'));
    change(s);
    if (reseal) {
      // As if written by a tool that knows the checksum rule: the schema still stands in the way.
      delete s.checksum;
      s.checksum = createHash('sha256').update(JSON.stringify(s)).digest('hex');
    }
    writeFileSync(file, JSON.stringify(s));
    return refused(dir);
  };
  it('epoch -5 and epoch "two" break the schema; a plausible edit (epoch 7) breaks the checksum', async () => {
    expect(
      await edit((s) => {
        s.epoch = 7;
      }, false),
    ).toMatch(/state\.json: its SHA-256 is not the one it recorded/);
    expect(
      await edit((s) => {
        s.epoch = -5;
      }, false),
    ).toMatch(/state\.json: `epoch` must be >= 0/);
    expect(
      await edit((s) => {
        s.epoch = -5;
      }, true),
    ).toMatch(/state\.json: `epoch` must be >= 0 \(specs\/state\.schema\.json\)/);
    expect(
      await edit((s) => {
        s.epoch = 'two';
      }, true),
    ).toMatch(/state\.json: `epoch` must be integer/);
    expect(
      await edit((s) => {
        s.optimizer = 'lbfgs';
      }, true),
    ).toMatch(/state\.json: `optimizer` must be equal to one of the allowed values/);
    expect(
      await edit((s) => {
        s.step = 3;
      }, true),
    ).toMatch(/step 3 without the epoch's running sums/);
    expect(
      await edit((s) => {
        s.surprise = 1;
      }, true),
    ).toMatch(/unknown field `surprise`/);
    expect(
      await edit((s) => {
        (s.checksums as Record<string, string>)['weights.bin'] = 'x';
      }, true),
    ).toMatch(/`checksums\.weights\.bin` must match pattern/);
  });
});

describe('NaN weights and missing parts', () => {
  it('a damaged checkpoint is not called good: checkpointProblem names the file', async () => {
    const dir = await savedRun();
    expect(checkpointProblem(join(dir, 'checkpoints/last'))).toBeNull();
    const w = join(dir, 'checkpoints/last/weights.bin');
    const b = readFileSync(w);
    b[b.length - 1]! ^= 0x80;
    writeFileSync(w, b);
    expect(checkpointProblem(join(dir, 'checkpoints/last'))).toMatch(/weights\.bin: its SHA-256 is not the one state\.json recorded/);
  });
  it('a checkpoint of NaN weights (checksums right) is refused, never called good', async () => {
    const dir = join(work, `nan${n++}`);
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    const model = tinyModel();
    model.setWeights(model.getWeights().map((w, i) => (i === 0 ? tf.fill(w.shape, NaN) : w)));
    const opt = makeOptim({ optimizer: 'sgd', lr: 0.01, momentum: 0, weightDecay: 0 });
    await saveCheckpoint(dir, 'last', model, opt.tf, { epoch: 1, bestValAccuracy: 0.5, optimizer: 'sgd' });
    expect(await refused(dir)).toMatch(/weights\.bin: weight .* holds NaN or infinite values: the checkpoint is damaged/);
  });
  it('a deleted weights.bin is refused on resume (not restarted over the run); so are results without a checkpoint', async () => {
    const dir = await savedRun();
    writeMetrics(dir, [{ epoch: 1, trainLoss: 1, trainAccuracy: 0.5, valLoss: null, valAccuracy: null, lr: 0.1, imagesPerSecond: 10, seconds: 1 }]);
    rmSync(join(dir, 'checkpoints/last/weights.bin'));
    const before = snapshot(dir);
    expect(() => resumableCheckpoint(dir)).toThrow(
      /checkpoints\/last: the checkpoint is incomplete \(weights\.bin missing\); not resuming, and not starting the run again/,
    );
    expect(await refused(dir)).toMatch(/incomplete \(weights\.bin missing\)/);
    rmSync(join(dir, 'checkpoints/last'), { recursive: true });
    expect(() => resumableCheckpoint(dir)).toThrow(/has metrics\.jsonl but no checkpoints\/last; not starting the run again/);
    rmSync(join(dir, 'metrics.jsonl'));
    rmSync(join(dir, 'metrics.csv'));
    expect(resumableCheckpoint(dir)).toBeNull(); // stopped before its first checkpoint: starts over
    expect(Object.keys(before).length).toBeGreaterThan(0);
  });
  it('metrics.jsonl read back (runs without history in state.json): each line validated', () => {
    const dir = join(work, `metrics${n++}`);
    mkdirSync(dir);
    const row = { epoch: 1, trainLoss: 1, trainAccuracy: 0.5, valLoss: null, valAccuracy: null, lr: 0.1, imagesPerSecond: 10, seconds: 1 };
    writeFileSync(join(dir, 'metrics.jsonl'), `${JSON.stringify(row)}\n${JSON.stringify({ ...row, epoch: -4 })}\n`);
    expect(() => readMetrics(dir)).toThrow(/metrics\.jsonl: line 2: `epoch` must be >= 1/);
    writeFileSync(join(dir, 'metrics.jsonl'), `${JSON.stringify(row)}\n{"epoch": 2,\n`);
    expect(() => readMetrics(dir)).toThrow(/metrics\.jsonl: line 2 is not valid JSON/);
  });
  it('a resume on other kernels is warned about, the same kernels are not', () => {
    expect(runtimeSwitch({ backend: 'wasm', kernels: 'wasm' }, { backend: 'wasm', kernels: 'wasm + native oneDNN convolutions' })).toBe(
      "warning: this run was trained so far with wasm and now continues with wasm + native oneDNN convolutions: its numbers will differ from an uninterrupted run's (resume with --backend wasm and NETC_NATIVE=0 to keep the same kernels)",
    );
    expect(runtimeSwitch({ backend: 'wasm', kernels: 'wasm' }, { backend: 'wasm', kernels: 'wasm' })).toBeNull();
  });
});

/** A 256 KiB tmpfs where root may mount one (CI runs as root); the reason it is not, otherwise. */
function smallDisk(): { dir: string } | { skip: string } {
  if (process.platform !== 'linux') return { skip: 'not Linux' };
  if (process.getuid?.() !== 0) return { skip: 'not root: cannot mount a tmpfs' };
  const dir = mkdtempSync(join(tmpdir(), 'netc-enospc-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `mount -t tmpfs failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}` };
  }
}

const disk = smallDisk();
afterAll(() => {
  if ('dir' in disk) {
    execFileSync('umount', [disk.dir]);
    rmSync(disk.dir, { recursive: true, force: true });
  }
});

describe.skipIf('skip' in disk)(`a full disk (ENOSPC on a 256 KiB tmpfs)${'skip' in disk ? `: skipped, ${disk.skip}` : ''}`, () => {
  const root = () => (disk as { dir: string }).dir;
  it('a checkpoint write fails cleanly: exit-1 error naming ENOSPC, no .tmp- left, the previous checkpoint intact', async () => {
    const dir = join(root(), 'run');
    createRunDir(dir, '{}');
    const opt = makeOptim({ optimizer: 'adam', lr: 0.01, momentum: 0.9, weightDecay: 0 });
    const model = tinyModel();
    await saveCheckpoint(dir, 'last', model, opt.tf, { epoch: 1, bestValAccuracy: 0.5, optimizer: 'adam' });
    const before = snapshot(dir);
    // Fill the disk, leaving less than a checkpoint.
    try {
      writeFileSync(join(root(), 'filler'), Buffer.alloc(256 * 1024));
    } catch {
      // ENOSPC: the filler took what there was
    }
    await expect(saveCheckpoint(dir, 'last', model, opt.tf, { epoch: 2, bestValAccuracy: 0.5, optimizer: 'adam' })).rejects.toThrow(
      /cannot write .*checkpoints\/last.*: no space left on device \(ENOSPC\); the partial copy was removed and the previous checkpoint .* is intact/,
    );
    expect(readdirSync(join(dir, 'checkpoints'))).toEqual(['last']);
    expect(snapshot(dir)).toEqual(before);
    expect((await loadCheckpoint(dir, 'last')).state.epoch).toBe(1);
    expect(() => writeFileAtomic(join(dir, 'metrics.jsonl'), 'x'.repeat(300 * 1024))).toThrow(/metrics\.jsonl: no space left on device \(ENOSPC\)/);
    expect(readdirSync(dir).filter((e) => e.includes('.tmp-'))).toEqual([]);
    expect(() => createRunDir(join(root(), 'run2'), 'x'.repeat(300 * 1024))).toThrow(
      /run2: no space left on device \(ENOSPC\); the partial copy was removed and no run directory was created/,
    );
    expect(existsSync(join(root(), 'run2'))).toBe(false);
    expect(readdirSync(root()).filter((e) => e.includes('.tmp-'))).toEqual([]);
  });
});
