/**
 * Broken dataset files: each a DataError naming the file and what is wrong, through the same
 * loader `netc train --data` uses; and through the CLI, nothing is left in the run directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, loadDataset } from '../../src/train/data/index.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'netc-baddata-'));
const built = existsSync('dist/cli/main.js');

function idx(dims: number[], data: ArrayLike<number>, magic = [0, 0, 8]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[0] = magic[0]!;
  head[1] = magic[1]!;
  head[2] = magic[2]!;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data as number[])]);
}

/** A complete little MNIST folder (4 train, 2 test images of 2x2); `change` breaks one file. */
function mnistDir(change: (d: string) => void = () => {}): string {
  const d = tmp();
  writeFileSync(join(d, 'train-images-idx3-ubyte'), idx([4, 2, 2], new Array(16).fill(7)));
  writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([4], [0, 1, 2, 9])));
  writeFileSync(join(d, 't10k-images-idx3-ubyte'), idx([2, 2, 2], new Array(8).fill(7)));
  writeFileSync(join(d, 't10k-labels-idx1-ubyte'), idx([2], [3, 4]));
  change(d);
  return d;
}

async function dataError(spec: string, dataDir?: string): Promise<string> {
  try {
    await loadDataset(spec, { dataDir, download: false });
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('expected a DataError');
}

function png(w: number, h: number): Buffer {
  const p = new PNG({ width: w, height: h });
  p.data.fill(255);
  return PNG.sync.write(p);
}

function folder(layout: Record<string, Buffer | 'dir'>): string {
  const d = tmp();
  for (const [f, v] of Object.entries(layout)) {
    const p = join(d, f);
    if (v === 'dir') mkdirSync(p, { recursive: true });
    else {
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, v);
    }
  }
  return d;
}

let cache = '';
beforeAll(() => {
  cache = process.env.NETC_CACHE ?? '';
  process.env.NETC_CACHE = join(tmp(), 'cache');
});
afterAll(() => {
  if (cache) process.env.NETC_CACHE = cache;
  else delete process.env.NETC_CACHE;
});

describe('IDX (MNIST, Fashion-MNIST)', () => {
  it('loads the intact folder (the fixture itself is sound)', async () => {
    const ds = await loadDataset('mnist', { dataDir: mnistDir(), download: false });
    expect(ds.train.count).toBe(4);
    expect(ds.shape).toEqual([1, 2, 2]);
  });
  it('truncated image file', async () => {
    const d = mnistDir((d) => writeFileSync(join(d, 'train-images-idx3-ubyte'), idx([4, 2, 2], new Array(10).fill(7))));
    expect(await dataError('mnist', d)).toMatch(/train-images-idx3-ubyte: truncated: header declares 4x2x2 \(16 bytes of data\) but only 10 bytes follow/);
  });
  it('truncated label file (gzipped)', async () => {
    const d = mnistDir((d) => writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([4], [0, 1]))));
    expect(await dataError('mnist', d)).toMatch(/train-labels-idx1-ubyte\.gz: truncated: header declares 4 \(4 bytes of data\) but only 2 bytes follow/);
  });
  it('truncated gzip stream', async () => {
    const d = mnistDir((d) => writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([4], [0, 1, 2, 3])).subarray(0, 15)));
    expect(await dataError('mnist', d)).toMatch(/train-labels-idx1-ubyte\.gz: corrupt gzip data/);
  });
  it('wrong magic number', async () => {
    const d = mnistDir((d) => writeFileSync(join(d, 't10k-images-idx3-ubyte'), idx([2, 2, 2], new Array(8).fill(7), [0x50, 0x4b, 8])));
    expect(await dataError('mnist', d)).toMatch(/t10k-images-idx3-ubyte: not an IDX file: bad magic number \(first bytes 80, 75, expected 0, 0\)/);
  });
  it('label count differs from image count', async () => {
    const d = mnistDir((d) => writeFileSync(join(d, 't10k-labels-idx1-ubyte'), idx([3], [1, 2, 3])));
    expect(await dataError('mnist', d)).toMatch(/t10k-images-idx3-ubyte has 2 images but .*t10k-labels-idx1-ubyte has 3 labels/);
  });
  it('a label out of range', async () => {
    const d = mnistDir((d) => writeFileSync(join(d, 't10k-labels-idx1-ubyte'), idx([2], [3, 10])));
    expect(await dataError('mnist', d)).toMatch(/t10k-labels-idx1-ubyte: label 1 is 10, but the dataset has 10 classes \(0\.\.9\)/);
  });
  it('empty file', async () => {
    const d = mnistDir((d) => writeFileSync(join(d, 'train-images-idx3-ubyte'), Buffer.alloc(0)));
    expect(await dataError('mnist', d)).toMatch(/train-images-idx3-ubyte: empty file \(expected IDX data\)/);
  });
  it('a file that is a folder', async () => {
    const e = mnistDir((d) => {
      rmSync(join(d, 't10k-images-idx3-ubyte'));
      mkdirSync(join(d, 't10k-images-idx3-ubyte'));
    });
    expect(await dataError('mnist', e)).toMatch(/t10k-images-idx3-ubyte: is a folder, not a data file/);
  });
  it('images and labels of a split in different image sizes', async () => {
    const d = mnistDir((d) => writeFileSync(join(d, 't10k-images-idx3-ubyte'), idx([2, 3, 3], new Array(18).fill(7))));
    expect(await dataError('mnist', d)).toMatch(/t10k-images-idx3-ubyte holds 3x3 images but .*train-images-idx3-ubyte holds 2x2 images/);
  });
});

