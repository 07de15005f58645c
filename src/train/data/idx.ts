/**
 * IDX files (MNIST, Fashion-MNIST), gzipped or not. Format: a 4-byte magic (0, 0, type, ndims),
 * ndims big-endian uint32 sizes, then the data. Only unsigned bytes (type 0x08) occur in these sets.
 */
import { constants, gunzipSync } from 'node:zlib';
import { product } from '../../ir/size.js';
import { DataError, MAX_DATA_FILE_BYTES, readDataFile } from './dataset.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Bytes an IDX file declares in its header (magic, sizes, data), or undefined when too little to tell. */
export function idxDeclaredBytes(head: Uint8Array): number | undefined {
  if (head.length < 4) return undefined;
  const nd = head[3]!;
  const header = 4 + 4 * nd;
  if (head.length < header) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let size = 1;
  for (let i = 0; i < nd; i++) size *= view.getUint32(4 + 4 * i);
  return header + size;
}

/**
 * A gzipped IDX file is inflated in two steps, so a small .gz cannot claim gigabytes: first only its
 * header (a few KiB of output at most), whose sizes bound the whole; then the rest with that bound as the
 * most zlib may produce. A stream that inflates past what its header declares is refused there.
 */
export function readMaybeGzip(file: string): Buffer {
  const raw = readDataFile(file);
  if (!(raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b)) return raw;
  const corrupt = (e: unknown) => new DataError(`${file}: corrupt gzip data (${(e as Error).message}); the download may be incomplete`);
  let head: Buffer;
  try {
    // 4 KiB of the stream, flushed rather than finished: what it holds of the output (deflate expands at
    // most 1032-fold, so at most ~4 MiB; maxOutputLength is a backstop).
    head = gunzipSync(raw.subarray(0, 4096), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: 8 * 1024 * 1024 });
  } catch (e) {
    throw corrupt(e);
  }
  // Not IDX at all: say so from the header rather than inflating the rest.
  if (head.length >= 4 && (head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08)) parseIdx(head, file);
  const declared = idxDeclaredBytes(head);
  if (declared !== undefined && declared > MAX_DATA_FILE_BYTES) {
    throw new DataError(
      `${file}: its IDX header declares ${declared.toLocaleString('en-US')} bytes, more than the limit of ${MAX_DATA_FILE_BYTES.toLocaleString('en-US')} for one data file`,
    );
  }
  const bound = declared ?? MAX_DATA_FILE_BYTES;
  try {
    return gunzipSync(raw, { maxOutputLength: bound + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(
        declared !== undefined
          ? `${file}: inflates to more than the ${declared.toLocaleString('en-US')} bytes its IDX header declares; not an intact IDX file`
          : `${file}: inflates to more than the limit of ${MAX_DATA_FILE_BYTES.toLocaleString('en-US')} bytes for one data file`,
      );
    }
    throw corrupt(e);
  }
}

export function parseIdx(buf: Uint8Array, file: string): IdxArray {
  if (buf.length === 0) throw new DataError(`${file}: empty file (expected IDX data)`);
  if (buf.length < 4) throw new DataError(`${file}: not an IDX file: only ${buf.length} bytes`);
  if (buf[0] !== 0 || buf[1] !== 0) throw new DataError(`${file}: not an IDX file: bad magic number (first bytes ${buf[0]}, ${buf[1]}, expected 0, 0)`);
  if (buf[2] !== 0x08) throw new DataError(`${file}: IDX element type 0x${buf[2]!.toString(16)} is not supported (expected 0x08, unsigned bytes)`);
  const nd = buf[3]!;
  const header = 4 + 4 * nd;
  if (buf.length < header) throw new DataError(`${file}: truncated IDX header: ${nd} dimensions need ${header} bytes, file has ${buf.length}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i));
  const size = product(dims);
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
