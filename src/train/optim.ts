/**
 * Optimizers with PyTorch's update rules, built on tfjs's. Weight decay follows PyTorch: added to
 * the gradient (L2) for sgd/momentum/nesterov/adam/rmsprop, decoupled (w -= lr*wd*w) for adamw.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RunConfig } from './config.js';

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
      // PyTorch: alpha 0.99, eps 1e-8.
      return tf.train.rmsprop(cfg.lr, 0.99, 0, 1e-8);
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
