/**
 * IDX files (MNIST, Fashion-MNIST), gzipped or not. Format: a 4-byte magic (0, 0, type, ndims),
 * ndims big-endian uint32 sizes, then the data. Only unsigned bytes (type 0x08) occur in these sets.
 */
import { gunzipSync } from 'node:zlib';
import { DataError, readDataFile } from './dataset.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export function readMaybeGzip(file: string): Buffer {
  const raw = readDataFile(file);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new DataError(`${file}: corrupt gzip data (${(e as Error).message}); the download may be incomplete`);
    }
  }
  return raw;
}

export function parseIdx(buf: Uint8Array, file: string): IdxArray {
  if (buf.length === 0) throw new DataError(`${file}: empty file (expected IDX data)`);
  if (buf.length < 4) throw new DataError(`${file}: not an IDX file: only ${buf.length} bytes`);
  if (buf[0] !== 0 || buf[1] !== 0) throw new DataError(`${file}: not an IDX file: bad magic number (first bytes ${buf[0]}, ${buf[1]}, expected 0, 0)`);
  if (buf[2] !== 0x08) throw new DataError(`${file}: IDX element type 0x${buf[2].toString(16)} is not supported (expected 0x08, unsigned bytes)`);
  const nd = buf[3];
  const header = 4 + 4 * nd;
  if (buf.length < header) throw new DataError(`${file}: truncated IDX header: ${nd} dimensions need ${header} bytes, file has ${buf.length}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  const have = buf.length - header;
  if (have < size) {
    throw new DataError(`${file}: truncated: header declares ${dims.join('x')} (${size} bytes of data) but only ${have} bytes follow`);
  }
  if (have > size) throw new DataError(`${file}: ${have - size} unexpected bytes after the ${dims.join('x')} data declared in its header`);
  return { dims, data: buf.subarray(header, header + size) };
}

export function readIdx(file: string): IdxArray {
  return parseIdx(readMaybeGzip(file), file);
}
