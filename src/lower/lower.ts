/**
 * The lowering driver: IR graph -> tfjs LayersModel (functional API).
 *
 * Walks the nodes in execution order, asks each op (its `lower` in src/ops/) for its tfjs layers,
 * names layers after IR nodes, and then
 * initialises every weight from the IR's `WeightSpec.init` with a seeded generator, so that the
 * same seed gives the same model on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { IRGraph, IRNode, InitSpec, Shape, WeightSpec } from '../ir/types.js';
import { opOf } from '../ops/index.js';
import { product } from '../ir/size.js';
import { TorchBatchNorm } from './batchnorm.js';
import type { LowerContext } from './context.js';
import {
  AdaptiveAvgPool2D,
  ChannelScale,
  DilatedMaxPool2D,
  GroupedConv2D,
  NegInfPadding2D,
  PositionScale,
  registerCustomLayers,
  Sum,
  ToMap11,
} from './custom-layers.js';
import { LowerError } from './helpers.js';
import { ClassToken, LayerScale, PositionEmbedding, SelfAttention } from './sequence-layers.js';
import { makeRng } from '../random.js';
import { canRecompute, evictOrDrop, recipe, released, type Recipe } from '../runtime/remat.js';

export { LowerError };

type ST = tfl.SymbolicTensor;

export interface LowerOptions {
  /** Seed for weight initialisation. */
  seed?: number;
  /**
   * Keep every layer output of a training forward pass alive until the pass ends (tfjs's own
   * behaviour), for callers that read intermediate outputs, such as `netc verify`'s probe model.
   * Default: each output is freed once its last consumer has run.
   */
  keepActivations?: boolean;
}

export interface Lowered {
  model: tfl.LayersModel;
  /** The tfjs layer holding each weighted IR node's parameters, by node id. */
  owners: Map<number, tfl.layers.Layer>;
  /** Each IR node's output in the tfjs graph, by node id (for probes such as `netc verify`). */
  outputs: Map<number, tfl.SymbolicTensor>;
}

/** IR `[C,H,W]` -> tfjs per-sample `[H,W,C]`; flat shapes are unchanged. */
export function tfShape(s: Shape): number[] {
  return s.length === 3 ? [s[1]!, s[2]!, s[0]!] : [...s];
}

function initValues(init: InitSpec, size: number, rng: ReturnType<typeof makeRng>): Float32Array {
  const v = new Float32Array(size);
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      v.fill(1);
      break;
    case 'kaimingNormalFanOut': {
      const std = Math.sqrt(2 / init.fanOut);
      for (let i = 0; i < size; i++) v[i] = rng.normal() * std;
      break;
    }
    case 'uniformFanIn': {
      const bound = 1 / Math.sqrt(init.fanIn);
      for (let i = 0; i < size; i++) v[i] = (rng.uniform() * 2 - 1) * bound;
      break;
    }
    case 'constant':
      v.fill(init.value);
      break;
    case 'normal':
      for (let i = 0; i < size; i++) v[i] = rng.normal() * init.std;
      break;
    case 'xavierUniform': {
      const bound = Math.sqrt(6 / (init.fanIn + init.fanOut));
      for (let i = 0; i < size; i++) v[i] = (rng.uniform() * 2 - 1) * bound;
      break;
    }
  }
  return v;
}

/** tfjs weight-name suffix -> PyTorch parameter name. */
const TORCH_NAME: Record<string, string> = {
  kernel: 'weight',
  depthwise_kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
  // src/lower/sequence-layers.ts: `param` is the node's own key; the attention's weights keep PyTorch's names.
  param: '',
  in_proj_weight: 'in_proj_weight',
  in_proj_bias: 'in_proj_bias',
  'out_proj.weight': 'out_proj.weight',
  'out_proj.bias': 'out_proj.bias',
};

/** A parameter's state-dict key: `layer1.0.conv1.weight`, or the node's own name for a parameter outside any module (`class_token`). */
export function paramKey(nodeName: string, torchName: string): string {
  return torchName ? `${nodeName}.${torchName}` : nodeName;
}

/** The PyTorch parameter name of a tfjs layer weight (`layer1.0.conv1/kernel` -> `weight`). */
export function torchParamName(tfWeightName: string): string | undefined {
  const base = tfWeightName.split('/').pop()!.replace(/_\d+$/, '');
  return TORCH_NAME[base];
}

