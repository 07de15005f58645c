/**
 * Class activation maps (Zhou et al., "Learning Deep Features for Discriminative Localization",
 * CVPR 2016; seed 003). For a net whose head is global average pooling followed by one linear
 * layer, the class score is  y_c = sum_k w_{c,k} * mean_{x,y} A_k(x,y) + b_c,  so
 *
 *     M_c(x, y) = sum_k w_{c,k} * A_k(x, y)
 *
 * over the last feature maps A (before the pooling) says how much each place adds to class c.
 * M_c is upsampled (bilinear) to the image, normalised to [0, 1] and drawn as a jet heatmap over it.
 *
 * The head is found in the IR: the output (after an optional softmax) must be a linear layer whose
 * input, through flatten/identity/dropout, is a global average pool: `gap`, `adaptive_avgpool 1`,
 * or an `avgpool` whose window covers the whole map without padding (seed 003's `AvgPool2d(7)` on
 * a 7x7 map). Anything else has no CAM; that is diagnostic NET4001, pointing at the head.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { PNG } from 'pngjs';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { IRGraph, IRNode, Span } from '../ir/types.js';
import { opOf } from '../ops/index.js';
import { layerNameBase } from '../lower/lower.js';
import { RunError } from './run.js';

export interface CamHead {
  /** The last linear layer (its weights are the w_{c,k}). */
  linear: IRNode;
  /** The global average pool. */
  pool: IRNode;
  /** The feature maps A_k (the pool's input), [K, H, W]. */
  features: IRNode;
  /** The net ends with softmax after the linear layer (its outputs are probabilities). */
  softmax: boolean;
}

/** Whether a node averages its whole [C, H, W] input to [C, 1, 1] or [C] (its op's `globalPool` trait). */
function isGlobalAveragePool(node: IRNode, input: number[] | null): boolean {
  const pool = opOf(node).globalPool;
  return pool?.test(node.attrs, input ?? []) === true;
}

function describe(node: IRNode): string {
  const shape = node.shape ? ` (output [${node.shape.join(', ')}])` : '';
  // "the relu layer `layer4.1.relu2`", not "`relu` layer4.1.relu2": the op, then the name quoted as code.
  return node.name ? `the ${node.op} layer \`${node.name}\`${shape}` : `a ${node.op} layer${shape}`;
}

/** The span from a's start to b's end when both lie in one file in that order, else b's. */
function joinSpans(a: Span, b: Span): Span {
  return a.file === b.file && a.start <= b.end ? { file: a.file, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) } : b;
}

const HELP = 'end the net with `gap; linear classes` (global average pooling, then one linear layer), as in Zhou et al. 2016 and stdlib/vgg16_gap.net';

function headError(message: string, span: Span, extra: Partial<Diagnostic> = {}): Diagnostic {
  return { code: 'NET4001', severity: 'error', message, span, related: [], notes: [], help: HELP, ...extra };
}

/** Finds the CAM head, or explains (NET4001) why the net has none. */
export function findCamHead(graph: IRGraph): { head: CamHead } | { diagnostic: Diagnostic } {
  const nodes = graph.nodes;
  let last = nodes[graph.output]!;
  let softmax = false;
  if (opOf(last).outputsProbabilities) {
    softmax = true;
    last = nodes[last.inputs[0]!]!;
  }
  const outputSpan = nodes[graph.output]!.span;
  if (!opOf(last).fullyConnected) {
    return {
      diagnostic: headError(
        `cam needs the net to end with a linear layer after global average pooling, but it ends with ${describe(last)}`,
        joinSpans(last.span, outputSpan),
        {
          label: 'the head of the net',
        },
      ),
    };
  }
  let prev = nodes[last.inputs[0]!];
  const between: IRNode[] = [];
  while (prev && opOf(prev).passThrough && prev.inputs.length === 1) {
    between.push(prev);
    prev = nodes[prev.inputs[0]!];
  }
  const poolInput = prev && prev.inputs.length === 1 ? nodes[prev.inputs[0]!] : undefined;
  if (!prev || !poolInput || !isGlobalAveragePool(prev, poolInput.shape)) {
    const what = prev ? describe(prev) : 'the input';
    const notes = ['the class activation map is sum_k w[class, k] * A_k(x, y): it needs the linear layer to see one average per feature map A_k'];
    const condition = prev && opOf(prev).globalPool?.condition;
    if (condition) notes.push(condition);
    return {
      diagnostic: headError(
        `cam needs global average pooling right before the last linear layer \`${last.name}\`, but it gets ${what}`,
        joinSpans((prev ?? last).span, outputSpan),
        {
          label: 'this head has no global average pooling before its linear layer',
          related: [{ span: last.span, label: 'the linear layer whose weights would weigh the feature maps' }],
          notes,
        },
      ),
    };
  }
  if (poolInput.shape?.length !== 3) {
    return {
      diagnostic: headError(`cam needs feature maps [C, H, W] before the pooling, got ${JSON.stringify(poolInput.shape)}`, joinSpans(prev.span, outputSpan)),
    };
  }
  return { head: { linear: last, pool: prev, features: poolInput, softmax } };
}

