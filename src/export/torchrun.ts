/**
 * `netc export FILE --to torchrun --out DIR`: `netc train` as a PyTorch program that runs on one
 * process or many (torchrun, DistributedDataParallel). DIR gets:
 * - model.py: the PyTorch export (`--to pytorch`), plus `load_netc_weights` when weights come along;
 * - train.py: the training program (src/export/torchrun/train.py, copied as is: a real Python file,
 *   tested by test/export/torchrun.test.ts);
 * - netc_model.json: what train.py cannot know without netc: the net's name, arguments, input shape
 *   and classes, `netc train`'s defaults, and the net's TensorFlow.js topology with every tfjs weight's
 *   PyTorch key and layout, so that train.py writes checkpoints netc's own tools load and reads a netc
 *   run's weights (`--weights RUN`);
 * - data/fashion-mnist-sample/: the bundled sample, so that the default `--data` works anywhere;
 * - weights.safetensors (with `--weights RUN`): the run's trained weights, train.py's starting point;
 * - README.md: how to run it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { InitSpec, IRGraph } from '../ir/types.js';
import { lowerGraph, torchParamName } from '../lower/lower.js';
import { outputsProbabilities } from '../ops/index.js';
import { DEFAULTS } from '../train/config.js';
import { BUNDLED_SAMPLE } from '../train/data/index.js';
import { ExportError, exportPytorch } from './pytorch.js';
import { pythonLoader, weightLinks } from './weights.js';

/** The training program's source (shipped with the package: see package.json `files`). */
export const TRAIN_PY = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/export/torchrun/train.py');

export interface TorchrunOptions {
  /** The .net file as the user named it (recorded in config.json, quoted in messages). */
  source: string;
  /** Trained weights (a safetensors file, `netc export --weights`): train.py starts from them. */
  weights?: Uint8Array;
}

/** One entry of netc_model.json's tfjs weight list (read by train.py). */
interface TfjsWeight {
  name: string;
  shape: number[];
  key: string;
  layout: string;
}

/** One weight's initialisation, in the order netc draws them from its seeded generator. */
interface InitDraw {
  /** The tfjs weight (values are drawn in its layout). */
  name: string;
  size: number;
  init: InitSpec | null;
  /** False when netc leaves the weight's layer to tfjs's own initialiser (a weight without an init spec). */
  apply: boolean;
}

/**
 * netc's initialisation as a plan train.py replays with netc's generator, so that the same --seed
 * gives the same initial weights as `netc train`. It walks the layers as initialiseWeights in
 * src/lower/lower.ts does (IR node order, each layer's weights in tfjs order; a value per element
 * in the tfjs layout); test/export/torchrun.test.ts checks the result against netc's first step.
 */
function initPlan(graph: IRGraph, owners: Map<number, tfl.layers.Layer>): InitDraw[] {
  const plan: InitDraw[] = [];
  for (const node of graph.nodes) {
    const layer = owners.get(node.id);
    if (!layer) continue;
    const specs = new Map(node.weights.map((w) => [w.name, w.init]));
    const draws = layer.weights.map((w) => ({
      name: w.originalName,
      size: w.shape.reduce((a: number, b) => a * (b ?? 1), 1),
      init: specs.get(torchParamName(w.originalName) ?? '') ?? null,
      apply: true,
    }));
    const apply = draws.every((d) => d.init !== null);
    for (const d of draws) plan.push({ ...d, apply });
  }
  return plan;
}

/**
 * The net's tfjs topology and weight list, as `netc train` would save them, and its initialisation
 * plan: the net is lowered (needs a tfjs backend; its weights are not used) and saved to memory.
 */
