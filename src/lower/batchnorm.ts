/**
 * BatchNorm with PyTorch's semantics and a fused gradient.
 *
 * Why not tfjs-layers' batchNormalization: on the wasm backend its training path composes moments,
 * batchNorm and autodiff through Tile/Sum/Mul kernels, and measured on ResNet-20 (batch 128) it
 * took ~2.4 s of a 4.5 s step, more than all the convolutions. Here the forward statistics and the
 * whole backward pass are two or three sweeps over a Float32Array in plain JS (~10x faster).
 * On tfjs-node the composed path costs ~25 small kernels per layer and step; there TensorFlow's
 * fused kernels do it (NetcBatchNormTrain, runtime/node-kernels.ts). Backends with neither keep the
 * composed ops.
 *
 * Semantics: biased batch variance to normalise, the running variance updated with the unbiased
 * one (n/(n-1)), running = (1 - momentum) * running + momentum * batch with PyTorch's momentum.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { nativeBatchNorm } from '../runtime/backend.js';
import { BN_TRAIN, fusedBatchNormTrain, hasKernel } from '../runtime/node-kernels.js';

type LayerVariable = ReturnType<tfl.layers.Layer['addWeight']>;

/** Backends where the typed-array path beats composed kernels (data lives in JS-reachable memory). */
const JS_BACKENDS = new Set(['wasm', 'cpu']);

interface Stats {
  mean: Float64Array;
  invStd: Float64Array;
  variance: Float64Array;
}

/** Per-channel batch statistics of a channels-last array with C channels. */
export function channelStats(x: Float32Array, c: number, eps: number): Stats {
  const rows = x.length / c;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let r = 0, i = 0; r < rows; r++) for (let k = 0; k < c; k++, i++) mean[k]! += x[i]!;
  for (let k = 0; k < c; k++) mean[k]! /= rows;
  for (let r = 0, i = 0; r < rows; r++) {
    for (let k = 0; k < c; k++, i++) {
      const d = x[i]! - mean[k]!;
      variance[k]! += d * d;
    }
  }
  const invStd = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    variance[k]! /= rows;
    invStd[k] = 1 / Math.sqrt(variance[k]! + eps);
  }
  return { mean, invStd, variance };
}

/** y = gamma * (x - mean) * invStd + beta. */
export function bnForward(x: Float32Array, s: Stats, gamma: Float32Array, beta: Float32Array): Float32Array {
  const c = gamma.length;
  const y = new Float32Array(x.length);
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    scale[k] = gamma[k]! * s.invStd[k]!;
    shift[k] = beta[k]! - s.mean[k]! * scale[k]!;
  }
  const rows = x.length / c;
  for (let r = 0, i = 0; r < rows; r++) for (let k = 0; k < c; k++, i++) y[i] = x[i]! * scale[k]! + shift[k]!;
  return y;
}

/** Gradients of the training-mode forward: dx, dgamma, dbeta. */
export function bnBackward(x: Float32Array, dy: Float32Array, s: Stats, gamma: Float32Array) {
  const c = gamma.length;
  const rows = x.length / c;
  const dbeta = new Float64Array(c);
  const dgammaAcc = new Float64Array(c);
  for (let r = 0, i = 0; r < rows; r++) {
    for (let k = 0; k < c; k++, i++) {
      dbeta[k]! += dy[i]!;
      dgammaAcc[k]! += dy[i]! * (x[i]! - s.mean[k]!);
    }
  }
  const dgamma = new Float32Array(c);
  // dx = gamma*invStd * (dy - dbeta/M - xhat * dgamma/M), with xhat = (x - mean) * invStd.
  const a = new Float64Array(c);
  const b = new Float64Array(c);
  const m = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    dgamma[k] = dgammaAcc[k]! * s.invStd[k]!;
    a[k] = gamma[k]! * s.invStd[k]!;
    b[k] = dbeta[k]! / rows;
    m[k] = (dgamma[k]! * s.invStd[k]!) / rows;
  }
  const dx = new Float32Array(x.length);
  for (let r = 0, i = 0; r < rows; r++) {
    for (let k = 0; k < c; k++, i++) dx[i] = a[k]! * (dy[i]! - b[k]! - (x[i]! - s.mean[k]!) * m[k]!);
  }
  return { dx, dgamma, dbeta: Float32Array.from(dbeta) };
}