/** The tfjs layer name an IR node's layer gets (before any `_1` that makes a repeated name unique). */
export function layerNameBase(node: IRNode): string {
  return (node.name || `${node.op}${node.id}`).replace(/[^-A-Za-z0-9._/]/g, '_').replace(/^[^A-Za-z0-9]/, 'n');
}

export function lowerGraph(graph: IRGraph, opts: LowerOptions = {}): Lowered {
  registerCustomLayers();
  const values = new Map<number, ST>();
  const owners = new Map<number, tfl.layers.Layer>();
  const used = new Set<string>();
  const shapeOf = (id: number): Shape => {
    const node = graph.nodes[id]!;
    if (node.shape == null) throw new LowerError(node, `node ${node.name} has no shape (the checker reported errors)`);
    return node.shape;
  };
  let input: ST | null = null;
  const ctx: LowerContext = {
    tf,
    layers: tfl,
    layerName(node, suffix) {
      const base = layerNameBase(graph.nodes[node.id]!);
      let name = suffix ? `${base}/${suffix}` : base;
      for (let i = 1; used.has(name); i++) name = `${suffix ? `${base}/${suffix}` : base}_${i}`;
      used.add(name);
      return name;
    },
    inputShape: (node, i = 0) => shapeOf(node.inputs[i]!),
    flattenCHW(node, x, shape) {
      let y = x as ST;
      // PyTorch flattens C,H,W; channels-last tensors must be permuted first unless H*W = 1.
      if (shape.length === 3 && shape[1]! * shape[2]! > 1) {
        y = tfl.layers.permute({ dims: [3, 1, 2], name: ctx.layerName(node, 'chw') }).apply(y) as ST;
      }
      return tfl.layers.flatten({ name: ctx.layerName(node, 'flatten') }).apply(y) as ST;
    },
    own(node, layer) {
      owners.set(node.id, layer as tfl.layers.Layer);
    },
    input() {
      input = tfl.input({ shape: tfShape(graph.input), name: 'input' });
      return input;
    },
    custom: {
      NegInfPadding2D,
      ChannelScale,
      ToMap11,
      TorchBatchNorm,
      PositionScale,
      GroupedConv2D,
      AdaptiveAvgPool2D,
      Sum,
      DilatedMaxPool2D,
      LayerScale,
      ClassToken,
      PositionEmbedding,
      SelfAttention,
    },
  };

  // Layers whose output can be recomputed from their input during backprop (ops marked `recompute`).
  const recomputable = new Set<tfl.layers.Layer>();
  for (const node of graph.nodes) {
    shapeOf(node.id);
    const ins = node.inputs.map((i) => {
      const v = values.get(i);
      if (v == null) throw new LowerError(node, `node ${node.name} reads node ${i}, which comes later or was never lowered`);
      return v;
    });
    const lower = opOf(node).lower;
    if (!lower) throw new LowerError(node, `operation '${node.op}' has no tfjs lowering`);
    const out = lower(ctx, node, ins);
    values.set(node.id, out);
    // One layer straight from the node's input to its output (not, say, a padding layer in between).
    const layer = out.sourceLayer as tfl.layers.Layer;
    const inbound = (layer as unknown as { inboundNodes: { inputTensors: ST[] }[] }).inboundNodes;
    if (opOf(node).recompute && ins.length === 1 && inbound.length === 1 && inbound[0]!.inputTensors.length === 1 && inbound[0]!.inputTensors[0] === ins[0]) {
      recomputable.add(layer);
    }
  }
  if (input == null) throw new Error(`graph ${graph.net} has no input node`);
  const output = values.get(graph.output)!;
  const model = tfl.model({ inputs: input, outputs: output, name: graph.net.replace(/[^A-Za-z0-9_]/g, '_') });
  if (!opts.keepActivations) releaseActivationsInTraining(model, recomputable);
  initialiseWeights(graph, owners, opts.seed ?? 0);
  return { model, owners, outputs: values };
}

