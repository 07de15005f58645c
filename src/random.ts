/**
 * netc's seedable random numbers, shared by the stages that draw them: initial weights (src/lower),
 * shuffles, augmentation and dropout masks (src/train), and the verify harness. Kept apart so that
 * training needs no lowering module to shuffle. The PyTorch side of `--to torchrun`
 * (src/export/torchrun/train.py) reimplements it bit for bit.
 */

/** A small, fast, seedable PRNG (mulberry32) with Box-Muller normals. */
export function makeRng(seed: number): { uniform(): number; normal(): number } {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  return { uniform, normal };
}
