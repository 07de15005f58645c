/**
 * `netc export FILE --to pytorch|tfjs|dot|svg`: the network in another form. Results go to stdout
 * or `--out`; progress to stderr. Exit codes: 0 ok, 1 diagnostics in the file (or a network the
 * target cannot express), 2 usage (including a missing `dot` binary for --to svg).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type Command, Option } from 'commander';
import { compileFile } from '../api.js';
import { renderAll } from '../diagnostics/render.js';
import { exportDot } from '../export/dot.js';
import { exportPytorch } from '../export/pytorch.js';
import { inContext } from '../diagnostics/user-error.js';
import type { IRGraph } from '../ir/types.js';
import { netFileArgument } from './netfile.js';
import { colorEnabled, EXIT_DIAGNOSTICS, EXIT_OK, parseAssignments, parseShape, UsageError } from './io.js';

const TARGETS = ['pytorch', 'tfjs', 'torchrun', 'dot', 'svg'] as const;
type Target = (typeof TARGETS)[number];

interface ExportOptions {
  to: Target;
  out?: string;
  set: string[];
  input?: string;
  net?: string;
  weights?: string;
  checkpoint: 'best' | 'last';
  rankdir: 'TB' | 'LR';
  verbose: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a network as PyTorch code, a tfjs model, or a Graphviz diagram')
    .argument('<file>', 'a .net file, or a standard-library net by name (resnet34)')
    .addOption(
      new Option(
        '--to <target>',
        'pytorch: a Python module (nn.Module classes); tfjs: model.json + weights.bin; torchrun: a PyTorch training program (a directory); dot: Graphviz source; svg: a rendered diagram',
      )
        .choices([...TARGETS])
        .makeOptionMandatory(),
    )
    .option('--out <path>', 'where to write (a file; a directory for --to tfjs and torchrun). Default: stdout (not for tfjs, torchrun)')
    .option('--set <name=value...>', 'net arguments, e.g. --set classes=10', [])
    .option('--input <shape>', 'override the input shape, e.g. 3x32x32')
    .option('--net <name>', 'which net of the file (needed when it defines several)')
    .option(
      '--weights <run-dir>',
      "a `netc train` run directory: export its trained weights too (pytorch: a .safetensors file beside the module; tfjs: the trained model; torchrun: weights.safetensors, train.py's starting point)",
    )
    .addOption(
      new Option('--checkpoint <which>', 'with --weights: the best (by validation accuracy) or last checkpoint').choices(['best', 'last']).default('best'),
    )
    .addOption(new Option('--rankdir <dir>', 'diagram direction for dot/svg').choices(['TB', 'LR']).default('TB'))
    .option('--verbose', "with --weights: print the backend's details and why other backends were skipped", false)
    .addHelpText(
      'after',
      `
Targets:
  pytorch  A readable Python file: one nn.Module class per block (constructor arguments for what
           differs between its instances), nn.Sequential for sequential scopes, and a model class.
           Submodule names are netc's hierarchical names, so state_dict() keys are netc's weight
           names — torchvision's for the stdlib networks that mirror it (torchvision weights load
           with strict=True). Run it: python3 model.py prints the parameter count.
  torchrun \`netc train\` as a PyTorch program in the --out directory: model.py, train.py (the same
           flags, datasets, split, run directory; python train.py, or torchrun --nproc_per_node=N
           train.py with DistributedDataParallel), README.md. With --weights it starts from the run's
           weights. Docs: docs/torchrun.md.
  tfjs     A TensorFlow.js LayersModel (model.json + weights.bin) in the --out directory, freshly
           initialised as netc does (seeded), loadable with tf.loadLayersModel.
  dot      Graphviz source: one node per layer, blocks as clusters, edges labelled with shapes.
  svg      The same diagram rendered by Graphviz's \`dot\` (install the graphviz package).

Examples:
  netc export stdlib/resnet34.net --to pytorch --out resnet34.py
  netc export stdlib/resnet18.net --to pytorch --set classes=10 --input 3x32x32
  netc export stdlib/googlenet.net --to svg --out googlenet.svg
  netc export stdlib/lenet5.net --to tfjs --out lenet5-tfjs/
  netc export stdlib/lenet5.net --to torchrun --out lenet5-torch/ && torchrun --nproc_per_node=2 lenet5-torch/train.py

Exit status: 0 written, 1 errors in the file (or a network the target cannot express), 2 bad invocation.
Docs: docs/export.md.`,
    )
    .action(async (file: string, options: ExportOptions) => {
      process.exitCode = await runExport(file, options);
    });
}

async function runExport(file: string, options: ExportOptions): Promise<number> {
  const path = netFileArgument(file);
  if (options.weights !== undefined && options.to !== 'pytorch' && options.to !== 'tfjs' && options.to !== 'torchrun') {
    throw new UsageError(`--weights goes with --to pytorch or --to tfjs or --to torchrun, not --to ${options.to}`);
  }
  if (options.weights !== undefined && options.to === 'pytorch' && !options.out) {
    throw new UsageError("--to pytorch --weights writes two files (the module and its .safetensors): give the module's path with --out");
  }
  if ((options.to === 'tfjs' || options.to === 'torchrun') && !options.out)
    throw new UsageError(`--to ${options.to} writes several files: give a directory with --out`);

  if (options.weights !== undefined) return exportTrained(path, options);

  const result = compileFile(path, {
    args: parseAssignments(options.set),
    input: options.input ? parseShape(options.input) : undefined,
    net: options.net,
  });
  process.stderr.write(renderAll(result.diagnostics, result.program.sources, { color: colorEnabled(process.stderr) }));
  if (result.diagnostics.some((d) => d.severity === 'error')) return EXIT_DIAGNOSTICS;
  if (result.graphs.length === 0) throw new UsageError(`${file} defines no net to export (only blocks and definitions)`);
  if (result.graphs.length > 1) {
    throw new UsageError(`${file} defines ${result.graphs.length} nets (${result.graphs.map((g) => g.net).join(', ')}); choose one with --net`);
  }
  const graph = result.graphs[0]!;

  switch (options.to) {
    case 'pytorch': {
      const code = inContext(`cannot export \`${graph.net}\` to PyTorch`, () => exportPytorch(graph, { source: file }));
      emit(code, options.out, `PyTorch module for ${graph.net}`);
      return EXIT_OK;
    }
    case 'dot':
      emit(exportDot(graph, { rankdir: options.rankdir }), options.out, `Graphviz source for ${graph.net}`);
      return EXIT_OK;
    case 'svg': {
      const rendered = spawnSync('dot', ['-Tsvg'], { input: exportDot(graph, { rankdir: options.rankdir }), maxBuffer: 256 * 1024 * 1024 });
      if (rendered.error) {
        if ((rendered.error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new UsageError(
            "--to svg needs Graphviz's `dot` program: install graphviz (e.g. apt-get install graphviz), or use --to dot and render it elsewhere",
          );
        }
        throw rendered.error;
      }
      if (rendered.status !== 0) {
        process.stderr.write(`error: dot failed (exit ${rendered.status}): ${rendered.stderr.toString()}\n`);
        return EXIT_DIAGNOSTICS;
      }
      emit(rendered.stdout, options.out, `SVG diagram of ${graph.net}`);
      return EXIT_OK;
    }
    case 'tfjs':
      return exportTfjs(graph, options.out!);
    case 'torchrun':
      return writeTorchrun(graph, file, options.out!);
  }
}

function emit(data: string | Uint8Array, out: string | undefined, what: string): void {
  if (!out) {
    process.stdout.write(data);
    return;
  }
  writeFileSync(out, data);
  process.stderr.write(`wrote ${what} to ${out}\n`);
}

async function exportTfjs(graph: IRGraph, out: string): Promise<number> {
  const { lowerGraph } = await import('../lower/lower.js');
  const { selectBackend } = await import('../runtime/backend.js');
  await selectBackend('cpu');
  const model = lowerGraph(graph, { seed: 1 }).model;
  await saveTfjs(model, out);
  return EXIT_OK;
}

async function saveTfjs(model: import('@tensorflow/tfjs-layers').LayersModel, out: string): Promise<void> {
  const { saveLayersModel } = await import('../lower/save.js');
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a file; --to tfjs needs a directory`);
  mkdirSync(out, { recursive: true });
  await saveLayersModel(model, out, 'netc export');
  process.stderr.write(`wrote ${join(out, 'model.json')} and ${join(out, 'weights.bin')} (${model.countParams().toLocaleString('en-US')} tfjs weights)\n`);
}

/** `--to torchrun`: the training program's files into the directory `out` (see src/export/torchrun.ts). */
async function writeTorchrun(graph: IRGraph, file: string, out: string, weights?: Uint8Array): Promise<number> {
  const { exportTorchrun } = await import('../export/torchrun.js');
  const { selectBackend } = await import('../runtime/backend.js');
  await selectBackend('cpu');
  const files = await inContext(`cannot export \`${graph.net}\` as a torchrun program`, () => exportTorchrun(graph, { source: file, weights }));
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a file; --to torchrun needs a directory`);
  for (const [name, data] of files) {
    mkdirSync(dirname(join(out, name)), { recursive: true });
    writeFileSync(join(out, name), data);
  }
  process.stderr.write(
    `wrote ${join(out, 'train.py')}, model.py, README.md (${graph.net}); run: python ${join(out, 'train.py')}, or torchrun --nproc_per_node=N ${join(out, 'train.py')}\n`,
  );
  return EXIT_OK;
}

/**
 * `--weights RUN`: the network as the run trained it (its arguments and input shape) with its weights.
 * PyTorch gets the module plus a .safetensors file beside it; tfjs gets the trained model itself.
 */
async function exportTrained(file: string, options: ExportOptions): Promise<number> {
  if (options.set.length > 0 || options.input) throw new UsageError('--set and --input do not go with --weights: the run fixes the arguments and input shape');
  const { openSession } = await import('../post/session.js');
  const session = await openSession(file, { weights: options.weights!, checkpoint: options.checkpoint, net: options.net, verbose: options.verbose });
  if (typeof session === 'number') return session;
  const code = session.report([]);
  if (code) return code;
  const { graph, run } = session;
  if (options.to === 'tfjs') {
    await saveTfjs(run.model, options.out!);
    return EXIT_OK;
  }
  const { pythonLoader, safetensors, stateDict } = await import('../export/weights.js');
  const meta = { net: graph.net, run: run.dir, checkpoint: options.checkpoint };
  const trained = 'cannot export the trained network';
  if (options.to === 'torchrun')
    return writeTorchrun(
      graph,
      file,
      options.out!,
      inContext(trained, () => safetensors(stateDict(graph, run.model), meta)),
    );
  const out = options.out!;
  const weightsPath = `${out.replace(/\.py$/, '')}.safetensors`;
  const python = inContext(trained, () => exportPytorch(graph, { source: file, weightsLoader: pythonLoader(basename(weightsPath)) }));
  const tensors = inContext(trained, () => safetensors(stateDict(graph, run.model), meta));
  emit(python, out, `PyTorch module for ${graph.net}`);
  emit(tensors, weightsPath, `the ${options.checkpoint} checkpoint's weights (load_netc_weights in the module reads them)`);
  return EXIT_OK;
}
