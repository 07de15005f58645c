/**
 * Reproducible randomness for training, in a form that survives a resume.
 *
 * Nothing random in a run carries state from one step to the next: the shuffle of epoch e is drawn
 * from a generator seeded by (seed, e), and the augmentation and dropout masks of step s of epoch e
 * from one seeded by (seed, e, s). Resuming at any step boundary therefore replays exactly what an
 * uninterrupted run would have drawn, with no generator state to save.
 */
import { makeRng } from '../random.js';

/** A 32-bit hash of integers (murmur3's finaliser over a running mix). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

// Stream tags, so the shuffle and the per-step draws never share a seed.
const SHUFFLE = 1;
const STEP = 2;

export function shuffleRng(seed: number, epoch: number) {
  return makeRng(mixSeed(seed, SHUFFLE, epoch));
}

export function stepRng(seed: number, epoch: number, step: number) {
  return makeRng(mixSeed(seed, STEP, epoch, step));
}

/**
 * Runs fn with Math.random replaced by rand. tfjs draws an unseeded op's seed from Math.random()
 * (dropout's mask, via randomUniform), so this makes dropout follow the run's seed. fn must be
 * synchronous: the original is restored before anything else can run.
 */
export function withRandom<T>(rand: () => number, fn: () => T): T {
  const saved = Math.random;
  Math.random = rand;
  try {
    return fn();
  } finally {
    Math.random = saved;
  }
}
