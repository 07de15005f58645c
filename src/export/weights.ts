/**
 * Trained weights out of a tfjs model, in PyTorch's names and layouts, as a safetensors file: the
 * format is a little-endian u64 header length, a JSON header (dtype, shape, byte offsets per tensor)
 * and the raw data — simple enough that the generated Python module reads it without extra packages.
 */
import * as tf from '@tensorflow/tfjs-core';
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

/**
 * How to get PyTorch's tensor from a tfjs one of the given layout and shape: permute its axes, then
 * reshape (null: it is PyTorch's already). toTorch does it with tfjs; `netc verify` over typed arrays
 * (`permuted` in src/verify/tensors.ts, several times faster than tfjs's wasm transpose).
 */
export function torchView(layout: Layout, shape: readonly number[]): { permute: number[]; shape: number[] } | null {
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

/** tfjs layouts -> PyTorch layouts ('same' returns the tensor itself). */
export function toTorch(layout: Layout, value: tf.Tensor): tf.Tensor {
  const view = torchView(layout, value.shape);
  return view ? tf.transpose(value, view.permute).reshape(view.shape) : value;
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
    const read = variable.read();
    const value = tf.tidy(() => toTorch(layout, read));
    // toTorch returns a bias or BN vector as is: that is the variable itself, which must live on.
    const free = () => value !== read && value.dispose();
    const shape = value.shape as number[];
    if (shape.join(',') !== torchShape.join(',')) {
      free();
      throw new ExportError(`\`${key}\` is [${shape.join(', ')}] in the checkpoint, [${torchShape.join(', ')}] in the network`);
    }
    const data = value.dataSync() as Float32Array;
    free();
    return { key, shape, data };
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