/** The layers lowered for a node, in model order: its own name, `name/suffix`, or a de-duplicated `name_N`. */
function layersOf(model: tfl.LayersModel, node: IRNode): tfl.layers.Layer[] {
  const base = layerNameBase(node);
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(_\\d+)?(/.*)?$`);
  return model.layers.filter((l) => re.test(l.name));
}

export interface CamResult {
  classIndex: number;
  probability: number;
  probabilities: number[];
  /** The raw map M_c at feature resolution, row-major [h, w]. */
  map: Float32Array;
  h: number;
  w: number;
}

/** Runs the model once on x ([1, H, W, C]) and computes the CAM of classIndex (default: the predicted class). */
export function computeCam(model: tfl.LayersModel, head: CamHead, x: tf.Tensor4D, classIndex?: number): CamResult {
  const poolLayers = layersOf(model, head.pool);
  const dense = layersOf(model, head.linear).find((l) => l.getClassName() === 'Dense');
  if (poolLayers.length === 0 || !dense)
    throw new RunError(`the checkpoint has no layers named after ${head.pool.name} and ${head.linear.name}: it was not trained from this net`);
  const features = poolLayers[0]!.input as tfl.SymbolicTensor;
  // findCamHead checked that the pool's input is [C, H, W].
  const [k, h, w] = head.features.shape! as [number, number, number];
  const fs = features.shape;
  if (fs.length !== 4 || fs[1] !== h || fs[2] !== w || fs[3] !== k) {
    throw new RunError(
      `the checkpoint's input to ${head.pool.name} is ${JSON.stringify(fs.slice(1))}, the net's is [${h}, ${w}, ${k}] (H, W, C): it was not trained from this net`,
    );
  }
  const kernel = dense.getWeights()[0]!;
  if (kernel.shape[0] !== k) throw new RunError(`the checkpoint's ${head.linear.name} takes ${kernel.shape[0]} features, the feature maps are ${k}`);
  const sub = tfl.model({ inputs: model.inputs, outputs: [features, model.outputs[0]!] });
  return tf.tidy(() => {
    const [a, out] = sub.predict(x) as [tf.Tensor, tf.Tensor];
    const probs = (head.softmax ? out : tf.softmax(out)).arraySync() as number[][];
    const p = probs[0]!;
    let cls = classIndex ?? 0;
    if (classIndex == null) for (let i = 1; i < p.length; i++) if (p[i]! > p[cls]!) cls = i;
    if (cls < 0 || cls >= p.length) throw new RunError(`class ${cls} out of range: the net has ${p.length} classes (0..${p.length - 1})`);
    // M_c = A [h*w, k] x w_c [k, 1]
    const wc = tf.slice(kernel, [0, cls], [k, 1]);
    const m = tf.matMul(tf.reshape(a, [h * w, k]), wc);
    return { classIndex: cls, probability: p[cls]!, probabilities: p, map: m.dataSync() as Float32Array, h, w };
  });
}

/** Bilinear resize (half-pixel centres, like cv2.resize in the CAM authors' code) of a float map. */
export function resizeMap(map: Float32Array, h: number, w: number, oh: number, ow: number): Float32Array {
  const out = new Float32Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(h - 1, Math.max(0, ((y + 0.5) * h) / oh - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(h - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < ow; x++) {
      const sx = Math.min(w - 1, Math.max(0, ((x + 0.5) * w) / ow - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(w - 1, x0 + 1);
      const fx = sx - x0;
      out[y * ow + x] = (map[y0 * w + x0]! * (1 - fx) + map[y0 * w + x1]! * fx) * (1 - fy) + (map[y1 * w + x0]! * (1 - fx) + map[y1 * w + x1]! * fx) * fy;
    }
  }
  return out;
}

/** (m - min) / (max - min); all zeros for a constant map. */
export function normalizeMap(m: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of m) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo;
  return m.map((v) => (span > 0 ? (v - lo) / span : 0));
}

/** The position of the largest value of a row-major [h, w] map. */
export function peak(m: Float32Array, w: number): { x: number; y: number } {
  let best = 0;
  for (let i = 1; i < m.length; i++) if (m[i]! > m[best]!) best = i;
  return { x: best % w, y: Math.floor(best / w) };
}

/** The jet colormap (blue - cyan - yellow - red) at t in [0, 1], as 0..255 RGB. */
export function jet(t: number): [number, number, number] {
  const c = (v: number) => Math.round(255 * Math.min(1, Math.max(0, v)));
  return [c(1.5 - Math.abs(4 * t - 3)), c(1.5 - Math.abs(4 * t - 2)), c(1.5 - Math.abs(4 * t - 1))];
}

export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * The heatmap of a normalised map (at the image's size) blended over the image:
 * alpha * jet(m) + (1 - alpha) * image, scaled up by an integer factor (nearest) for small images.
 */
export function overlayPng(image: Rgba, heat: Float32Array, alpha: number, scale = 1): Buffer {
  const { width, height } = image;
  const png = new PNG({ width: width * scale, height: height * scale });
  for (let y = 0; y < height * scale; y++) {
    for (let x = 0; x < width * scale; x++) {
      const si = Math.floor(y / scale) * width + Math.floor(x / scale);
      const [r, g, b] = jet(heat[si]!);
      const o = (y * width * scale + x) * 4;
      png.data[o] = Math.round(alpha * r + (1 - alpha) * image.data[si * 4]!);
      png.data[o + 1] = Math.round(alpha * g + (1 - alpha) * image.data[si * 4 + 1]!);
      png.data[o + 2] = Math.round(alpha * b + (1 - alpha) * image.data[si * 4 + 2]!);
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}
