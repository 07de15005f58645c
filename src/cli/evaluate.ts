/**
 * `netc eval NET --weights RUN`: accuracy, per-class accuracy and confusion matrix of a trained run
 * on a test split (the run's dataset unless --data), with the run's normalisation.
 * Results on stdout (or --out), progress on stderr. Exit codes: 0 ok, 1 diagnostics/data, 2 usage.
 */
import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { BACKENDS } from '../runtime/backend.js';
import { outputsProbabilities } from '../ops/index.js';
import { DATASET_NAMES } from '../train/data/index.js';
import { evaluateRun, renderEvalReport } from '../post/evaluate.js';
import { log, openSession } from '../post/session.js';
import type { CheckpointName } from '../post/run.js';
import { checkDataName, EXIT_OK, progressWriter } from './io.js';

interface EvalOpts {
  weights: string;
  data?: string;
  dataDir?: string;
  checkpoint: CheckpointName;
  net?: string;
  backend?: string;
  verbose: boolean;
  format: 'human' | 'json';
  out?: string;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .exitOverride()
    .description('evaluate a trained run on a test split: accuracy, per-class accuracy, confusion matrix')
    .argument('<file>', 'the .net file the run was trained from (or a standard-library net by name)')
    .requiredOption('--weights <run>', 'run directory written by `netc train` (its --out, or the runs/<net>-<time> it printed)')
    .option('--data <name>', `dataset whose test split to use (default: the run's): ${DATASET_NAMES.join(' | ')}`)
    .option('--data-dir <dir>', "where the dataset files are (default: the run's --data-dir)")
    .addOption(new Option('--checkpoint <which>', 'best (by validation accuracy) or last').choices(['best', 'last']).default('best'))
    .option('--net <name>', 'which net of the file (default: the one the run trained)')
    .addOption(new Option('--backend <name>', 'force a backend (default: the first that loads)').choices([...BACKENDS]))
    .option('--verbose', "print the backend's details and why other backends were skipped", false)
    .addOption(new Option('--format <format>', 'human: tables; json: one document').choices(['human', 'json']).default('human'))
    .option('--out <file>', 'write the report to this file instead of stdout')
    .addHelpText(
      'after',
      `
Examples:
  netc train lenet5 --out runs/lenet5                                       # a run to evaluate
  netc eval lenet5 --weights runs/lenet5                                    # the run's own test split
  netc eval lenet5 --weights runs/lenet5 --data fashion-mnist                # the full Fashion-MNIST test set
  netc eval lenet5 --weights runs/lenet5 --checkpoint last --format json > eval.json
  netc train my.net --data imagefolder:photos --out runs/my                 # photos/<class>/*.png
  netc eval my.net --weights runs/my                                        # photos/test/<class>/*.png

Inputs are normalised with the mean/std the run trained with (recomputed from its training data
when config.json does not store them). JSON: net, run, checkpoint, data, images, accuracy, loss,
classes, perClassAccuracy, support, confusionMatrix (rows: true class), normalization.
Exit status: 0 ok, 1 errors in the file, the run or the data, 2 bad invocation.`,
    )
    .action(async (file: string, o: EvalOpts) => {
      process.exitCode = await runEval(file, o);
    });
}

async function runEval(file: string, o: EvalOpts): Promise<number> {
  checkDataName(o.data, DATASET_NAMES);
  const s = await openSession(file, { weights: o.weights, checkpoint: o.checkpoint, net: o.net, backend: o.backend, format: o.format, verbose: o.verbose });
  if (typeof s === 'number') return s;
  const code = s.report([]);
  if (code) return code;
  const p = progressWriter();
  const progress = (done: number, total: number) => p.progress(`evaluating: ${done}/${total} images (${Math.floor((100 * done) / total)}%)`);
  const report = await evaluateRun(s.run, s.graph.net, {
    data: o.data,
    dataDir: o.dataDir,
    outputsProbabilities: outputsProbabilities(s.graph),
    log: p.log,
    progress,
  });
  p.clear();
  const text = o.format === 'json' ? JSON.stringify(report, null, 2) + '\n' : renderEvalReport(report);
  if (o.out) {
    writeFileSync(o.out, text);
    log(`wrote ${o.out}: accuracy ${(100 * report.accuracy).toFixed(2)}% on ${report.images} images`);
  } else process.stdout.write(text);
  return EXIT_OK;
}
