// tf.profile's kernel list summed per kernel name: Map name -> { ms, n } (bench/train-*.mjs --profile).
export function kernelTimes(info) {
  const byKernel = new Map();
  for (const k of info.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.n++;
    byKernel.set(k.name, e);
  }
  return byKernel;
}
