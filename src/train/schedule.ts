/** Learning-rate schedules, per epoch (step, cosine) or per step (one-cycle), as in PyTorch. */
import type { RunConfig } from './config.js';

/** The learning rate for a step, given the epoch (0-based) and the fraction of all steps done. */
export function learningRate(cfg: Pick<RunConfig, 'lr' | 'schedule' | 'stepSize' | 'gamma' | 'epochs'>, epoch: number, progress: number): number {
  switch (cfg.schedule) {
    case 'none':
      return cfg.lr;
    case 'step': // StepLR(step_size, gamma)
      return cfg.lr * Math.pow(cfg.gamma, Math.floor(epoch / cfg.stepSize));
    case 'cosine': // CosineAnnealingLR(T_max = epochs, eta_min = 0), per epoch
      return (cfg.lr * (1 + Math.cos((Math.PI * epoch) / cfg.epochs))) / 2;
    case 'onecycle': {
      // OneCycleLR defaults: 30% warm-up from max/25, cosine down to max/(25*1e4).
      const start = cfg.lr / 25;
      const end = start / 1e4;
      const warm = 0.3;
      const cos = (a: number, b: number, t: number) => b + ((a - b) * (1 + Math.cos(Math.PI * t))) / 2;
      return progress < warm ? cos(start, cfg.lr, progress / warm) : cos(cfg.lr, end, (progress - warm) / (1 - warm));
    }
  }
}