async function tfjsModel(graph: IRGraph): Promise<{ modelTopology: unknown; weights: TfjsWeight[]; init: InitDraw[] }> {
  const { model, owners } = lowerGraph(graph, { seed: 1 });
  const init = initPlan(graph, owners);
  const links = new Map(weightLinks(graph, model).map((l) => [l.variable.originalName, l]));
  let topology: unknown = null;
  let specs: tf.io.WeightsManifestEntry[] = [];
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      topology = a.modelTopology;
      specs = a.weightSpecs ?? [];
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  const weights = specs.map((s) => {
    const link = links.get(s.name);
    if (!link) throw new ExportError(`the tfjs weight \`${s.name}\` has no PyTorch counterpart`);
    if (s.dtype !== 'float32') throw new ExportError(`the tfjs weight \`${s.name}\` is ${s.dtype}; train.py handles float32 only`);
    return { name: s.name, shape: s.shape, key: link.key, layout: link.layout };
  });
  return { modelTopology: topology, weights, init };
}

/** The files of DIR, by relative path. */
export async function exportTorchrun(graph: IRGraph, o: TorchrunOptions): Promise<Map<string, string | Uint8Array>> {
  const out = graph.nodes[graph.output]!.shape;
  if (out?.length !== 1)
    throw new ExportError(`${graph.net} outputs ${JSON.stringify(out)} per sample; training needs one score per class (a [classes] output)`);
  const input = graph.input;
  if (input.length !== 3) throw new ExportError(`${graph.net} takes ${JSON.stringify(input)}; the training program feeds images [C, H, W]`);
  const weightsFile = o.weights ? 'weights.safetensors' : null;
  const files = new Map<string, string | Uint8Array>();
  files.set('model.py', exportPytorch(graph, { source: o.source, weightsLoader: weightsFile ? pythonLoader(weightsFile) : undefined }));
  files.set('train.py', readFileSync(TRAIN_PY, 'utf8'));
  const spec = {
    generatedBy: 'netc export --to torchrun',
    net: graph.net,
    file: o.source,
    args: graph.args,
    input,
    classes: out[0],
    outputsProbabilities: outputsProbabilities(graph),
    defaults: DEFAULTS,
    weights: weightsFile,
    tfjs: await tfjsModel(graph),
  };
  files.set('netc_model.json', JSON.stringify(spec, null, 1) + '\n');
  for (const f of readdirSync(BUNDLED_SAMPLE)) files.set(join('data', 'fashion-mnist-sample', f), readFileSync(join(BUNDLED_SAMPLE, f)));
  if (o.weights) files.set('weights.safetensors', o.weights);
  files.set('README.md', readme(graph.net, o.source, input, out[0]!, weightsFile));
  return files;
}

function readme(net: string, source: string, input: number[], classes: number, weights: string | null): string {
  return `# ${net}: \`netc train\` on PyTorch

Written by \`netc export ${source} --to torchrun\` for input ${input.join('x')} and ${classes} classes.
Needs Python 3 with PyTorch and NumPy (and Pillow for image folders); nothing from netc.

    python train.py --epochs 5                          # one process: CPU, or one GPU
    torchrun --nproc_per_node=4 train.py --epochs 5     # 4 processes (DistributedDataParallel)
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 train.py ...

The flags are \`netc train\`'s, with the same names and defaults (\`python train.py --help\`).
\`--batch-size\` is global: the images of one optimizer step over all processes, as in \`netc train\`.
Processes talk over NCCL when CUDA is available (one GPU per process), else over gloo on the CPU.

The run directory is \`netc train\`'s: config.json, metrics.jsonl, metrics.csv, result.json and
checkpoints/{best,last}. Only rank 0 writes, every file atomically; a killed run continues with
\`train.py --resume RUN\` (under the same launcher). The checkpoints load in netc:

    netc eval ${source} --weights RUN
    netc predict / netc cam / netc export --weights RUN

\`--weights RUN\` starts from a \`netc train\` run's weights (a run directory, a .safetensors file
from \`netc export --weights\`, or a folder with model.json + weights.bin)${weights ? `; without it, from ${weights} (exported with this program)` : ''}.
model.py is \`netc export --to pytorch\`: its state_dict keys are netc's weight names.
`;
}