export class TorchBatchNorm extends tfl.layers.Layer {
  static className = 'NetcBatchNorm';
  readonly epsilon: number;
  /** PyTorch's momentum (weight of the new batch statistic). */
  readonly torchMomentum: number;
  private gamma!: LayerVariable;
  private beta!: LayerVariable;
  private movingMean!: LayerVariable;
  private movingVariance!: LayerVariable;

  constructor(args: { epsilon?: number; torchMomentum?: number; name?: string }) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-5;
    this.torchMomentum = args.torchMomentum ?? 0.1;
    this.supportsMasking = true;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const s = inputShape as tfl.Shape;
    const c = s[s.length - 1] as number;
    this.gamma = this.addWeight('gamma', [c], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [c], 'float32', tfl.initializers.zeros());
    this.movingMean = this.addWeight('moving_mean', [c], 'float32', tfl.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [c], 'float32', tfl.initializers.ones(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return s;
  }

  /** kwargs.recompute: the same batch again (src/runtime/remat.ts): the running statistics stay. */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean; recompute?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const gamma = this.gamma.read();
    const beta = this.beta.read();
    if (!kwargs.training) {
      return tf.batchNorm(x, this.movingMean.read(), this.movingVariance.read(), beta, gamma, this.epsilon);
    }
    const c = x.shape[x.shape.length - 1]!;
    const rows = x.size / c;
    let stats: Stats;
    let y: tf.Tensor;
    if (JS_BACKENDS.has(tf.getBackend())) {
      const eps = this.epsilon;
      const f = tf.customGrad(((xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
        // With netc's native addon (native/, oneDNN build) on wasm: the same maths in C++, in place
        // on the wasm heap (measured ~1 s of a 2.6 s ResNet-20 step in the JS loops below).
        const nbn = nativeBatchNorm();
        if (nbn) {
          const r = nbn.forward(xx, g, b, eps);
          stats = r.stats;
          save([xx, g]);
          return { value: r.y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => nbn.backward(saved[0]!, dy, r.stats, saved[1]!) };
        }
        const xv = xx.dataSync() as Float32Array;
        const gv = g.dataSync() as Float32Array;
        stats = channelStats(xv, c, eps);
        const value = tf.tensor(bnForward(xv, stats, gv, b.dataSync() as Float32Array), xx.shape);
        const gradFunc = (dy: tf.Tensor | tf.Tensor[]) => {
          const d = bnBackward(xv, (dy as tf.Tensor).dataSync() as Float32Array, stats, gv);
          return [tf.tensor(d.dx, xx.shape), tf.tensor(d.dgamma, [c]), tf.tensor(d.dbeta, [c])];
        };
        return { value, gradFunc };
      }) as unknown as Parameters<typeof tf.customGrad>[0]);
      y = f(x, gamma, beta);
    } else if (x.dtype === 'float32' && hasKernel(tf, BN_TRAIN)) {
      // The kernel updates the running statistics too (PyTorch's rule), with nothing read back.
      const running = { mean: this.movingMean.read(), variance: this.movingVariance.read(), momentum: this.torchMomentum };
      const r = fusedBatchNormTrain(tf, x, gamma, beta, running, this.epsilon);
      this.movingMean.write(r.mean);
      this.movingVariance.write(r.variance);
      return r.y;
    } else {
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      const mom = tf.moments(x, axes);
      y = tf.batchNorm(x, mom.mean, mom.variance, beta, gamma, this.epsilon);
      stats = {
        mean: Float64Array.from(mom.mean.dataSync()),
        variance: Float64Array.from(mom.variance.dataSync()),
        invStd: new Float64Array(0),
      };
    }
    if (!kwargs.recompute) this.updateRunning(stats!, rows);
    return y;
  }

  private updateRunning(s: Stats, rows: number): void {
    const m = this.torchMomentum;
    const unbias = rows > 1 ? rows / (rows - 1) : 1;
    const rm = this.movingMean.read().dataSync();
    const rv = this.movingVariance.read().dataSync();
    const nm = new Float32Array(rm.length);
    const nv = new Float32Array(rv.length);
    for (let k = 0; k < rm.length; k++) {
      nm[k] = (1 - m) * rm[k]! + m * s.mean[k]!;
      nv[k] = (1 - m) * rv[k]! + m * s.variance[k]! * unbias;
    }
    tf.tidy(() => {
      this.movingMean.write(tf.tensor(nm, [nm.length]));
      this.movingVariance.write(tf.tensor(nv, [nv.length]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon, torchMomentum: this.torchMomentum };
  }
}
