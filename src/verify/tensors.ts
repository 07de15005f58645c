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

/**
 * `data` (of `shape`) with its axes permuted: axis i of the result is axis `axes[i]` of the input.
 * tfjs's wasm transpose ran at ~20 ns an element and took a third of a verify worker's time on the
 * larger nets; this runs at 2-4 (a 2D-tiled copy, below).
 */
export function permuted(data: Float32Array, shape: readonly number[], axes: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  if (data.length === 0) return out;
  const { dims, order } = simplified(shape, axes);
  const rank = dims.length;
  const inStride = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const outStride: number[] = new Array(rank).fill(0); // per input axis, its stride in the output
  for (let k = rank - 1, s = 1; k >= 0; s *= dims[order[k]!]!, k--) outStride[order[k]!] = s;
  // Tiles over two axes: the input's contiguous one (a) and the output's (b), so that reads and
  // writes both run along memory; an odometer over the others. (One axis left: a plain copy.)
  const a = rank - 1;
  const b = order[rank - 1]!;
  const rest = dims.map((_, i) => i).filter((i) => i !== a && i !== b);
  const index = rest.map(() => 0);
  const T = 16;
  for (let inBase = 0, outBase = 0; ; ) {
    if (a === b) out.set(data.subarray(inBase, inBase + dims[a]!), outBase);
    else {
      const [na, nb, sa, sb] = [dims[a]!, dims[b]!, outStride[a]!, inStride[b]!];
      for (let b0 = 0; b0 < nb; b0 += T) {
        const b1 = Math.min(nb, b0 + T);
        for (let a0 = 0; a0 < na; a0 += T) {
          const a1 = Math.min(na, a0 + T);
          // Writes along the output's contiguous axis (strided writes cost more than strided reads).
          for (let i = a0; i < a1; i++) {
            for (let j = b0, src = inBase + b0 * sb + i, dst = outBase + b0 + i * sa; j < b1; j++, src += sb, dst++) out[dst] = data[src]!;
          }
        }
      }
    }
    let k = rest.length - 1;
    for (; k >= 0; k--) {
      const axis = rest[k]!;
      inBase += inStride[axis]!;
      outBase += outStride[axis]!;
      if (++index[k]! < dims[axis]!) break;
      inBase -= inStride[axis]! * dims[axis]!;
      outBase -= outStride[axis]! * dims[axis]!;
      index[k] = 0;
    }
    if (k < 0) return out;
  }
}

/**
 * The same permutation over fewer axes: axes of size 1 dropped, and axes adjacent in both the input
 * and the output merged (a 1x1 conv's HWIO -> OIHW is then a 2D transpose, NHWC -> NCHW a batch of them).
 */
function simplified(shape: readonly number[], axes: readonly number[]): { dims: number[]; order: number[] } {
  const kept = axes.filter((x) => shape[x]! !== 1);
  if (kept.length === 0) return { dims: [1], order: [0] };
  // Runs of consecutive input axes in output order become one axis each.
  const runs: number[][] = [];
  for (const x of kept) {
    const run = runs.at(-1);
    const prev = run?.at(-1);
    if (run && prev !== undefined && nextKept(shape, prev) === x) run.push(x);
    else runs.push([x]);
  }
  const byInput = [...runs].sort((p, q) => p[0]! - q[0]!);
  const dims = byInput.map((run) => run.reduce((n, x) => n * shape[x]!, 1));
  const order = runs.map((run) => byInput.indexOf(run));
  return { dims, order };
}

/** The next input axis after x that is not of size 1 (-1: none). */
function nextKept(shape: readonly number[], x: number): number {
  for (let y = x + 1; y < shape.length; y++) if (shape[y] !== 1) return y;
  return -1;
}
