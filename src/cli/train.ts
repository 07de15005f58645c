/**
 * `netc train FILE --data NAME`: compile, lower to tfjs, train, and write a run directory.
 * Progress and per-epoch lines go to stderr; the final results (test accuracy, per-class accuracy,
 * confusion matrix, run directory) to stdout. Exit codes: 0 ok, 1 diagnostics/data/training
 * problems (bad data, NaN/Inf, not enough memory, a damaged run directory), 2 usage; 130 after
 * SIGINT (Ctrl-C) and 143 after SIGTERM, each once a checkpoint is saved (`--resume DIR` continues).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { compileFile } from '../api.js';
import { renderAll } from '../diagnostics/render.js';
import { BACKENDS, describeBackend, selectBackend } from '../runtime/backend.js';
import { DEFAULTS, type RunConfig } from '../train/config.js';
import { DATASET_NAMES, loadDataset } from '../train/data/index.js';
import { take } from '../train/data/dataset.js';
import { netFileArgument } from './netfile.js';
import { train } from '../train/loop.js';
import { GiB, memoryProblem, sizeOfModel } from '../train/memory.js';
import { recomputation } from '../runtime/remat.js';
import { planData, planNet, runConfig } from '../train/plan.js';
import {
  cleanRunDir,
  createRunDir,
  kernelsOf,
  loadCheckpoint,
  readRunConfig,
  resumableCheckpoint,
  runDirName,
  runtimeOf,
  runtimeSwitch,
  writeFileAtomic,
} from '../train/rundir.js';
import { lowerGraph } from '../lower/lower.js';
import { UserError } from '../diagnostics/user-error.js';
import { backendLines, checkDataName, colorEnabled, EXIT_DIAGNOSTICS, EXIT_OK, parseAssignments, progressWriter, UsageError } from './io.js';

const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'rmsprop'] as const;
const SCHEDULES = ['none', 'step', 'cosine', 'onecycle'] as const;

function int(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}
/** A number option in [min, max] (or (min, max] when minExclusive); the message states the range as a reader would. */
function float(name: string, min: number, max = Infinity, minExclusive = false) {
  const range = max === Infinity ? `a number ${minExclusive ? '>' : '>='} ${min}` : `a number in ${minExclusive ? '(' : '['}${min}, ${max}]`;
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || Number.isNaN(n) || n < min || n > max || (minExclusive && n === min)) throw new UsageError(`${name} must be ${range}, got "${v}"`);
    return n;
  };
}

