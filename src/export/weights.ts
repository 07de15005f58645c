/**
 * Trained weights out of a tfjs model, in PyTorch's names and layouts, as a safetensors file: the
 * format is a little-endian u64 header length, a JSON header (dtype, shape, byte offsets per tensor)
 * and the raw data — simple enough that the generated Python module reads it without extra packages.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { IRGraph } from '../ir/types.js';
import { paramKey, torchParamName } from '../lower/lower.js';
import { ExportError } from './pytorch.js';

export interface TensorEntry {
  key: string;
  shape: number[];
  data: Float32Array;
}

/** How a tfjs weight's layout differs from PyTorch's (train.py of `--to torchrun` converts both ways by it). */
export type Layout = 'conv' | 'depthwise' | 'dense' | 'same';

export function layoutOf(kind: string, rank: number): Layout {
  if (kind === 'kernel' && rank === 4) return 'conv'; // HWIO <-> OIHW
  if (kind === 'depthwise_kernel') return 'depthwise'; // [kh, kw, in, mult] <-> [in*mult, 1, kh, kw]
  if (kind === 'kernel' && rank === 2) return 'dense'; // [in, out] <-> [out, in]
  return 'same';
}

/** How to get PyTorch's tensor from a tfjs one: permute its axes, then reshape. */
export interface TorchView {
  permute: number[];
  shape: number[];
}

/** The view of a tfjs weight of the given layout and shape (null: it is PyTorch's already). */
export function torchView(layout: Layout, shape: readonly number[]): TorchView | null {
  const by = (permute: number[], to = permute.map((a) => shape[a]!)) => ({ permute, shape: to });
  if (layout === 'conv') return by([3, 2, 0, 1]);
  if (layout === 'depthwise') {
    const [kh, kw, cin, mult] = shape as [number, number, number, number];
    // Output channel in*mult + m, as tfjs orders them.
    return by([2, 3, 0, 1], [cin * mult, 1, kh, kw]);
  }
  if (layout === 'dense') return by([1, 0]);
  return null;
}

/** A tensor in PyTorch's layout, as a new array: permuted and reshaped as `view` says, or copied as it is. */
export function torchValues(t: tf.Tensor, view: TorchView | null): { shape: number[]; data: Float32Array } {
  // dataSync's array may be the backend's own storage (as on cpu): never handed out as is.
  const data = t.dataSync() as Float32Array;
  return view ? { shape: view.shape, data: permuted(data, t.shape, view.permute) } : { shape: [...t.shape], data: new Float32Array(data) };
}

export interface WeightLink {
  /** The PyTorch state-dict key (`layer1.0.conv1.weight`). */
  key: string;
  /** The tfjs weight (its originalName is the name model.json gives it). */
  variable: tfl.LayerVariable;
  layout: Layout;
  /** PyTorch's shape, as the IR declares it. */
  torchShape: number[];
}

/** Every IR weight (parameters and BN running statistics) with the tfjs weight that holds it. */
export function weightLinks(graph: IRGraph, model: tfl.LayersModel): WeightLink[] {
  const links: WeightLink[] = [];
  for (const node of graph.nodes) {
    if (node.weights.length === 0) continue;
    let layer: tfl.layers.Layer;
    try {
      layer = model.getLayer(node.name);
    } catch {
      throw new ExportError(`the checkpoint has no layer \`${node.name}\`: it was trained from a different network`);
    }
    const byName = new Map(layer.weights.map((w) => [torchParamName(w.originalName), w]));
    for (const spec of node.weights) {
      const variable = byName.get(spec.name);
      if (!variable) throw new ExportError(`the checkpoint's layer \`${node.name}\` has no ${spec.name}`);
      const kind = variable.originalName.split('/').pop()!.replace(/_\d+$/, '');
      links.push({ key: paramKey(node.name, spec.name), variable, layout: layoutOf(kind, variable.shape.length), torchShape: spec.shape });
    }
  }
  return links;
}

/** Every IR weight with its PyTorch state-dict key, in PyTorch's layout. */
export function stateDict(graph: IRGraph, model: tfl.LayersModel): TensorEntry[] {
  return weightLinks(graph, model).map(({ key, variable, layout, torchShape }) => {
    const value = variable.read();
    const view = torchView(layout, value.shape);
    const shape = view?.shape ?? value.shape;
    if (shape.join(',') !== torchShape.join(',')) {
      throw new ExportError(`\`${key}\` is [${shape.join(', ')}] in the checkpoint, [${torchShape.join(', ')}] in the network`);
    }
    return { key, ...torchValues(value, view) };
  });
}

export function safetensors(entries: TensorEntry[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const e of entries) {
    header[e.key] = { dtype: 'F32', shape: e.shape, data_offsets: [offset, offset + e.data.byteLength] };
    offset += e.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned, as the format recommends
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const e of entries) {
    out.set(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength), at);
    at += e.data.byteLength;
  }
  return out;
}

/** Python appended to an exported module when weights come with it. */
export function pythonLoader(weightsFile: string): string {
  return [
    '',
    '',
    `def load_netc_weights(model, path=${JSON.stringify(weightsFile)}):`,
    '    """Loads the weights `netc export --weights` wrote beside this file (safetensors, read without extra packages)."""',
    '    import json, os, struct',
    '    if not os.path.isabs(path):',
    '        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), path)',
    "    with open(path, 'rb') as f:",
    "        size = struct.unpack('<Q', f.read(8))[0]",
    '        header = json.loads(f.read(size))',
    '        data = f.read()',
    '    state = {}',
    '    for key, info in header.items():',
    "        if key == '__metadata__':",
    '            continue',
    "        start, end = info['data_offsets']",
    "        state[key] = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32).reshape(info['shape'])",
    '    missing, unexpected = model.load_state_dict(state, strict=False)',
    "    missing = [k for k in missing if not k.endswith('num_batches_tracked')]  # netc does not track it",
    '    if missing or unexpected:',
    "        raise RuntimeError(f'weights do not fit this model: missing {missing}, unexpected {unexpected}')",
    '    return model',
    '',
  ].join('\n');
}

/**
 * `data` (of `shape`) with its axes permuted: axis i of the result is axis `axes[i]` of the input.
 * Over typed arrays: tfjs's wasm transpose ran at ~20 ns an element and took a third of a `netc
 * verify` worker's time on the larger nets; this runs at 2-4 (a 2D-tiled copy, below).
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
