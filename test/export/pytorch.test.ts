/**
 * `netc export --to pytorch` against real PyTorch / torchvision.
 *
 * The expectations come from test/reference/<name>.json (written by test/reference/generate.py with
 * real torchvision) and from torchvision itself at test time (test/export/check_pytorch.py loads
 * torchvision's state_dict into the exported module with strict=True and compares outputs).
 * The Python checks need Debian's python3-torch/python3-torchvision at /usr/bin/python3; without
 * them those tests are skipped (reported as skipped, with the reason in their names), never passed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile, type IRGraph } from '../../src/api.js';
import { ExportError, exportPytorch } from '../../src/export/pytorch.js';
import { pythonHas } from '../python.js';
import { TORCHVISION_NETS, ZOO_NETS } from '../reference/nets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = '/usr/bin/python3';
const CHECKER = join(ROOT, 'test', 'export', 'check_pytorch.py');

const TORCH_OK = pythonHas('torch', 'torchvision');
const NO_TORCH = TORCH_OK ? '' : ` [skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)]`;

/** The stdlib networks built by torchvision itself (their references are torchvision's state dicts). */
const TORCHVISION = TORCHVISION_NETS;
/** Tutorial networks whose references come from the seeds' own PyTorch code. */
const TUTORIAL = ['lenet5', 'vgg19_gap', 'resnet20_cifar', 'resnet50_cifar', 'se_resnet50_cifar', 'densenet_bc_cifar'];
/** Outputs compared with torchvision's own model, at a small input to keep the run short. */
const COMPARE = new Set(['resnet18', 'densenet121', 'googlenet', ...ZOO_NETS]);
const SMALL = [3, 64, 64];
/**
 * Where 64x64 is too small: alexnet's features end at 1x1 there, and its adaptive pool would have to upsample to 6x6;
 * inception_v3's unpadded reductions need at least 75x75. vit_b_16's position embedding has a row per token:
 * at 32x32, 2*2 patches + the class token = 5 rows, compared with torchvision's vit_b_16(image_size=32).
 */
const INPUT: Record<string, number[]> = { alexnet: [3, 224, 224], inception_v3: [3, 75, 75], vit_b_16: [3, 32, 32] };

interface Reference {
  name: string;
  totalParams: number;
  stateDict: [string, number[]][];
}
interface Checked {
  params?: number;
  stateDict?: [string, number[]][];
  loadStrict?: boolean;
  maxAbsDiff?: number;
  maxAbsOutput?: number;
  outputShape?: number[];
  referenceOutputShape?: number[];
  error?: string;
}

const reference = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test', 'reference', `${name}.json`), 'utf8')) as Reference;

