// Which BLAS a PyTorch build calls, for the benchmarks' headers. Debian's torch calls the system's
// libblas.so.3, by default the reference BLAS: its linear layers then run ~10x slower (LeNet-5 trained
// at 8,491 img/s there, 16,710 with OpenBLAS), a baseline too easy to beat. Wheels bundle their own.
import { spawnSync } from 'node:child_process';

// BLAS_INFO=generic: torch calls the system's libblas.so.3 (Debian's build); a wheel names its own (mkl).
const PROBE = [
  'import re, torch',
  "info = (re.findall(r'BLAS_INFO=(\\w+)', torch.__config__.show()) or ['unknown'])[0]",
  "print(next((l.split()[-1] for l in open('/proc/self/maps') if 'libblas.so' in l), 'none loaded') if info == 'generic' else info + ' (its own)')",
].join('\n');

/** Lines saying which BLAS `python` (with `env`) gives torch, and a warning where it is the reference one. */
export function torchBlasLines(python, env = {}) {
  const r = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', env: { ...process.env, ...env } });
  const blas = r.status === 0 ? r.stdout.trim() : 'unknown (torch did not import)';
  const lines = [`PyTorch's BLAS: ${blas}`];
  if (/\/blas\/libblas\.so/.test(blas)) lines.push('  (the reference BLAS: PyTorch is slowed; apt-get install libopenblas0-pthread for a fair baseline)');
  return lines;
}
