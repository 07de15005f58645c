/**
 * netc's side of a verification, on whatever tfjs backend is current: the lowered net, the same
 * seeded weights and batch as PyTorch gets, `steps` optimizer steps, and every tensor verify
 * compares, in PyTorch's layouts (NCHW, OIHW) and names (state-dict keys, module names).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { layoutOf, stateDict, torchValues, torchView } from '../export/weights.js';
import type { IRGraph } from '../ir/types.js';
import { lowerGraph, paramKey, torchParamName } from '../lower/lower.js';
import { makeRng } from '../random.js';
import { isGraphInput, opOf, outputsProbabilities } from '../ops/index.js';
import { lossOf } from '../train/loop.js';
import { makeOptim } from '../train/optim.js';
import { mixSeed, withRandom } from '../train/random.js';
import type { VerifyJob } from './spec.js';
import type { Named } from './tensors.js';

/** The values verify probes: every layer with a PyTorch module, and every block, by module name. */
export function probes(graph: IRGraph): { key: string; node: number }[] {
  const out: { key: string; node: number }[] = [];
  const seen = new Set<string>();
  for (const n of graph.nodes) {
    if (isGraphInput(n) || !n.name) continue;
    const shapes = n.inputs.map((i) => graph.nodes[i]!.shape!);
    if (opOf(n).torchType(n.attrs, shapes) === null || seen.has(n.name)) continue;
    seen.add(n.name);
    out.push({ key: n.name, node: n.id });
  }
  for (const m of graph.modules) {
    if (seen.has(m.name) || m.output == null) continue;
    seen.add(m.name);
    out.push({ key: m.name, node: m.output });
  }
  return out;
}

/** An activation in PyTorch's layout: NHWC -> NCHW for maps; other ranks unchanged. */
const torchLayout = (t: tf.Tensor): Named => {
  const [n, h, w, c] = t.shape as number[];
  return torchValues(t, t.rank === 4 ? { permute: [0, 3, 1, 2], shape: [n!, c!, h!, w!] } : null);
};

/** The net's input batch as tfjs wants it: NCHW (PyTorch's layout, as stored) -> NHWC. */
function batchTensor(x: Named): tf.Tensor {
  const t = tf.tensor(Float32Array.from(x.data), x.shape);
  if (x.shape.length !== 4) return t;
  const nhwc = tf.transpose(t, [0, 2, 3, 1]);
  t.dispose();
  return nhwc;
}

/** A net ending in softmax outputs probabilities: its loss is NLL of log p, as netc trains it. */
export { outputsProbabilities };

/**
 * `initial`, when given, gets the seeded weights before any step, in PyTorch's names and layouts
 * (the reference starts from them; every backend draws the same ones, which the compared gradients
 * and updates would show otherwise).
 */
