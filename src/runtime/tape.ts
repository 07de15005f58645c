/**
 * Backpropagation that frees memory as it goes: tfjs's `engine.gradients` with two changes.
 *
 * tfjs 4.22 keeps every gradient it computes (the gradient of every intermediate tensor) and every
 * tensor a kernel saved for its backward pass alive until the whole backward pass ends, so a
 * training step's peak is about the forward activations plus the gradients of all of them. Here a
 * tape node's output gradients are freed as soon as that node has propagated them (no other node
 * reads them: a tensor is the output of exactly one node), and its saved tensors as soon as its
 * gradient has run (each node saves clones of its own). The peak becomes the saved activations plus
 * the gradients still waiting for a consumer. Measured with bench/train-zoo (wasm heap high-water
 * mark, batch 64): see README.
 *
 * Same results to the bit: the same gradient functions run in the same order on the same values;
 * only disposal moves earlier. Higher-order gradients (a gradients() call while another records its
 * tape) keep tfjs's own implementation, which needs the saved tensors to outlive the inner pass.
 * The ReLU gradient is registered here to save the ReLU's output instead of its input
 * (relu(x) > 0 exactly where x > 0), so the tensor feeding a ReLU (a batch norm's output) is not kept
 * for the backward pass: one activation fewer per BN-ReLU pair.
 */
import * as tf from '@tensorflow/tfjs-core';
import { endStep, rematerialize } from './remat.js';

type Tensor = tf.Tensor;
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, Tensor>;
  outputs: Tensor[];
  saved?: Tensor[];
  gradient?: (dys: (Tensor | null)[]) => Record<string, () => Tensor>;
}
interface EngineLike {
  state: { gradientDepth: number; activeTape: TapeNode[] | null };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T>(name: string | (() => T), f?: () => T): T;
  gradients(f: () => Tensor, xs: Tensor[], dy?: Tensor, allowNoGradients?: boolean): { value: Tensor; grads: Tensor[] };
  addTapeNode(kernelName: string, inputs: Record<string, Tensor>, outputs: Tensor[], grad: unknown, saved: Tensor[] | undefined, attrs: unknown): void;
  netcEagerBackprop?: boolean;
}

/** The nodes on a path from some x to y, their inputs pruned to those that depend on an x (tfjs's rule). */
export function nodesFromXToY(tape: TapeNode[], xs: Tensor[], y: Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodesFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodesToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    out.push({ ...node, inputs, outputs: node.outputs });
  }
  return out;
}

/** Off: tfjs's own engine.gradients (for tests that compare the two). */
export const eagerBackprop = { enabled: true };

export function installEagerBackprop(): void {
  const engine = tf.engine() as unknown as EngineLike;
  if (engine.netcEagerBackprop) return;
  engine.netcEagerBackprop = true;
  const original = engine.gradients.bind(engine);

  engine.gradients = function gradients(f, xs, dy, allowNoGradients = false) {
    if (this.state.gradientDepth !== 0 || !eagerBackprop.enabled) return original(f, xs, dy, allowNoGradients);
    if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
    endStep();
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    // A kernel none of whose inputs depends on an x is never on a path from an x (tfjs prunes it
    // before backprop); what it saved is freed as it is recorded, not after the step. Dropout's
    // mask chain (uniform, add, floor, div) saved two tensors of the activation's size each.
    const fromX = new Set(xs.map((x) => x.id));
    const record = this.addTapeNode;
    this.addTapeNode = function addTapeNode(kernelName, inputs, outputs, grad, saved, attrs) {
      if (Object.values(inputs).some((t) => fromX.has(t.id))) {
        for (const o of outputs) fromX.add(o.id);
        record.call(this, kernelName, inputs, outputs, grad, saved, attrs);
      } else {
        for (const t of saved ?? []) t.dispose();
      }
    };
    let y: Tensor;
    try {
      y = this.scopedRun(
        () => this.startTape(),
        () => this.endTape(),
        () => this.tidy('forward', f),
      );
    } finally {
      this.addTapeNode = record;
    }
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const fullTape = this.state.activeTape!;
    const tape = nodesFromXToY(fullTape, xs, y);
    if (!allowNoGradients && tape.length === 0) {
      throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
    }
    return this.tidy('backward', () => {
      const grad = new Map<number, Tensor>();
      const held = new Set<Tensor>();
      const seed = dy ?? tf.onesLike(y);
      grad.set(y.id, seed);
      held.add(seed);
      for (let i = tape.length - 1; i >= 0; i--) {
        const node = tape[i]!;
        const dys = node.outputs.map((o) => grad.get(o.id) ?? null);
        if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        // Saved tensors freed during the forward pass (remat.ts) are computed again first.
        rematerialize(node.saved);
        const thunks = node.gradient(dys);
        const spent: Tensor[] = [];
        for (const [name, x] of Object.entries(node.inputs)) {
          if (!(name in thunks)) throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(thunks)}.`);
          let dx = this.tidy(() => thunks[name]!());
          // A gradient that hands back a tensor already held (dy itself) gets its own handle, so
          // that freeing one entry never frees another.
          if (held.has(dx)) dx = tf.clone(dx);
          if (dx.dtype !== 'float32')
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
          if (!tf.util.arraysEqual(dx.shape, x.shape)) {
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
            );
          }
          const current = grad.get(x.id);
          const next = current == null ? dx : tf.add(current, dx);
          if (current != null) spent.push(current, dx);
          grad.set(x.id, next);
          held.add(next);
        }
        // This node was the only reader of its outputs' gradients and of its saved tensors.
        for (const o of node.outputs) {
          const g = grad.get(o.id);
          grad.delete(o.id);
          if (g != null) spent.push(g);
        }
        for (const t of spent) held.delete(t);
        const live = new Set<Tensor>([seed]);
        for (const x of Object.values(node.inputs)) {
          const g = grad.get(x.id);
          if (g) live.add(g);
        }
        for (const t of spent) {
          if (live.has(t)) held.add(t);
          else t.dispose();
        }
        for (const t of node.saved ?? []) t.dispose();
      }
      const grads = xs.map((x) => grad.get(x.id)!);
      for (const node of fullTape) for (const t of node.saved ?? []) t.dispose();
      endStep();
      this.state.activeTape = null;
      return { value: y, grads };
    });
  };
}
