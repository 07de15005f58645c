/**
 * Optimizers with PyTorch's update rules (torch.optim), built on tfjs's where tfjs's rule is
 * PyTorch's. Checked against torch.optim by `netc verify` (test/verify/):
 * - sgd, momentum, nesterov: tfjs's MomentumOptimizer is torch.optim.SGD with dampening 0
 *   (buf = m*buf + g; w -= lr*buf, or w -= lr*(g + m*buf) with Nesterov): used as is.
 * - adam/adamw: tfjs's Adam is torch's (eps outside the sqrt, both bias corrections): used as is.
 * - rmsprop: tfjs puts eps inside the sqrt (w -= lr*g/sqrt(v + eps)); PyTorch adds it outside
 *   (w -= lr*g/(sqrt(v) + eps)). TorchRMSProp below keeps tfjs's state layout with PyTorch's rule.
 * Weight decay follows PyTorch: added to the gradient (L2) for sgd/momentum/nesterov/adam/rmsprop,
 * decoupled (w -= lr*wd*w, before the step) for adamw.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RunConfig } from './config.js';
import { momentumStepInPlace } from '../runtime/wasm-optim.js';

export interface Optim {
  /** Applies one update from the gradients of the named variables at learning rate lr. */
  step(grads: tf.NamedTensorMap, vars: Map<string, tf.Variable>, lr: number): void;
  tf: tf.Optimizer;
}

function make(cfg: Pick<RunConfig, 'optimizer' | 'lr' | 'momentum'>): tf.Optimizer {
  switch (cfg.optimizer) {
    case 'sgd':
      return tf.train.sgd(cfg.lr);
    case 'momentum':
      return tf.train.momentum(cfg.lr, cfg.momentum, false);
    case 'nesterov':
      return tf.train.momentum(cfg.lr, cfg.momentum, true);
    case 'adam':
    case 'adamw':
      return tf.train.adam(cfg.lr, 0.9, 0.999, 1e-8);
    case 'rmsprop':
      // PyTorch's defaults: alpha 0.99, eps 1e-8, no momentum.
      return new TorchRMSProp(cfg.lr, 0.99, 0, 1e-8);
  }
}

/**
 * torch.optim.RMSprop (centered=False, momentum=0): v = alpha*v + (1-alpha)*g^2;
 * w -= lr * g / (sqrt(v) + eps). The momentum slots stay (always zero) so checkpoints keep
 * tfjs's RMSProp layout.
 */
class TorchRMSProp extends tf.RMSPropOptimizer {
  override applyGradients(grads: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const self = this as unknown as {
      accumulatedMeanSquares: { originalName: string; variable: tf.Variable }[];
      accumulatedMoments: { originalName: string; variable: tf.Variable }[];
      decay: number;
      epsilon: number;
      learningRate: number;
    };
    const names = Array.isArray(grads) ? grads.map((g) => g.name) : Object.keys(grads);
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name]!;
      const slot = (list: { originalName: string; variable: tf.Variable }[], suffix: string) => {
        list[i] ??= { originalName: `${name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        return list[i]!.variable;
      };
      const ms = slot(self.accumulatedMeanSquares, 'rms');
      slot(self.accumulatedMoments, 'momentum');
      const g = Array.isArray(grads) ? grads[i]!.tensor : grads[name];
      if (g == null) return;
      tf.tidy(() => {
        const v = tf.add(tf.mul(ms, self.decay), tf.mul(tf.square(g), 1 - self.decay));
        ms.assign(v);
        value.assign(tf.sub(value, tf.div(tf.mul(g, self.learningRate), tf.add(tf.sqrt(v), self.epsilon))));
      });
    });
    this.incrementIterations();
  }
}

export function makeOptim(cfg: Pick<RunConfig, 'optimizer' | 'lr' | 'momentum' | 'weightDecay'>): Optim {
  const opt = make(cfg);
  const wd = cfg.weightDecay;
  return {
    tf: opt,
    step(grads, vars, lr) {
      (opt as unknown as { learningRate: number }).learningRate = lr;
      if ('setLearningRate' in opt) (opt as tf.SGDOptimizer).setLearningRate(lr);
      // On wasm, the same update in place (no copies of the weights; src/runtime/wasm-optim.ts).
      if ((cfg.optimizer === 'momentum' || cfg.optimizer === 'nesterov') && momentumStepInPlace(opt, grads, wd)) return;
      tf.tidy(() => {
        let g = grads;
        if (wd > 0 && cfg.optimizer !== 'adamw') {
          g = {};
          for (const [k, v] of Object.entries(grads)) g[k] = tf.add(v, tf.mul(vars.get(k)!, wd));
        }
        if (wd > 0 && cfg.optimizer === 'adamw') {
          for (const [k, v] of vars) if (grads[k]) v.assign(tf.mul(v, 1 - lr * wd));
        }
        opt.applyGradients(g);
      });
    },
  };
}

/**
 * Optimizer state that tfjs's getWeights/setWeights do not carry exactly. Adam keeps beta1^t and
 * beta2^t as running products (one float32 multiply per step); setWeights recomputes them as
 * pow(beta, t), which differs in the last bits, so a resumed run would drift from an uninterrupted
 * one. A checkpoint saves the products themselves and a resume puts them back.
 */
const EXACT_SCALARS = ['accBeta1', 'accBeta2'] as const;

export function optimizerScalars(opt: tf.Optimizer): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of EXACT_SCALARS) {
    const v = (opt as unknown as Record<string, unknown>)[k];
    if (v instanceof tf.Variable) out[k] = v.dataSync()[0]!;
  }
  return out;
}

export function restoreOptimizerScalars(opt: tf.Optimizer, values: Record<string, number> | undefined): void {
  for (const [k, x] of Object.entries(values ?? {})) {
    const v = (opt as unknown as Record<string, unknown>)[k];
    if (v instanceof tf.Variable) v.assign(tf.scalar(x));
  }
}