export function runNetc(
  graph: IRGraph,
  job: VerifyJob,
  batch: { x: Named; y: Int32Array; classes: number },
  initial?: (state: Map<string, Named>) => void,
): Map<string, Named> {
  const out = new Map<string, Named>();
  const { model, outputs } = lowerGraph(graph, { seed: job.seed, keepActivations: true });
  if (initial) initial(weightsOf(graph, model));
  const list = probes(graph);
  // Every node's value is an output of the probe model, so dropout's input is there too.
  const ids = graph.nodes.filter((n) => !isGraphInput(n) && outputs.has(n.id) && outputs.get(n.id) !== model.inputs[0]).map((n) => n.id);
  const index = new Map(ids.map((id, i) => [id, i]));
  const probe = tfl.model({ inputs: model.inputs, outputs: ids.map((id) => outputs.get(id)!) });
  const finalIndex = index.get(graph.output)!;
  const masked = graph.nodes.filter((n) => opOf(n).randomMask && index.has(n.id) && index.has(n.inputs[0]!));
  // (A name two nodes share is one PyTorch module called twice: no single input to replay there.)
  const uses = new Map<string, number>();
  for (const n of graph.nodes) uses.set(n.name, (uses.get(n.name) ?? 0) + 1);
  const kinked = graph.nodes.filter((n) => opOf(n).kinks && index.has(n.inputs[0]!) && uses.get(n.name) === 1);

  // Parameters by tfjs variable name, with their PyTorch key and layout kind.
  const params = new Map<string, { key: string; kind: string }>();
  for (const node of graph.nodes) {
    if (node.weights.length === 0) continue;
    for (const w of model.getLayer(node.name).weights) {
      const name = torchParamName(w.originalName);
      if (name === undefined || !w.trainable) continue;
      params.set((w.read() as tf.Variable).name, { key: paramKey(node.name, name), kind: w.originalName.split('/').pop()!.replace(/_\d+$/, '') });
    }
  }
  const vars = new Map<string, tf.Variable>();
  for (const w of model.trainableWeights) {
    const v = w.read() as tf.Variable;
    vars.set(v.name, v);
  }
  const optim = makeOptim({ optimizer: job.optimizer, lr: job.lr, momentum: job.momentum, weightDecay: job.weightDecay });
  const x = batchTensor(batch.x);
  const probs = outputsProbabilities(graph);

  for (let step = 0; step < job.steps; step++) {
    const rng = makeRng(mixSeed(job.seed, 0x7e51f1, step));
    tf.tidy(() => {
      const y = tf.oneHot(tf.tensor1d(batch.y, 'int32'), batch.classes);
      const { value, grads } = tf.variableGrads(() => {
        const outs = withRandom(rng.uniform, () => probe.apply(x, { training: true })) as tf.Tensor[];
        if (step === 0) for (const p of list) if (index.has(p.node)) out.set(`train/${p.key}`, torchLayout(outs[index.get(p.node)!]!));
        for (const n of masked) {
          // keep = y != 0, or x == 0 (a dropped and a kept zero look alike; either mask gives the same value).
          const keep = tf.logicalOr(tf.notEqual(outs[index.get(n.id)!]!, 0), tf.equal(outs[index.get(n.inputs[0]!)!]!, 0));
          out.set(`mask/${step}/${n.name}`, torchLayout(tf.cast(keep, 'float32')));
        }
        // The inputs of ops with kinks: which side netc's rounding put each element on (python.ts replays it).
        for (const n of kinked) out.set(`kink/${step}/${n.name}`, torchLayout(outs[index.get(n.inputs[0]!)!]!));
        return lossOf(outs[finalIndex]!, y, probs);
      }, [...vars.values()]);
      out.set(`loss/${step}`, { shape: [], data: Float32Array.from(value.dataSync() as Float32Array) });
      if (step === 0) {
        for (const [name, g] of Object.entries(grads)) {
          const p = params.get(name);
          if (p) out.set(`grad/${p.key}`, torchValues(g, torchView(layoutOf(p.kind, g.rank), g.shape)));
        }
      }
      // Eval mode between the first backward and the first update: running statistics that one
      // training pass moved, on weights both sides still share exactly. (After the updates, a deep
      // net's eval output would amplify the in-tolerance differences of the steps.)
      if (step === 0) {
        const outs = probe.apply(x, { training: false }) as tf.Tensor[];
        for (const p of list) if (index.has(p.node)) out.set(`eval/${p.key}`, torchLayout(outs[index.get(p.node)!]!));
      }
      optim.step(grads, vars, job.lr);
    });
  }
  for (const [key, t] of weightsOf(graph, model)) out.set(`final/${key}`, t);
  x.dispose();
  optim.tf.dispose();
  release(model);
  return out;
}

/**
 * Frees a model's weights. (LayersModel.dispose throws on netc's lowered models: a layer's variable
 * is disposed twice through two references; the worker process ends soon anyway.)
 */
function release(model: tfl.LayersModel): void {
  for (const w of model.weights) {
    try {
      w.dispose();
    } catch {
      // already freed through another reference
    }
  }
}

/** A lowered model's weights, in PyTorch's names and layouts. */
function weightsOf(graph: IRGraph, model: tfl.LayersModel): Map<string, Named> {
  return new Map(stateDict(graph, model).map((e) => [e.key, { shape: e.shape, data: e.data }]));
}
