// Which BLAS a PyTorch build computes with, for the benchmarks' headers. Debian's torch calls the
// system's libblas.so.3, by default the reference BLAS: its linear layers then run ~10x slower
// (LeNet-5 trained at 8,491 img/s there, 16,710 with OpenBLAS), a baseline too easy to beat. The probe
// is netc verify's (src/verify/python.ts), from this checkout's build.
import { probeTorch } from '../dist/verify/python.js';

/** Lines saying which BLAS `python` (with `env` added) gives torch, and a warning where it is the reference one. */
export function torchBlasLines(python, env = {}) {
  const probe = probeTorch(python, env);
  if ('reason' in probe) return [`PyTorch's BLAS: unknown (${probe.reason})`];
  const lines = [`PyTorch's BLAS: ${probe.blas}`];
  if (probe.slowBlas) lines.push('  (the reference BLAS: PyTorch is slowed; apt-get install libopenblas0-pthread for a fair baseline)');
  return lines;
}