interface Opts {
  data: string;
  dataDir?: string;
  download: boolean;
  net?: string;
  set: string[];
  backend?: string;
  epochs: number;
  batchSize: number;
  optimizer: RunConfig['optimizer'];
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: RunConfig['schedule'];
  stepSize: number;
  gamma: number;
  crop: number;
  flip: boolean;
  normalize: boolean;
  valSplit: number;
  subset?: number;
  testSubset?: number;
  seed: number;
  out?: string;
  resume?: string;
  memoryLimit?: number;
  verbose: boolean;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a network on a dataset with TensorFlow.js (wasm on a CPU-only machine)')
    .argument('[file]', '.net file, or a standard-library net by name (resnet34); omit with --resume')
    .addOption(new Option('--data <name>', `dataset: ${DATASET_NAMES.join(' | ')}`).default('fashion-mnist-sample'))
    .option('--data-dir <dir>', 'where the dataset files are (searched before the cache and system folders)')
    .option('--no-download', 'never try to download missing dataset files')
    .option('--net <name>', 'which net of the file (default: its only or first one)')
    .option('--set <name=value...>', 'net arguments, e.g. --set classes=100', [])
    .addOption(new Option('--backend <name>', 'force a backend (default: the first that loads)').choices([...BACKENDS]))
    .option('--epochs <n>', 'epochs', int('--epochs', 1), DEFAULTS.epochs)
    .option('--batch-size <n>', 'mini-batch size', int('--batch-size', 1), DEFAULTS.batchSize)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZERS]).default(DEFAULTS.optimizer))
    .option('--lr <x>', 'learning rate (the peak rate for onecycle)', float('--lr', 0, Infinity, true), DEFAULTS.lr)
    .option('--momentum <x>', 'momentum for momentum/nesterov', float('--momentum', 0, 1), DEFAULTS.momentum)
    .option('--weight-decay <x>', 'weight decay (L2; decoupled for adamw)', float('--weight-decay', 0), DEFAULTS.weightDecay)
    .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices([...SCHEDULES]).default(DEFAULTS.schedule))
    .option('--step-size <n>', 'step schedule: epochs between decays (StepLR step_size)', int('--step-size', 1), DEFAULTS.stepSize)
    .option('--gamma <x>', 'step schedule: decay factor', float('--gamma', 0, 1), DEFAULTS.gamma)
    .option('--crop <n>', 'augmentation: random crop after zero-padding by n pixels (0: off)', int('--crop', 0), 0)
    .option('--flip', 'augmentation: random horizontal flip', false)
    .option('--no-normalize', "don't normalise with the training set's per-channel mean/std")
    .option('--val-split <x>', 'fraction of the training set held out for validation', float('--val-split', 0, 0.9), DEFAULTS.valSplit)
    .option('--subset <n>', 'train on the first n training examples only (the test set stays whole: see --test-subset)', int('--subset', 1))
    .option(
      '--test-subset <n>',
      'test on the first n test examples only (quick trials; the final test pass of a big net takes minutes)',
      int('--test-subset', 1),
    )
    .option('--seed <n>', 'seed for init, shuffling and augmentation', int('--seed', 0), DEFAULTS.seed)
    .option('--out <dir>', 'run directory (default: a new folder under runs/)')
    .option('--resume <dir>', 'continue the run in this directory from its last checkpoint')
    .option('--memory-limit <GiB>', 'memory the training estimate must fit in (default: the machine, at most 4 GiB on wasm)', float('--memory-limit', 0))
    .option('--verbose', "print the backend's details and why other backends were skipped", false)
    .addHelpText(
      'after',
      `
Examples:
  netc train lenet5                                            # bundled Fashion-MNIST sample, no set-up
  netc train lenet5 --data fashion-mnist --epochs 5 --out runs/lenet5
  netc train resnet34 --data cifar10 --subset 2000 --test-subset 500 --epochs 1   # a quick trial
  netc train stdlib/resnet20_cifar.net --data cifar10 --data-dir ~/cifar-10-batches-bin \\
       --optimizer momentum --lr 0.1 --weight-decay 5e-4 --schedule cosine --crop 4 --flip
  netc train --resume runs/lenet5 --epochs 20

A net's input shape and, when it has a \`classes\` parameter, its number of classes are fitted to
the data (ResNet-34's 3x224x224 and 1000 classes become CIFAR-10's 3x32x32 and 10); what was
adapted is printed. \`netc nets\` lists the standard library's nets.

The run directory holds config.json, metrics.jsonl, metrics.csv, loss.svg, accuracy.svg,
result.json and checkpoints/{best,last} (TensorFlow.js model format + optimizer state).
Ctrl-C (SIGINT) and SIGTERM save checkpoints/last at the current step and exit with code 130 and
143; --resume continues exactly where it stopped. Every file is written atomically, so a run killed
at any moment (even SIGKILL) resumes from its last complete checkpoint.
Exit codes: 0 done, 1 diagnostics / data / NaN / memory / run-directory problems, 2 usage,
130 SIGINT, 143 SIGTERM.`,
    )
    .action(async (file: string | undefined, opts: Opts) => {
      process.exitCode = await runTrain(file, opts);
    });
}

/** Progress on stderr, plus the interruption flag the training loop polls between steps. */
function makeIo() {
  let stop = false;
  return {
    ...progressWriter(),
    interrupted: () => stop,
    interrupt() {
      stop = true;
    },
  };
}

/** Exit codes after a signal: 128 + the signal's number, as shells report them. */
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;