const CIFAR = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
function cifarDir(change: (d: string) => void): string {
  const d = tmp();
  for (const f of CIFAR) writeFileSync(join(d, f), Buffer.alloc(3073));
  change(d);
  return d;
}

describe('CIFAR binary', () => {
  it('size not a multiple of the record', async () => {
    const d = cifarDir((d) => writeFileSync(join(d, 'data_batch_3.bin'), Buffer.alloc(2 * 3073 - 5)));
    expect(await dataError('cifar10', d)).toMatch(
      /data_batch_3\.bin: size 6141 is not a multiple of the 3073-byte CIFAR record \(1 whole records and 3068 stray bytes\)/,
    );
  });
  it('empty file', async () => {
    const d = cifarDir((d) => writeFileSync(join(d, 'test_batch.bin'), Buffer.alloc(0)));
    expect(await dataError('cifar10', d)).toMatch(/test_batch\.bin: empty file \(expected CIFAR-10 records of 3073 bytes\)/);
  });
  it('a label out of range', async () => {
    const d = cifarDir((d) => {
      const b = Buffer.alloc(2 * 3073);
      b[3073] = 12;
      writeFileSync(join(d, 'data_batch_5.bin'), b);
    });
    expect(await dataError('cifar10', d)).toMatch(/data_batch_5\.bin: record 1 has label 12, but CIFAR-10 has 10 classes/);
  });
  it('a file that is a folder', async () => {
    const d = cifarDir((d) => {
      rmSync(join(d, 'data_batch_2.bin'));
      mkdirSync(join(d, 'data_batch_2.bin'));
    });
    expect(await dataError('cifar10', d)).toMatch(/data_batch_2\.bin: is a folder, not a data file/);
  });
});

describe('image folders', () => {
  it('a corrupt PNG (truncated) and a corrupt JPEG', async () => {
    const good = png(4, 4);
    const d = folder({ 'cat/a.png': good, 'cat/b.png': good.subarray(0, 40), 'dog/a.png': good });
    expect(await dataError(`imagefolder:${d}`)).toMatch(/cat\/b\.png: cannot decode image/);
    const j = folder({ 'cat/a.png': good, 'dog/x.jpg': Buffer.from('\xff\xd8\xff garbage, not a jpeg') });
    expect(await dataError(`imagefolder:${j}`)).toMatch(/dog\/x\.jpg: cannot decode image/);
  });
  it('an empty image file', async () => {
    const d = folder({ 'cat/a.png': png(2, 2), 'dog/a.png': Buffer.alloc(0) });
    expect(await dataError(`imagefolder:${d}`)).toMatch(/dog\/a\.png: empty file \(expected a PNG image\)/);
  });
  it('a class folder with no images', async () => {
    const d = folder({ 'train/cat/a.png': png(2, 2), 'train/dog/readme.txt': Buffer.from('x') });
    expect(await dataError(`imagefolder:${d}`)).toMatch(/train\/dog: class folder 'dog' has no \.png or \.jpg images/);
  });
  it('an empty image folder, and one with empty class folders only', async () => {
    const d = folder({ 'notes.txt': Buffer.from('x') });
    expect(await dataError(`imagefolder:${d}`)).toMatch(/: no class folders \(expected .*\/<class>\/\*\.png/);
    const e = folder({ cat: 'dir', dog: 'dir' });
    expect(await dataError(`imagefolder:${e}`)).toMatch(/cat: class folder 'cat' has no \.png or \.jpg images/);
  });
  it('an image that is a folder, and an image folder that is a file', async () => {
    const d = folder({ 'cat/a.png': 'dir', 'dog/b.png': png(2, 2) });
    expect(await dataError(`imagefolder:${d}`)).toMatch(/cat\/a\.png: is a folder, not a data file/);
    const f = folder({ 'file.png': png(2, 2) });
    expect(await dataError(`imagefolder:${join(f, 'file.png')}`)).toMatch(/file\.png: is a file, not an image folder/);
  });
});

describe.skipIf(!built)('through the CLI', () => {
  it('a data error exits 1 naming the file, and leaves no run directory', () => {
    const d = folder({ 'cat/a.png': png(28, 28), 'dog/a.png': Buffer.from('garbage') });
    const out = join(tmp(), 'run');
    const r = spawnSync(process.execPath, ['bin/netc.js', 'train', 'test/train/fixtures/tiny.net', '--data', `imagefolder:${d}`, '--out', out], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/netc: .*dog\/a\.png: cannot decode image/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
  });
});
