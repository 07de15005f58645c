import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { parseCifar } from '../../src/train/data/cifar.js';
import { parseIdx, readIdx } from '../../src/train/data/idx.js';
import { loadDataset } from '../../src/train/data/index.js';

function idx(dims: number[], data: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

const tmp = () => mkdtempSync(join(tmpdir(), 'netc-data-'));

describe('IDX', () => {
  it('reads plain and gzipped files alike', () => {
    const d = tmp();
    const raw = idx([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    writeFileSync(join(d, 'a'), raw);
    writeFileSync(join(d, 'b.gz'), gzipSync(raw));
    for (const f of ['a', 'b.gz']) {
      const r = readIdx(join(d, f));
      expect(r.dims).toEqual([2, 2, 2]);
      expect([...r.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
  });
  it('names the file and the shortfall when truncated', () => {
    expect(() => parseIdx(idx([3, 2, 2], [1, 2, 3, 4, 5]), 'imgs.idx')).toThrow(
      /imgs\.idx: truncated: header declares 3x2x2 \(12 bytes of data\) but only 5 bytes follow/,
    );
  });
  it('rejects a wrong magic number', () => {
    expect(() => parseIdx(Buffer.from([1, 2, 8, 1, 0, 0, 0, 0]), 'x.idx')).toThrow(/x\.idx: not an IDX file: bad magic/);
  });
  it('reports corrupt gzip with the file name', () => {
    const d = tmp();
    writeFileSync(join(d, 'c.gz'), gzipSync(idx([1], [1])).subarray(0, 12));
    expect(() => readIdx(join(d, 'c.gz'))).toThrow(/c\.gz: corrupt gzip data/);
  });
});

describe('CIFAR binary', () => {
  it('reorders planar records to channels-last and reads labels', () => {
    const rec = Buffer.alloc(2 * 3073);
    rec[0] = 3;
    rec[1 + 0] = 10; // R of pixel 0
    rec[1 + 1024] = 20; // G of pixel 0
    rec[1 + 2048] = 30; // B of pixel 0
    rec[3073] = 9;
    rec[3073 + 1 + 1023 + 2048] = 99; // B of the last pixel of record 1
    const s = parseCifar(rec, 'data_batch_1.bin', 1, 10);
    expect(s.count).toBe(2);
    expect([...s.labels]).toEqual([3, 9]);
    expect([...s.images.subarray(0, 3)]).toEqual([10, 20, 30]);
    expect(s.images[2 * 3072 - 1]).toBe(99);
  });
  it('uses the fine label of CIFAR-100 records', () => {
    const rec = Buffer.alloc(3074);
    rec[0] = 4;
    rec[1] = 77;
    expect([...parseCifar(rec, 'train.bin', 2, 100).labels]).toEqual([77]);
  });
  it('explains a truncated file', () => {
    expect(() => parseCifar(Buffer.alloc(3073 + 100), 'test_batch.bin', 1, 10)).toThrow(
      /test_batch\.bin: size 3173 is not a multiple of the 3073-byte CIFAR record \(1 whole records and 100 stray bytes\)/,
    );
  });
  it('loads a cifar10 folder through --data-dir', async () => {
    const d = tmp();
    for (const f of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
      const b = Buffer.alloc(3073);
      b[0] = f.startsWith('test') ? 1 : 2;
      writeFileSync(join(d, f), b);
    }
    const ds = await loadDataset('cifar10', { dataDir: d, download: false });
    expect(ds.train.count).toBe(5);
    expect(ds.test.count).toBe(1);
    expect(ds.shape).toEqual([3, 32, 32]);
    expect(ds.classes[2]).toBe('bird');
  });
});

describe('missing datasets', () => {
  it('says which files to put where when offline', async () => {
    const d = tmp();
    process.env.NETC_CACHE = join(d, 'cache');
    await expect(loadDataset('mnist', { dataDir: d, download: false })).rejects.toThrow(
      /dataset mnist not found[\s\S]*train-images-idx3-ubyte\.gz[\s\S]*t10k-labels-idx1-ubyte\.gz/,
    );
    await expect(loadDataset('cifar10', { dataDir: d, download: false })).rejects.toThrow(/data_batch_1\.bin[\s\S]*test_batch\.bin/);
    delete process.env.NETC_CACHE;
  });
  it('rejects an unknown dataset name', async () => {
    await expect(loadDataset('imagenet')).rejects.toThrow(/unknown dataset 'imagenet'/);
  });
});

describe('image folders', () => {
  it('decodes PNG and JPEG, one folder per class, resized to the net input', async () => {
    const d = tmp();
    const png = (v: number) => {
      const p = new PNG({ width: 4, height: 4 });
      p.data.fill(v);
      for (let i = 3; i < p.data.length; i += 4) p.data[i] = 255;
      return PNG.sync.write(p);
    };
    for (const [split, n] of [
      ['train', 2],
      ['test', 1],
    ] as const) {
      for (const cls of ['cat', 'dog']) {
        mkdirSync(join(d, split, cls), { recursive: true });
        for (let i = 0; i < n; i++) writeFileSync(join(d, split, cls, `${i}.png`), png(cls === 'cat' ? 200 : 50));
      }
    }
    const jpg = jpeg.encode({ width: 8, height: 8, data: Buffer.alloc(8 * 8 * 4, 128) }, 95).data;
    writeFileSync(join(d, 'train', 'dog', 'x.jpg'), jpg);
    const ds = await loadDataset(`imagefolder:${d}`, { inputShape: [3, 2, 2] });
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect(ds.train.count).toBe(5);
    expect(ds.test.count).toBe(2);
    expect(ds.train.images[0]).toBe(200);
    expect([...ds.train.labels]).toEqual([0, 0, 1, 1, 1]);
    expect(Math.abs(ds.train.images[4 * 12]! - 128)).toBeLessThan(4);
  });
  it('names an undecodable image', async () => {
    const d = tmp();
    for (const c of ['a', 'b']) {
      mkdirSync(join(d, c), { recursive: true });
      writeFileSync(join(d, c, 'bad.png'), 'not a png');
    }
    await expect(loadDataset(`imagefolder:${d}`)).rejects.toThrow(/bad\.png: cannot decode image/);
  });
});

describe('bundled sample', () => {
  it('is real Fashion-MNIST: 6000 train, 1000 test, all ten classes', async () => {
    const ds = await loadDataset('fashion-mnist-sample');
    expect(ds.train.count).toBe(6000);
    expect(ds.test.count).toBe(1000);
    expect(new Set(ds.test.labels).size).toBe(10);
  });
});
