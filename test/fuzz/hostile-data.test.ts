// Data files whose headers lie (issue 14, item 3): declared image sizes are checked before decoding, a
// gzipped IDX file may not inflate past what its header declares, and a special file is read with a cap.
// Each input is generated here (bench/fuzz.mjs makes more of the same classes); all must be DataErrors
// naming the file, raised in well under a second and without allocating what the header claims.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, loadDataset } from '../../src/train/data/index.js';
import { MAX_DATA_FILE_BYTES, MAX_IMAGE_PIXELS } from '../../src/train/data/dataset.js';
// @ts-expect-error plain JavaScript shared with bench/fuzz.mjs
import { gzipBomb, idxHeader, jpegWithSize, pngInterlacedBomb, pngWithSize } from './hostile.mjs';

const work = mkdtempSync(join(tmpdir(), 'netc-hostile-data-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

function folder(files: Record<string, Buffer>): string {
  const d = join(work, `f${n++}`);
  for (const [f, b] of Object.entries(files)) {
    mkdirSync(join(d, f, '..'), { recursive: true });
    writeFileSync(join(d, f), b);
  }
  return d;
}

const good = (() => {
  const p = new PNG({ width: 4, height: 4 });
  p.data.fill(200);
  return PNG.sync.write(p);
})();

async function dataError(spec: string, dataDir?: string, rssBound = 300 * 1024 * 1024): Promise<string> {
  const before = process.memoryUsage().rss;
  try {
    await loadDataset(spec, { dataDir, download: false });
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    // Nothing near what the lying header claims was allocated (those claims are gigabytes).
    expect(process.memoryUsage().rss - before).toBeLessThan(rssBound);
    return (e as Error).message;
  }
  throw new Error('expected a DataError');
}

describe('images whose header declares more than they hold', () => {
  it('a 20000x20000 PNG header on a few bytes is refused by its header, naming the file', async () => {
    const bomb = pngWithSize(good, 20000, 20000);
    expect(bomb.length).toBeLessThan(200);
    const d = folder({ 'cat/a.png': good, 'dog/bomb.png': bomb });
    expect(await dataError(`imagefolder:${d}`)).toMatch(/dog\/bomb\.png: the image declares 20000x20000 pixels, more than the limit of 16,777,216/);
  });
  it('a PNG just over the pixel bound is refused, one at the bound is not (a real image is decoded)', async () => {
    const side = Math.sqrt(MAX_IMAGE_PIXELS);
    const over = folder({ 'cat/a.png': good, 'dog/a.png': pngWithSize(good, side + 1, side) });
    expect(await dataError(`imagefolder:${over}`)).toMatch(/dog\/a\.png: the image declares 4097x4096 pixels/);
  });
  it('a JPEG whose frame header declares 65535x65535 is refused before decoding', async () => {
    const d = folder({ 'cat/a.png': good, 'dog/a.jpg': jpegWithSize(65535, 65535) });
    expect(await dataError(`imagefolder:${d}`)).toMatch(/dog\/a\.jpg: the image declares 65535x65535 pixels/);
  });
  it('an interlaced 64x64 PNG whose data inflates to 64 MiB is refused (pngjs would inflate it unbounded)', async () => {
    const bomb = pngInterlacedBomb(64, 64, 64 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(200_000);
    const d = folder({ 'cat/a.png': good, 'dog/a.png': bomb });
    expect(await dataError(`imagefolder:${d}`)).toMatch(/dog\/a\.png: its compressed image data inflates to more than a 64x64 image can hold/);
  });
  it('a single class folder is a DataError before any training (not a oneHot failure)', async () => {
    const d = folder({ 'cat/a.png': good, 'cat/b.png': good });
    expect(await dataError(`imagefolder:${d}`)).toMatch(/only one class folder \('cat'\); classification needs at least 2/);
    const t = folder({ 'train/cat/a.png': good, 'test/cat/a.png': good });
    expect(await dataError(`imagefolder:${t}`)).toMatch(/train: only one class folder/);
  });
});

/** A complete little MNIST folder whose train image file is `images`. */
function mnist(images: Buffer, name = 'train-images-idx3-ubyte.gz'): string {
  const d = join(work, `m${n++}`);
  mkdirSync(d);
  writeFileSync(join(d, name), images);
  writeFileSync(join(d, 'train-labels-idx1-ubyte'), Buffer.concat([idxHeader([2], 1), Buffer.from([0, 1])]));
  writeFileSync(join(d, 't10k-images-idx3-ubyte'), Buffer.concat([idxHeader([1, 2, 2]), Buffer.alloc(4)]));
  writeFileSync(join(d, 't10k-labels-idx1-ubyte'), Buffer.concat([idxHeader([1], 1), Buffer.from([1])]));
  return d;
}

describe('gzipped IDX files whose stream says more than the header', () => {
  it('the fixture itself loads', async () => {
    const ds = await loadDataset('mnist', { dataDir: mnist(gzipSync(Buffer.concat([idxHeader([2, 2, 2]), Buffer.alloc(8)]))), download: false });
    expect(ds.train.count).toBe(2);
  });
  it("a header of 2x2x2 followed by 512 MiB of zeros stops at the header's size", async () => {
    const bomb = gzipBomb(idxHeader([2, 2, 2]), 512 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    expect(await dataError('mnist', mnist(bomb))).toMatch(/train-images-idx3-ubyte\.gz: inflates to more than the 24 bytes its IDX header declares/);
  });
  it('a header declaring 60000x60000x60000 is refused before inflating the rest', async () => {
    const bomb = gzipBomb(idxHeader([60000, 60000, 60000]), 64 * 1024 * 1024);
    expect(await dataError('mnist', mnist(bomb))).toMatch(
      /train-images-idx3-ubyte\.gz: its IDX header declares 216,000,000,000,016 bytes, more than the limit/,
    );
  });
  it('a gzip stream that is not IDX is refused from its first bytes', async () => {
    const bomb = gzipBomb(Buffer.from('PK\x03\x04'), 64 * 1024 * 1024);
    expect(await dataError('mnist', mnist(bomb))).toMatch(/not an IDX file: bad magic number/);
  });
  it('a symlink to /proc/self/pagemap (stat size 0, endless) is read with a cap', async () => {
    const d = mnist(Buffer.alloc(0));
    rmSync(join(d, 'train-images-idx3-ubyte.gz'));
    symlinkSync('/proc/self/pagemap', join(d, 'train-images-idx3-ubyte'));
    // pagemap is 8 bytes per page of the address space (terabytes, stat says 0): read only up to the cap,
    // where the kernel may refuse an unaligned read (EINVAL); either way bounded, and naming the file.
    const message = await dataError('mnist', d, MAX_DATA_FILE_BYTES + 64 * 1024 * 1024);
    expect(message).toMatch(/train-images-idx3-ubyte: (larger than the limit of 256 MiB for one data file|cannot read: EINVAL)/);
  });
});
