/**
 * `netc verify FILE...`: proves that netc's training computes what PyTorch computes, on the user's
 * own nets. Exit codes: 0 every tensor within tolerance, 1 beyond it (or diagnostics in a file),
 * 2 usage (including PyTorch not installed).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { compileFile } from '../api.js';
import { renderAll } from '../diagnostics/render.js';
import type { RunConfig } from '../train/config.js';
import { CONDITIONING, KINDS, VERIFY_BACKENDS, type ScheduleJob, type VerifyBackend, type VerifyJob } from '../verify/spec.js';
import { colorEnabled, EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE, parseAssignments, parseShape, UsageError } from './io.js';

const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'rmsprop'] as const;
const SCHEDULES = ['step', 'cosine', 'onecycle'] as const;

interface VerifyOptions {
  net?: string;
  set: string[];
  input?: string;
  batch: string;
  backend?: string[];
  optimizer: RunConfig['optimizer'];
  lr: string;
  momentum: string;
  weightDecay: string;
  steps: string;
  schedule?: string[];
  epochs: string;
  stepsPerEpoch: string;
  seed: string;
  all?: boolean;
  keep?: boolean;
  format: 'human' | 'json';
}

const tolerances = Object.entries(KINDS)
  .map(([k, v]) => `  ${k.padEnd(14)} <= ${v.tolerance.toExponential(0).padEnd(6)} ${v.what}`)
  .join('\n');

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check that netc trains exactly as PyTorch does: outputs, loss, gradients, optimizer steps, schedules')
    .argument('<files...>', '.net files')
    .option('--net <name>', 'which net of the file (needed when it defines several)')
    .option('--set <name=value...>', 'net arguments, e.g. --set classes=10', [])
    .option('--input <shape>', 'override the input shape, e.g. 3x64x64 (small inputs keep ImageNet nets fast)')
    .option('--batch <n>', 'batch size', '2')
    .addOption(new Option('--backend <name...>', 'backends to check (default: every one present)').choices([...VERIFY_BACKENDS]))
    .addOption(new Option('--optimizer <name>', 'optimizer whose steps are compared with torch.optim').choices([...OPTIMIZERS]).default('momentum'))
    .option('--lr <x>', 'learning rate', '0.1')
    .option('--momentum <x>', 'momentum (momentum, nesterov)', '0.9')
    .option('--weight-decay <x>', 'weight decay (L2 added to the gradient; decoupled for adamw)', '0')
    .option('--steps <n>', 'optimizer steps on the batch (2 or more exercise momentum and Adam state)', '2')
    .addOption(new Option('--schedule <name...>', 'learning-rate schedules compared with torch.optim.lr_scheduler (default: all)').choices([...SCHEDULES]))
    .option('--epochs <n>', 'epochs of the schedule comparison', '6')
    .option('--steps-per-epoch <n>', 'steps per epoch of the schedule comparison', '5')
    .option('--seed <n>', 'seed for the weights, the batch and dropout', '0')
    .option('--all', 'list every tensor, not only the worst')
    .option('--keep', 'keep the working directory (generated module, tensors) and print its path')
    .addOption(new Option('--format <format>', 'output format').choices(['human', 'json']).default('human'))
    .addHelpText(
      'after',
      `
How: the net is built twice from the same seeded weights and the same random batch: in netc (the
tfjs lowering) on each backend, and in PyTorch in float64 (netc export --to pytorch, weights handed
across as safetensors). Then --steps steps of the optimizer run on both sides, and every tensor is
compared, worst first, by its relative max-abs error max|netc - torch| / max|torch|.

Tolerances (relative max-abs error):
${tolerances}
A tensor whose reference is all but zero (e.g. the gradient of a conv bias just before a batch norm,
exactly 0 in theory) is measured against 1e-3 of the largest tensor of its kind instead.
What float32 cannot do is not counted against netc:
  - kinks: where PyTorch's float64 input to a ReLU (ReLU6, leaky ReLU, hardswish, hardsigmoid) lies
    within the forward tolerance (1e-4 of the tensor's max-abs) of the kink, or a max-pool window's
    maximum within it of netc's, and netc's rounding took the other side, the reference's gradient
    takes netc's side there (the report counts them);
  - ill-conditioned tensors: where netc is beyond a tolerance, PyTorch also runs in float32 (with the
    same kink sides); a tensor beyond its tolerance passes when netc's error is at most
    ${CONDITIONING}x PyTorch's own float32 error.

Backends: cpu, wasm (netc's kernels, no native addon), wasm+native (with the oneDNN addon, npm run
build:native), node and node-gpu (tfjs-node, when installed). One not present is reported as
unavailable and does not fail the check.

Needs PyTorch for python3 (Debian/Ubuntu: apt-get install python3-torch; or pip install torch);
NETC_PYTHON picks another interpreter. Debian's torch runs float64 on the system's BLAS, by default
the reference one (about 10x slower): apt-get install libopenblas0-pthread (verify says when).

Examples:
  netc verify stdlib/resnet20_cifar.net
  netc verify stdlib/resnet18.net --input 3x64x64 --backend wasm+native --optimizer adamw --weight-decay 0.05
  netc verify my.net --format json > verify.json       # specs/verify.schema.json

Exit status: 0 every tensor within tolerance, 1 beyond it (or errors in a file), 2 bad invocation
or PyTorch not installed. Docs: docs/verify.md.`,
    )
    .action(async (files: string[], o: VerifyOptions) => {
      process.exitCode = await runVerify(files, o);
    });
}

function int(v: string, flag: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, got "${v}"`);
  return n;
}

function num(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a number >= 0, got "${v}"`);
  return n;
}

async function runVerify(files: string[], o: VerifyOptions): Promise<number> {
  const json = o.format === 'json';
  try {
    return await verifyFiles(files, o);
  } catch (e) {
    if (json && e instanceof UsageError) {
      process.stdout.write(JSON.stringify({ error: e.message, exitCode: EXIT_USAGE }, null, 2) + '\n');
      process.stderr.write(`netc: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

async function verifyFiles(files: string[], o: VerifyOptions): Promise<number> {
  const job0 = {
    batch: int(o.batch, '--batch', 1),
    seed: int(o.seed, '--seed', 0),
    optimizer: o.optimizer,
    lr: num(o.lr, '--lr'),
    momentum: num(o.momentum, '--momentum'),
    weightDecay: num(o.weightDecay, '--weight-decay'),
    steps: int(o.steps, '--steps', 1),
  };
  const epochs = int(o.epochs, '--epochs', 1);
  const stepsPerEpoch = int(o.stepsPerEpoch, '--steps-per-epoch', 1);
  const args = parseAssignments(o.set);
  const input = o.input ? parseShape(o.input) : undefined;
  const { torchVersion, INSTALL_HELP, FAST_BLAS_HELP } = await import('../verify/python.js');
  const torch = torchVersion();
  if (!torch.version) throw new UsageError(`${INSTALL_HELP} (${torch.reason})`);
  if (torch.slowBlas) process.stderr.write(`note: ${FAST_BLAS_HELP}\n`);

  const inputs = [];
  let diagnostics = false;
  for (const [i, file] of files.entries()) {
    const path = resolve(file);
    if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`no such file: ${file}`);
    const r = compileFile(path, { args, input, net: o.net });
    process.stderr.write(renderAll(r.diagnostics, r.program.sources, { color: colorEnabled(process.stderr) }));
    if (r.diagnostics.some((d) => d.severity === 'error')) {
      diagnostics = true;
      continue;
    }
    if (r.graphs.length === 0) throw new UsageError(`${file} defines no net to verify (only blocks and definitions)`);
    if (r.graphs.length > 1) throw new UsageError(`${file} defines ${r.graphs.length} nets (${r.graphs.map((g) => g.net).join(', ')}); choose one with --net`);
    const job: VerifyJob = { id: `net${i}`, file, net: o.net, args, input, ...job0 };
    inputs.push({ job, graph: r.graphs[0]! });
  }
  if (diagnostics) {
    if (o.format === 'json')
      process.stdout.write(JSON.stringify({ error: 'errors in the .net file(s); see the diagnostics on stderr', exitCode: EXIT_DIAGNOSTICS }, null, 2) + '\n');
    return EXIT_DIAGNOSTICS;
  }
  const schedules: ScheduleJob[] = (o.schedule ?? [...SCHEDULES]).map((s) => ({
    id: `${s} (lr ${job0.lr}, ${epochs} epochs x ${stepsPerEpoch} steps)`,
    schedule: s as ScheduleJob['schedule'],
    lr: job0.lr,
    epochs,
    stepsPerEpoch,
    stepSize: Math.max(1, Math.floor(epochs / 3)),
    gamma: 0.1,
  }));
  const { verifyMany } = await import('../verify/engine.js');
  const report = await verifyMany(inputs, {
    backends: (o.backend ?? [...VERIFY_BACKENDS]) as VerifyBackend[],
    schedules,
    keep: o.keep,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  if (o.format === 'json') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    const { renderReport } = await import('../verify/render.js');
    process.stdout.write(renderReport(report, { all: Boolean(o.all), top: 5, color: colorEnabled(process.stdout) }));
  }
  return report.pass ? EXIT_OK : EXIT_DIAGNOSTICS;
}
