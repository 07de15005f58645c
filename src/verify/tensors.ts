/** Named tensors in safetensors files, F32 and F64 (the Python side writes float64). */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

export interface Named {
  shape: number[];
  data: Float32Array | Float64Array;
}

export function writeTensors(path: string, tensors: Map<string, Named>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [k, t] of tensors) {
    header[k] = { dtype: t.data instanceof Float64Array ? 'F64' : 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(head.length), 0);
  // Tensor by tensor: the whole file in one buffer first would copy every byte once more.
  const fd = openSync(path, 'w');
  try {
    for (const b of [size, head, ...[...tensors.values()].map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))]) {
      for (let at = 0; at < b.byteLength; ) at += writeSync(fd, b, at);
    }
  } finally {
    closeSync(fd);
  }
}

export function readTensors(path: string): Map<string, Named> {
  const buf = readFileSync(path);
  const size = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + size).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + size;
  const out = new Map<string, Named>();
  for (const [k, info] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const [s, e] = info.data_offsets;
    // Copied: the file's buffer need not be aligned for a typed-array view.
    const bytes = new Uint8Array(buf.subarray(base + s, base + e)).buffer;
    const data = info.dtype === 'F64' ? new Float64Array(bytes) : info.dtype === 'F32' ? new Float32Array(bytes) : null;
    if (!data) throw new Error(`${path}: tensor ${k} has dtype ${info.dtype}, expected F32 or F64`);
    out.set(k, { shape: info.shape, data });
  }
  return out;
}
