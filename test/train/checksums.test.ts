/**
 * The download table's MNIST / Fashion-MNIST checksums equal the ones torchvision publishes, read from
 * Debian's python3-torchvision sources when they are installed (the CIFAR binary tarballs are not in
 * torchvision, which downloads the Python pickles instead).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REMOTE } from '../../src/train/data/index.js';

const SOURCE = '/usr/lib/python3/dist-packages/torchvision/datasets/mnist.py';
const present = existsSync(SOURCE);
const note = present ? '' : ` [skipped: ${SOURCE} missing (apt-get install python3-torchvision)]`;

/** The `resources` list of a torchvision dataset class: [file, md5] pairs. */
function resourcesOf(text: string, className: string): [string, string][] {
  const start = text.indexOf(`class ${className}(`);
  const body = text.slice(start, text.indexOf('\nclass ', start + 1));
  return [...body.matchAll(/\("([\w.-]+\.gz)",\s*"([0-9a-f]{32})"\)/g)].map((m) => [m[1]!, m[2]!]);
}

describe('dataset download checksums', () => {
  for (const [name, className] of [
    ['mnist', 'MNIST'],
    ['fashion-mnist', 'FashionMNIST'],
  ] as const) {
    it.skipIf(!present)(`${name} equals torchvision's ${className}.resources${note}`, () => {
      const theirs = resourcesOf(readFileSync(SOURCE, 'utf8'), className);
      expect(theirs).toHaveLength(4);
      const ours = REMOTE[name]!.map((f) => [f.name, f.md5]);
      expect(ours).toEqual(theirs);
    });
  }
});
