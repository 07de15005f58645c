/**
 * Which PyTorch reference the tests can use. Probing by importing torch costs 1.5–3.5 s of CPU per test
 * file (torchvision more), about 20 s over the suite; asking the import system whether the packages are
 * installed (importlib.util.find_spec, no import) costs a few tens of milliseconds. A package that is
 * installed but broken then fails its tests loudly instead of skipping them, which is the honest outcome.
 */
import { spawnSync } from 'node:child_process';

/** Debian's python3 (python3-torch, python3-torchvision); a pyenv python3 on PATH may lack them. */
export const PYTHON = '/usr/bin/python3';

/** True when every named top-level package is installed for {@link PYTHON}. */
export function pythonHas(...packages: string[]): boolean {
  const code = `import importlib.util, sys; sys.exit(0 if all(importlib.util.find_spec(p) for p in ${JSON.stringify(packages)}) else 1)`;
  return spawnSync(PYTHON, ['-c', code], { stdio: 'ignore' }).status === 0;
}
