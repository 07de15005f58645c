/**
 * The training-memory estimate against peaks measured with bench/train-zoo --force (live wasm
 * allocations during one step; figures in src/train/memory.ts): the seed nets' batch sizes that
 * fit in the 4 GiB wasm heap are accepted, the ones that crashed it are refused, naming tfjs-node.
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../src/api.js';
import { estimateTrainingMemory, memoryProblem, sizeOfGraph } from '../../src/train/memory.js';

const size = (net: string) => sizeOfGraph(compileFile(`stdlib/${net}.net`, { args: { classes: 10 }, input: [3, 32, 32] }).graphs[0]!);
const cfg = (batchSize: number) => ({ optimizer: 'momentum' as const, batchSize });

describe('memory estimate on wasm', () => {
  it('within -10%..+15% of the measured peaks', () => {
    // [net, batch, measured live bytes]
    const measured: [string, number, number][] = [
      ['resnet50_cifar', 128, 3.649e9],
      ['se_resnet50_cifar', 64, 2.422e9],
      ['densenet_bc_cifar', 32, 2.401e9],
      ['googlenet', 64, 0.133e9],
      ['resnet20_cifar', 64, 0.113e9],
    ];
    for (const [net, batch, bytes] of measured) {
      const ratio = estimateTrainingMemory(size(net), cfg(batch), 'wasm').bytes / bytes;
      expect(ratio, `${net} at ${batch}`).toBeGreaterThan(0.9);
      expect(ratio, `${net} at ${batch}`).toBeLessThan(1.15);
    }
  });

  it('accepts the batch sizes that trained and refuses those that ran out of the heap', () => {
    expect(memoryProblem('resnet50_cifar', size('resnet50_cifar'), cfg(128), 'wasm')).toBeNull();
    expect(memoryProblem('se_resnet50_cifar', size('se_resnet50_cifar'), cfg(64), 'wasm')).toBeNull();
    expect(memoryProblem('densenet_bc_cifar', size('densenet_bc_cifar'), cfg(32), 'wasm')).toBeNull();
    // Both crashed the 4 GiB heap when forced (bench/train-zoo --force).
    for (const [net, batch] of [['se_resnet50_cifar', 128], ['densenet_bc_cifar', 64]] as const) {
      const msg = memoryProblem(net, size(net), cfg(batch), 'wasm');
      expect(msg).toMatch(/more than the 4 GiB the wasm backend can address/);
      expect(msg).toMatch(/npm run setup:tfjs-node`, then --backend node/);
    }
    // Elsewhere the machine's memory is the limit and there is no wasm advice.
    expect(memoryProblem('densenet_bc_cifar', size('densenet_bc_cifar'), cfg(64), 'cpu', 1024 ** 3) ?? '').not.toMatch(/tfjs-node/);
  });
});
