// Hand-edited or damaged run-directory files (issue 14, items 5 and 6): eval, predict, cam and export
// read config.json, result.json and the stored normalisation through openRun/runNormalization, which must
// refuse each with a RunError naming the file and field (exit 1), never a crash or a silently wrong run.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { openRun, RunError, runNormalization } from '../../src/post/run.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { makeOptim } from '../../src/train/optim.js';
import { saveCheckpoint } from '../../src/train/rundir.js';
import { runConfig } from '../post/helpers.js';

const work = mkdtempSync(join(tmpdir(), 'netc-runfiles-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const built = existsSync('dist/cli/main.js');
let base = '';
let n = 0;

beforeAll(async () => {
  await selectBackend('wasm');
  // A finished run as `netc train` leaves it: config.json with the normalisation, a checkpoint, result.json.
  base = join(work, 'base');
  mkdirSync(join(base, 'checkpoints'), { recursive: true });
  const graph = compileFile('test/train/fixtures/tiny.net').graphs[0]!;
  const cfg = runConfig({ net: graph.net, file: 'test/train/fixtures/tiny.net', args: graph.args as Record<string, number>, out: base });
  writeFileSync(join(base, 'config.json'), JSON.stringify({ ...cfg, normalization: { mean: [0.28], std: [0.35] } }, null, 2));
  const opt = makeOptim(cfg);
  for (const name of ['best', 'last'])
    await saveCheckpoint(base, name, lowerGraph(graph, { seed: 1 }).model, opt.tf, { epoch: 1, bestValAccuracy: 0.5, optimizer: cfg.optimizer });
  const result = { testAccuracy: 0.5, perClassAccuracy: Object.fromEntries([...'0123456789'].map((c) => [c, 0.5])), confusionMatrix: [[1]], backend: 'wasm' };
  writeFileSync(join(base, 'result.json'), JSON.stringify(result));
});

/** A copy of the base run with one file replaced. */
function variant(file: string, text: string): string {
  const dir = join(work, `v${n++}`);
  cpSync(base, dir, { recursive: true });
  writeFileSync(join(dir, file), text);
  return dir;
}

async function refused(dir: string): Promise<string> {
  try {
    const run = await openRun(dir, 'best');
    await runNormalization(run);
  } catch (e) {
    expect(e).toBeInstanceOf(RunError);
    return (e as Error).message;
  }
  throw new Error('the damaged run opened');
}

const config = () => JSON.parse(readFileSync(join(base, 'config.json'), 'utf8'));

describe('config.json, result.json and the normalisation are validated', () => {
  it('the intact run opens with its stored normalisation', async () => {
    const run = await openRun(base, 'best');
    expect(await runNormalization(run)).toEqual({ mean: [0.28], std: [0.35] });
  });
  it('config.json: null, "data": 5, "batchSize": 0, not JSON', async () => {
    expect(await refused(variant('config.json', 'null'))).toMatch(/config\.json: the document must be object \(specs\/run-config\.schema\.json\)/);
    expect(await refused(variant('config.json', JSON.stringify({ ...config(), data: 5 })))).toMatch(/config\.json: `data` must be string/);
    expect(await refused(variant('config.json', JSON.stringify({ ...config(), batchSize: 0 })))).toMatch(/config\.json: `batchSize` must be >= 1/);
    expect(await refused(variant('config.json', '{"net": '))).toMatch(/config\.json: not valid JSON/);
  });
  it('result.json: corrupt, null, a wrong field', async () => {
    expect(await refused(variant('result.json', '{'))).toMatch(/result\.json: not valid JSON/);
    expect(await refused(variant('result.json', 'null'))).toMatch(/result\.json: the document must be object/);
    expect(await refused(variant('result.json', '{"testAccuracy": "high"}'))).toMatch(
      /result\.json: the document lacks `perClassAccuracy`|`testAccuracy` must be/,
    );
  });
  it('normalisation: emptied, non-numeric, zero std, or one value per channel too many', async () => {
    const norm = (normalization: unknown) => refused(variant('config.json', JSON.stringify({ ...config(), normalization })));
    expect(await norm({ mean: [], std: [] })).toMatch(/`normalization\.mean` must NOT have fewer than 1 items/);
    expect(await norm({ mean: ['x'], std: [0.3] })).toMatch(/`normalization\.mean\.0` must be number/);
    expect(await norm({ mean: [0.2], std: [0] })).toMatch(/`normalization\.std\.0` must be > 0/);
    expect(await norm({ mean: [0.1, 0.2], std: [0.3, 0.3] })).toMatch(/normalization\.mean holds 2 values, but the model takes 1 channel/);
  });
});

describe.skipIf(!built)('through the CLI', () => {
  it('eval on a run whose config.json is null: exit 1, one line naming the file, no stack trace', () => {
    const dir = variant('config.json', 'null');
    const r = spawnSync(process.execPath, ['bin/netc.js', 'eval', 'test/train/fixtures/tiny.net', '--weights', dir], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/netc: .*config\.json: the document must be object/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
  it('train --resume on a damaged or incomplete checkpoint: exit 1 naming the file, the run directory unchanged', () => {
    const snapshot = (d: string) =>
      readdirSync(d, { recursive: true })
        .map(String)
        .sort()
        .map((f) => [f, statSync(join(d, f)).isFile() ? readFileSync(join(d, f)).toString('base64') : 'dir']);
    const flipped = join(work, `v${n++}`);
    cpSync(base, flipped, { recursive: true });
    const w = join(flipped, 'checkpoints/last/weights.bin');
    const b = readFileSync(w);
    b[100]! ^= 0x80;
    writeFileSync(w, b);
    const missing = join(work, `v${n++}`);
    cpSync(base, missing, { recursive: true });
    rmSync(join(missing, 'checkpoints/last/weights.bin'));
    for (const [dir, message] of [
      [flipped, /weights\.bin: its SHA-256 is not the one state\.json recorded: the checkpoint is damaged/],
      [missing, /checkpoints\/last: the checkpoint is incomplete \(weights\.bin missing\)/],
    ] as const) {
      const before = snapshot(dir);
      const r = spawnSync(process.execPath, ['bin/netc.js', 'train', '--resume', dir, '--epochs', '2'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(snapshot(dir)).toEqual(before);
    }
  });
  it('train on a single-class image folder: exit 1 naming the folder, no run directory left behind', () => {
    const p = new PNG({ width: 28, height: 28 });
    const png = PNG.sync.write(p);
    const data = join(work, 'oneclass');
    mkdirSync(join(data, 'cat'), { recursive: true });
    for (const i of [0, 1, 2]) writeFileSync(join(data, 'cat', `${i}.png`), png);
    const out = join(work, 'oneclass-run');
    const r = spawnSync(process.execPath, ['bin/netc.js', 'train', 'test/train/fixtures/tiny.net', '--data', `imagefolder:${data}`, '--out', out], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/only one class folder \('cat'\); classification needs at least 2/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });
});