/**
 * Frees each layer output during a training forward pass as soon as its last consumer has run.
 *
 * tfjs-layers' executor frees intermediate outputs as it goes only at inference; in training mode it
 * keeps every layer output until the forward pass ends, so a step's peak was all activations at once
 * (measured: 0.96x the IR's activation count on resnet50_cifar). The backward pass never reads these
 * tensors: a kernel's gradient reads the clones the engine saved for it (sharing the data), and
 * tfjs's own forward scope disposes the originals before backprop starts anyway. So releasing an
 * output after its last consumer keeps exactly what the gradients saved (see also
 * src/runtime/tape.ts, which frees those during backprop).
 */
function releaseActivationsInTraining(model: tfl.LayersModel, recomputable: Set<tfl.layers.Layer>): void {
  type Node = { inputTensors: ST[]; outputTensors: ST[] };
  const consumers = new Map<number, number>();
  for (const layer of model.layers) {
    for (const node of (layer as unknown as { inboundNodes: Node[] }).inboundNodes) {
      for (const t of node.inputTensors) consumers.set(t.id, (consumers.get(t.id) ?? 0) + 1);
    }
  }
  const remaining = new WeakMap<tf.Tensor, number>();
  const recipes = new WeakMap<tf.Tensor, Recipe>();
  for (const layer of model.layers) {
    const nodes = (layer as unknown as { inboundNodes: Node[] }).inboundNodes;
    // Layers applied once (every layer the lowering makes); others keep tfjs's behaviour.
    if (nodes.length !== 1 || layer.getClassName() === 'InputLayer') continue;
    const outs = nodes[0]!.outputTensors;
    const call = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => {
      const result = call(inputs, kwargs);
      if (!kwargs?.['training']) return result;
      const produced = Array.isArray(result) ? result : [result];
      const given = Array.isArray(inputs) ? inputs : [inputs];
      produced.forEach((t, i) => {
        // A layer that returns its input (dropout at rate 0) does not own it: freeing it after this
        // layer's consumers would free the producer's tensor, e.g. the model's input batch, which a
        // shortcut may still read (found by test/property/check-train.test.ts).
        if (given.includes(t)) return;
        const n = consumers.get(outs[i]?.id ?? -1);
        if (n) remaining.set(t, n);
      });
      // How to compute this output again (src/runtime/remat.ts): from the input, or from the
      // input's own recipe when that is recomputable too (bn then relu).
      const x = given[0];
      if (recomputable.has(layer) && produced.length === 1 && x && canRecompute()) {
        const step = (v: tf.Tensor) => call(v, { ...kwargs, recompute: true }) as tf.Tensor;
        const before = recipes.get(x);
        recipes.set(produced[0]!, before ? recipe(before.base, [...before.steps, step]) : recipe(x, [step]));
      }
      for (const t of given) {
        const left = remaining.get(t);
        if (left == null) continue;
        if (left > 1) {
          remaining.set(t, left - 1);
        } else {
          remaining.delete(t);
          if (!t.kept && !produced.includes(t)) {
            t.dispose();
            // Saved copies of it (the gradients') may be freed now and recomputed in backprop.
            const r = recipes.get(t);
            if (r) {
              recipes.delete(t);
              evictOrDrop(t, r);
            } else {
              // It may have been the last forward-pass alias of a saved output waiting to be freed.
              released(t);
            }
          }
        }
      }
      return result;
    };
  }
}

/** Sets every owned layer's weights from the IR's init specs (PyTorch's defaults). */
function initialiseWeights(graph: IRGraph, owners: Map<number, tfl.layers.Layer>, seed: number): void {
  const rng = makeRng(seed * 2654435761 + 12345);
  for (const node of graph.nodes) {
    const layer = owners.get(node.id);
    if (!layer) continue;
    const specs = new Map<string, WeightSpec>(node.weights.map((w) => [w.name, w]));
    const fresh = layer.weights.map((w) => {
      const spec = specs.get(torchParamName(w.originalName) ?? '');
      if (!spec) return null;
      return tf.tensor(initValues(spec.init, product(w.shape as number[]), rng), w.shape as number[]);
    });
    if (fresh.every((t) => t != null)) {
      layer.setWeights(fresh as tf.Tensor[]);
    }
    tf.dispose(fresh.filter((t): t is tf.Tensor => t != null));
  }
}