function compile(name: string, input?: number[]): IRGraph {
  const result = compileFile(join(ROOT, 'stdlib', `${name}.net`), { input });
  expect(result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  expect(result.graphs).toHaveLength(1);
  return result.graphs[0]!;
}

const sorted = (sd: [string, number[]][]) => sd.map(([k, s]) => `${k} ${JSON.stringify(s)}`).sort();

let dir = '';
const code = new Map<string, string>();
let checked: Record<string, Checked> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'netc-export-'));
  const jobs = [];
  for (const name of [...TORCHVISION, ...TUTORIAL]) {
    const input = TORCHVISION.includes(name) ? (INPUT[name] ?? SMALL) : undefined;
    const text = exportPytorch(compile(name, input), { source: `stdlib/${name}.net` });
    code.set(name, text);
    const file = join(dir, `${name}.py`);
    writeFileSync(file, text);
    jobs.push({ name, file, compare: COMPARE.has(name), input: INPUT[name] ?? SMALL });
  }
  if (!TORCH_OK) return;
  writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
  const out = execFileSync(PYTHON, [CHECKER, join(dir, 'jobs.json')], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
  checked = JSON.parse(out) as Record<string, Checked>;
}, 330_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('generated code (no Python needed)', () => {
  it('has one class per block variant, named after the block, and a model class', () => {
    const r18 = code.get('resnet18')!;
    expect(r18).toMatch(/^import torch$/m);
    expect(r18).toMatch(/^from torch import nn$/m);
    expect(r18.match(/^class \w+\(nn\.Module\):$/gm)).toEqual(['class BasicBlock(nn.Module):', 'class BasicBlock_2(nn.Module):', 'class Resnet18(nn.Module):']);
    // Identity and projection variants: the projection is torchvision's downsample Sequential.
    expect(r18).toContain('self.downsample = nn.Sequential(\n            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=2, bias=False),');
    expect(r18).toContain('self.layer2 = nn.Sequential(\n            BasicBlock_2(64, 128),\n            BasicBlock(128),\n        )');
    expect(r18).toContain('out = out + downsample');
    expect(r18).toContain('x = self.fc(torch.flatten(x, 1))');
    expect(r18).toContain("nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')");
  });

  it('keeps PyTorch semantics: ceil_mode, BN eps, dropout p, concatenation, gates', () => {
    const g = code.get('googlenet')!;
    expect(g).toContain('nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)');
    expect(g).toContain('nn.BatchNorm2d(out_channels, eps=0.001)');
    expect(g).toContain('nn.Dropout(0.2)');
    expect(g).toContain('out = torch.cat([branch1, branch2, branch3, branch4], 1)');
    const d = code.get('densenet121')!;
    expect(d).toContain('out = torch.cat([x, out], 1)');
    expect(d).toContain('nn.AvgPool2d(kernel_size=2, stride=2)');
    const se = code.get('se_resnet50_cifar')!;
    expect(se).toContain('out = x * out[:, :, None, None]');
    expect(code.get('vgg19_gap')!).toContain('nn.LeakyReLU(0.2)');
  });

  it('refuses what a module call cannot express, with a reason', () => {
    const graph = compile('resnet18');
    const broken = structuredClone(graph);
    // Make layer1.1's first conv read from outside its block a second time: two external inputs.
    const conv = broken.nodes.find((n) => n.name === 'layer1.1.conv2')!;
    conv.inputs = [1];
    expect(() => exportPytorch(broken)).toThrow(ExportError);
    expect(() => exportPytorch(broken)).toThrow(/reads 2 values from outside it/);
  });
});

describe(`against PyTorch${NO_TORCH}`, () => {
  for (const name of [...TORCHVISION, ...TUTORIAL]) {
    it.skipIf(!TORCH_OK)(`${name}: state_dict keys and shapes equal the reference, parameter count exact`, () => {
      const ref = reference(name);
      if (name === 'vit_b_16') {
        // At 32x32 the position embedding is [1, 5, 768] instead of [1, 197, 768]: (197 - 5) * 768 = 147,456 fewer.
        ref.totalParams -= 147_456;
        ref.stateDict = ref.stateDict.map(([k, s]) => [k, k === 'encoder.pos_embedding' ? [1, 5, 768] : s]);
      }
      const got = checked[name]!;
      expect(got.error).toBeUndefined();
      expect(got.params).toBe(ref.totalParams);
      expect(sorted(got.stateDict!)).toEqual(sorted(ref.stateDict));
      // torchvision's own order, too (load_state_dict does not need it, but it reads the same).
      if (TORCHVISION.includes(name)) expect(got.stateDict).toEqual(ref.stateDict);
    });
  }

  it.skipIf(!TORCH_OK)("resnet34 has exactly torchvision's 21,797,672 parameters", () => {
    expect(checked['resnet34']!.params).toBe(21_797_672);
  });

  for (const name of COMPARE) {
    it.skipIf(!TORCH_OK)(`${name}: torchvision's state_dict loads with strict=True and gives the same output`, () => {
      const got = checked[name]!;
      expect(got.error).toBeUndefined();
      expect(got.loadStrict).toBe(true);
      expect(got.outputShape).toEqual([1, 1000]);
      expect(got.referenceOutputShape).toEqual([1, 1000]);
      // A zero output would make the comparison vacuous.
      expect(got.maxAbsOutput!).toBeGreaterThan(0.01);
      expect(got.maxAbsDiff!).toBeLessThanOrEqual(1e-5);
    });
  }

  it.skipIf(!TORCH_OK)('the file runs as a script and prints its parameter count', () => {
    const out = execFileSync(PYTHON, [join(dir, 'resnet18.py')], { encoding: 'utf8', timeout: 60_000 });
    expect(out).toContain('11,689,512 parameters');
    expect(out).toContain('output shape: (1, 1000)');
  });
});
