/**
 * `netc predict NET --weights RUN --data imagefolder:PATH --out predictions.csv`: one CSV row per
 * image below PATH (file, class, index, probability). Exit codes: 0 ok, 1 diagnostics/data, 2 usage.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { type Command, Option } from 'commander';
import { BACKENDS } from '../runtime/backend.js';
import { outputsProbabilities } from '../ops/index.js';
import { listImages, loadImages, predictionsCsv, predictSplit } from '../post/predict.js';
import { runClasses, runNormalization, RunError, type CheckpointName } from '../post/run.js';
import { log, openSession } from '../post/session.js';
import { EXIT_OK, progressWriter, UsageError } from './io.js';

interface PredictOpts {
  weights: string;
  data: string;
  out?: string;
  checkpoint: CheckpointName;
  net?: string;
  backend?: string;
  verbose: boolean;
  format: 'csv' | 'json';
  batchSize: string;
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .exitOverride()
    .description('classify every image of a folder with a trained run; one row per image (CSV or JSON)')
    .argument('<file>', 'the .net file the run was trained from (or a standard-library net by name)')
    .requiredOption('--weights <run>', 'run directory written by `netc train` (its --out, or the runs/<net>-<time> it printed)')
    .requiredOption('--data <spec>', 'imagefolder:PATH (or just PATH): every .png/.jpg below PATH, sub-folders included')
    .option('--out <file>', 'write the predictions here (default: stdout)')
    .addOption(new Option('--checkpoint <which>', 'best (by validation accuracy) or last').choices(['best', 'last']).default('best'))
    .option('--net <name>', 'which net of the file (default: the one the run trained)')
    .addOption(new Option('--backend <name>', 'force a backend (default: the first that loads)').choices([...BACKENDS]))
    .option('--verbose', "print the backend's details and why other backends were skipped", false)
    .addOption(
      new Option('--format <format>', 'csv: file,class,index,probability; json: an array with every probability').choices(['csv', 'json']).default('csv'),
    )
    .option('--batch-size <n>', 'images per forward pass', '128')
    .addHelpText(
      'after',
      `
Examples:
  netc train lenet5 --out runs/lenet5                                       # a run to predict with
  netc predict lenet5 --weights runs/lenet5 --data imagefolder:my-images --out predictions.csv
  netc train my.net --data imagefolder:photos --out runs/my
  netc predict my.net --weights runs/my --data new-photos --format json > predictions.json

Each image is decoded (PNG or JPEG), resized bilinearly to the net's input H x W (aspect ratio not
kept, no crop), converted to its channels (1: luminance 0.299R + 0.587G + 0.114B; 3: RGB; alpha is
ignored), scaled to [0, 1] and normalised with the run's mean/std, exactly as training read
--data imagefolder:. Rows follow the sorted relative paths; 'probability' is the softmax probability
of the predicted class. Class names come from the run (result.json or its dataset).
Exit status: 0 ok, 1 errors in the file, the run or the images, 2 bad invocation.`,
    )
    .action(async (file: string, o: PredictOpts) => {
      process.exitCode = await runPredict(file, o);
    });
}

async function runPredict(file: string, o: PredictOpts): Promise<number> {
  const root = resolve(o.data.startsWith('imagefolder:') ? o.data.slice('imagefolder:'.length) : o.data);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UsageError(`--data ${o.data}: no such folder (predict reads imagefolder:PATH)`);
  const batchSize = Number(o.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`--batch-size must be a positive integer, got "${o.batchSize}"`);
  const s = await openSession(file, {
    weights: o.weights,
    checkpoint: o.checkpoint,
    net: o.net,
    backend: o.backend,
    format: o.format === 'json' ? 'json' : 'human',
    verbose: o.verbose,
  });
  if (typeof s === 'number') return s;
  const code = s.report([]);
  if (code) return code;
  const files = listImages(root);
  if (files.length === 0) throw new RunError(`${root}: no .png or .jpg images`);
  const [c, h, w] = s.run.inputShape;
  const p = progressWriter();
  p.log(`predicting ${files.length} images from ${root} (resized to ${h}x${w}, ${c === 1 ? 'grayscale' : 'RGB'})`);
  const images = loadImages(files, s.run.inputShape, (done, total) => p.progress(`reading images: ${done}/${total}`));
  const norm = await runNormalization(s.run, p.log);
  const classes = await runClasses(s.run);
  const preds = predictSplit(s.run.model, images, s.run.inputShape, norm, outputsProbabilities(s.graph), batchSize, (done, total) =>
    p.progress(`predicting: ${done}/${total} images (${Math.floor((100 * done) / total)}%)`),
  );
  p.clear();
  const text =
    o.format === 'json'
      ? JSON.stringify(
          preds.map((p, i) => ({
            file: relative(root, files[i]!).split(sep).join('/'),
            class: classes[p.index],
            index: p.index,
            probability: p.probability,
            probabilities: p.probabilities,
          })),
          null,
          2,
        ) + '\n'
      : predictionsCsv(root, files, preds, classes);
  if (o.out) {
    writeFileSync(o.out, text);
    log(`wrote ${o.out}: ${preds.length} predictions`);
  } else process.stdout.write(text);
  return EXIT_OK;
}