async function runTrain(file: string | undefined, o: Opts): Promise<number> {
  const io = makeIo();
  if (file !== undefined) file = netFileArgument(file);
  checkDataName(o.data, DATASET_NAMES);
  let prior: RunConfig | null = null;
  if (o.resume) {
    const cfgFile = join(o.resume, 'config.json');
    if (!existsSync(cfgFile)) throw new UsageError(`--resume ${o.resume}: not a run directory (no config.json)`);
    prior = readRunConfig(o.resume);
  } else if (!file) {
    throw new UsageError('train needs a .net file (or --resume RUN_DIR)');
  }

  const choice = await selectBackend(o.backend ?? prior?.backend);
  for (const l of backendLines(describeBackend(choice), o.verbose)) io.log(l);

  // Everything that can fail (data, the net, memory) fails before the run directory is touched.
  const dataName = prior?.data ?? o.data;
  // Image folders have no size of their own: they are resized to the input the net declares.
  const src = prior?.file ?? file;
  const inputShape =
    dataName.startsWith('imagefolder:') && src
      ? compileFile(src, { args: prior?.args ?? parseAssignments(o.set), net: prior ? prior.net || undefined : o.net }).graphs[0]?.input
      : undefined;
  let dataset = await loadDataset(dataName, { dataDir: prior?.dataDir ?? o.dataDir, download: o.download, log: io.log, inputShape });

  const cfg = runConfig({ ...o, args: parseAssignments(o.set) }, file, prior, { name: choice.name, kernels: kernelsOf(choice) });
  io.log(planData(dataset, cfg).line);
  if (cfg.testSubset != null) dataset = { ...dataset, test: take(dataset.test, cfg.testSubset, dataset.shape[0] * dataset.shape[1] * dataset.shape[2]) };
  const memoryLimit = o.memoryLimit != null ? o.memoryLimit * GiB : undefined;

  let model;
  let resume;
  if (prior && o.resume) {
    for (const l of cleanRunDir(o.resume)) io.log(l);
    if (resumableCheckpoint(o.resume)) {
      const ck = await loadCheckpoint(o.resume, 'last');
      const switched = runtimeSwitch(ck.state.runtime ?? runtimeOf(prior), runtimeOf(cfg));
      if (switched) io.log(switched);
      model = ck.model;
      resume = { state: ck.state, optimizerWeights: ck.optimizerWeights };
      const at = ck.state.step ? `epoch ${ck.state.epoch + 1}, step ${ck.state.step}` : `epoch ${ck.state.epoch}`;
      io.log(`resuming ${o.resume} after ${at}`);
      const problem = memoryProblem(prior.net, sizeOfModel(model), cfg, choice.name, memoryLimit);
      if (problem) throw new UserError(problem);
    } else {
      io.log(`${o.resume} has no checkpoint yet: starting it from the beginning`);
    }
  }
  if (!model) {
    const src = cfg.file;
    if (!src) throw new UsageError(`--resume ${o.resume}: the run names no .net file and has no checkpoint`);
    const net = prior ? prior.net || undefined : o.net;
    const { compiled, plan } = planNet((c) => compileFile(src, { ...c, net }), cfg, dataset, choice.name, { resuming: prior != null, memoryLimit });
    if (compiled.diagnostics.length) process.stderr.write(renderAll(compiled.diagnostics, compiled.program.sources, { color: colorEnabled(process.stderr) }));
    if (!plan) return EXIT_DIAGNOSTICS;
    if (plan.classMismatch) throw new UserError(plan.classMismatch);
    if (plan.adaptations.length) io.log(`adapted ${plan.net} to ${dataset.name}: ${plan.adaptations.join(', ')}`);
    cfg.net = plan.net;
    cfg.args = plan.args;
    cfg.outputsProbabilities = plan.outputsProbabilities;
    if (plan.memoryProblem) throw new UserError(plan.memoryProblem);
    // Recompute batch norm / ReLU outputs in backprop only where keeping them would not fit.
    recomputation.enabled = plan.recompute;
    if (recomputation.enabled) io.log('memory: batch norm and ReLU outputs are recomputed in backprop to fit the wasm heap');
    model = lowerGraph(plan.graph, { seed: cfg.seed }).model;
  }
  const runDir = o.resume ?? runDirName(o.out, cfg.net);
  cfg.out = runDir;
  if (o.resume) writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  else createRunDir(runDir, JSON.stringify(cfg, null, 2) + '\n');
  io.log(`run directory: ${runDir}`);

  // SIGINT (Ctrl-C) and SIGTERM: finish the step, save checkpoints/last, exit 130 / 143. A second
  // signal exits at once; the checkpoint on disk is then the previous complete one.
  let signalCode = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGTERM' ? EXIT_SIGTERM : EXIT_SIGINT;
    if (signalCode) process.exit(signalCode);
    signalCode = code;
    io.log(
      `${sig === 'SIGINT' ? 'interrupt' : sig}: finishing this step and saving a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to abort)`,
    );
    io.interrupt();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // A run made before the flag was recorded: its model's last layer says (a softmax activation).
    const outputsProbabilities = cfg.outputsProbabilities ?? model.layers.at(-1)?.getConfig()['activation'] === 'softmax';
    const r = await train({ config: cfg, model, dataset, runDir, io, resume, outputsProbabilities });
    if (r.interrupted) {
      io.log(`interrupted; checkpoint in ${join(runDir, 'checkpoints', 'last')}; continue with: netc train --resume ${runDir}`);
      return signalCode || EXIT_SIGINT;
    }
    const out: string[] = [];
    if (r.testAccuracy != null) {
      out.push(
        `test accuracy: ${(100 * r.testAccuracy).toFixed(2)}% (${dataset.test.count} images, ${plural(r.epochs, 'epoch')}, ${r.seconds.toFixed(1)} s, backend ${r.backend})`,
      );
      out.push('per-class accuracy:');
      for (const [c, a] of Object.entries(r.perClassAccuracy)) out.push(`  ${c.padEnd(14)} ${(100 * a).toFixed(1)}%`);
      out.push('confusion matrix (rows: true class, columns: predicted):');
      const w = Math.max(4, ...r.confusionMatrix.flat().map((v) => String(v).length + 1));
      r.confusionMatrix.forEach((row, i) => out.push(`  ${String(i).padStart(3)} ${row.map((v) => String(v).padStart(w)).join('')}`));
    }
    out.push(`run directory: ${runDir}`);
    process.stdout.write(out.join('\n') + '\n');
    return EXIT_OK;
  } finally {
    // A failure (NaN, out of memory, a damaged run directory) is printed by main after this: end the
    // live progress line first.
    io.clear();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
