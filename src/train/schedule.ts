/**
 * Learning-rate schedules, per epoch (step, cosine) or per step (one-cycle), equal to
 * torch.optim.lr_scheduler step by step (`netc verify` compares them, test/verify/).
 */
import type { RunConfig } from './config.js';

type ScheduleConfig = Pick<RunConfig, 'lr' | 'schedule' | 'stepSize' | 'gamma' | 'epochs'>;

/** PyTorch's _annealing_cos: from a (pct 0) to b (pct 1) along half a cosine. */
const annealCos = (a: number, b: number, pct: number) => b + ((a - b) * (Math.cos(Math.PI * pct) + 1)) / 2;

/**
 * The learning rate of step `step` (0-based) of epoch `epoch` (0-based), with `stepsPerEpoch` steps
 * in every epoch.
 */
export function learningRate(cfg: ScheduleConfig, epoch: number, step: number, stepsPerEpoch: number): number {
  switch (cfg.schedule) {
    case 'none':
      return cfg.lr;
    case 'step': // StepLR(step_size, gamma), stepped once per epoch
      return cfg.lr * cfg.gamma ** Math.floor(epoch / cfg.stepSize);
    case 'cosine': // CosineAnnealingLR(T_max = epochs, eta_min = 0), stepped once per epoch
      return annealCos(cfg.lr, 0, epoch / cfg.epochs);
    case 'onecycle': {
      // OneCycleLR(max_lr = lr, total_steps = epochs * steps): pct_start 0.3, anneal 'cos',
      // div_factor 25, final_div_factor 1e4, two phases. The warm-up phase ends at step
      // 0.3*total - 1 (a float, as in PyTorch) and the last step reaches the minimum exactly.
      // netc does not cycle momentum (PyTorch's cycle_momentum=True default does): see docs/verify.md.
      const total = cfg.epochs * stepsPerEpoch;
      const t = epoch * stepsPerEpoch + step;
      const initial = cfg.lr / 25;
      const min = initial / 1e4;
      const warmEnd = 0.3 * total - 1;
      if (t <= warmEnd) return annealCos(initial, cfg.lr, t / warmEnd);
      return annealCos(cfg.lr, min, (t - warmEnd) / (total - 1 - warmEnd));
    }
  }
}
