/**
 * The run directory's write protocol, state by state: whatever moment a process dies at, what is on
 * disk is either the old complete file/checkpoint or the new one, and the next start tidies up.
 * The kill test (kill-resume.test.ts) lands at random moments; this one builds each in-between
 * state of a checkpoint replacement by hand, so every one of them is covered every time.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { makeOptim } from '../../src/train/optim.js';
import {
  cleanRunDir,
  createRunDir,
  findCheckpoint,
  loadCheckpoint,
  RunDirError,
  saveCheckpoint,
  writeFileAtomic,
  writeMetrics,
} from '../../src/train/rundir.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'netc-rundir-'));

beforeAll(async () => {
  await selectBackend('wasm');
});

async function savedRun(): Promise<{ dir: string; weights: Float32Array }> {
  const g = compileFile('test/train/fixtures/tiny.net').graphs[0]!;
  const { model } = lowerGraph(g, { seed: 1 });
  const dir = tmp();
  mkdirSync(join(dir, 'checkpoints'));
  const opt = makeOptim({ optimizer: 'adam', lr: 0.01, momentum: 0.9, weightDecay: 0 });
  await saveCheckpoint(dir, 'last', model, opt.tf, { epoch: 1, bestValAccuracy: 0.5, optimizer: 'adam' });
  return { dir, weights: model.getWeights()[0]!.dataSync() as Float32Array };
}

describe('atomic files', () => {
  it('writeFileAtomic replaces whole and leaves no temporary file', () => {
    const d = tmp();
    writeFileAtomic(join(d, 'a.json'), '{"v":1}');
    writeFileAtomic(join(d, 'a.json'), '{"v":2}');
    expect(readFileSync(join(d, 'a.json'), 'utf8')).toBe('{"v":2}');
    expect(readdirSync(d)).toEqual(['a.json']);
  });
  it('metrics.jsonl and metrics.csv are rewritten whole from the history', () => {
    const d = tmp();
    const row = { epoch: 1, trainLoss: 1, trainAccuracy: 0.5, valLoss: null, valAccuracy: null, lr: 0.1, imagesPerSecond: 10, seconds: 1 };
    writeMetrics(d, [row, { ...row, epoch: 2 }]);
    writeMetrics(d, [row]); // a resume from epoch 1 drops the row of the epoch it will redo
    expect(readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(readFileSync(join(d, 'metrics.csv'), 'utf8')).toBe(
      'epoch,trainLoss,trainAccuracy,valLoss,valAccuracy,lr,imagesPerSecond,seconds\n1,1,0.5,,,0.1,10,1\n',
    );
    expect(readdirSync(d).sort()).toEqual(['metrics.csv', 'metrics.jsonl']);
  });
});

describe('run directory creation', () => {
  it('appears whole with its config, removes an unfinished one, and refuses to overwrite a run', () => {
    const root = tmp();
    mkdirSync(join(root, 'r.tmp-99999', 'checkpoints'), { recursive: true }); // a creation that was killed
    createRunDir(join(root, 'r'), '{"seed":0}');
    expect(readdirSync(root)).toEqual(['r']);
    expect(readdirSync(join(root, 'r')).sort()).toEqual(['checkpoints', 'config.json']);
    expect(() => createRunDir(join(root, 'r'), '{}')).toThrow(RunDirError);
    expect(() => createRunDir(join(root, 'r'), '{}')).toThrow(/already a run directory; continue it with --resume/);
    mkdirSync(join(root, 'other'));
    writeFileSync(join(root, 'other', 'notes.txt'), 'mine');
    expect(() => createRunDir(join(root, 'other'), '{}')).toThrow(/folder is not empty \(notes\.txt\)/);
    mkdirSync(join(root, 'empty'));
    createRunDir(join(root, 'empty'), '{}');
    expect(existsSync(join(root, 'empty', 'config.json'))).toBe(true);
  });
});

describe('checkpoint replacement, each moment a kill can land', () => {
  it('a new checkpoint replaces the old one and leaves nothing else', async () => {
    const { dir } = await savedRun();
    expect(readdirSync(join(dir, 'checkpoints'))).toEqual(['last']);
    expect(readdirSync(join(dir, 'checkpoints', 'last')).sort()).toEqual(['model.json', 'optimizer.bin', 'optimizer.json', 'state.json', 'weights.bin']);
    const st = JSON.parse(readFileSync(join(dir, 'checkpoints/last/state.json'), 'utf8'));
    expect(st.bytes.weights).toBe(readFileSync(join(dir, 'checkpoints/last/weights.bin')).byteLength);
    expect(typeof st.optimizerScalars.accBeta1).toBe('number');
  });

  it('killed while writing the new one: last.tmp-PID is ignored, then removed', async () => {
    const { dir, weights } = await savedRun();
    const ck = join(dir, 'checkpoints');
    mkdirSync(join(ck, 'last.tmp-4242'));
    writeFileSync(join(ck, 'last.tmp-4242', 'model.json'), '{"half'); // half-written
    expect(findCheckpoint(dir, 'last')).toBe(join(ck, 'last'));
    expect((await loadCheckpoint(dir, 'last')).model.getWeights()[0]!.dataSync()).toEqual(weights);
    expect(cleanRunDir(dir)).toEqual([`removed ${join(ck, 'last.tmp-4242')} (left by an interrupted write)`]);
    expect(readdirSync(ck)).toEqual(['last']);
  });

  it('killed between the two renames: last is absent, last.old-PID is found, and renamed back', async () => {
    const { dir, weights } = await savedRun();
    const ck = join(dir, 'checkpoints');
    cpSync(join(ck, 'last'), join(ck, 'last.tmp-4242'), { recursive: true });
    renameSync(join(ck, 'last'), join(ck, 'last.old-4242'));
    expect(findCheckpoint(dir, 'last')).toBe(join(ck, 'last.old-4242'));
    expect((await loadCheckpoint(dir, 'last')).model.getWeights()[0]!.dataSync()).toEqual(weights);
    const done = cleanRunDir(dir);
    expect(done).toContain(`restored ${join(ck, 'last')} from last.old-4242 (the process stopped while replacing it)`);
    expect(readdirSync(ck)).toEqual(['last']);
    expect((await loadCheckpoint(dir, 'last')).state.epoch).toBe(1);
  });

  it('killed after the second rename: the superseded last.old-PID is removed', async () => {
    const { dir } = await savedRun();
    const ck = join(dir, 'checkpoints');
    cpSync(join(ck, 'last'), join(ck, 'last.old-4242'), { recursive: true });
    expect(cleanRunDir(dir)).toEqual([`removed ${join(ck, 'last.old-4242')} (superseded checkpoint)`]);
    expect(readdirSync(ck)).toEqual(['last']);
  });

  it('a damaged checkpoint is an error naming the file, not a crash', async () => {
    const { dir } = await savedRun();
    const w = join(dir, 'checkpoints/last/weights.bin');
    truncateSync(w, 100);
    await expect(loadCheckpoint(dir, 'last')).rejects.toThrow(/weights\.bin: 100 bytes, but the checkpoint recorded \d+: the checkpoint is damaged/);
    writeFileSync(join(dir, 'checkpoints/last/state.json'), '{');
    await expect(loadCheckpoint(dir, 'last')).rejects.toThrow(/state\.json: not valid JSON .*the file is damaged/);
    await expect(loadCheckpoint(tmp(), 'last')).rejects.toThrow(/no checkpoint here/);
  });
});
