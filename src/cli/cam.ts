/**
 * `netc cam NET --weights RUN --image FILE [--class K] --out cam.png`: the class activation map
 * (Zhou et al. 2016) of one image as a jet heatmap blended over it. Nets without a head of global
 * average pooling + linear get diagnostic NET4001 pointing at their head.
 * Exit codes: 0 ok, 1 diagnostics/data, 2 usage.
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { type Command, Option } from 'commander';
import { BACKENDS } from '../runtime/backend.js';
import { computeCam, findCamHead, normalizeMap, overlayPng, peak, resizeMap } from '../post/cam.js';
import { inputBatch, loadImages } from '../post/predict.js';
import { runClasses, runNormalization, type CheckpointName } from '../post/run.js';
import { log, openSession } from '../post/session.js';
import { decodeImage } from '../train/data/imagefolder.js';
import { EXIT_OK, UsageError } from './io.js';

interface CamOpts {
  weights: string;
  image: string;
  class?: string;
  out: string;
  checkpoint: CheckpointName;
  net?: string;
  backend?: string;
  verbose: boolean;
  alpha: string;
  scale: string;
  format: 'human' | 'json';
}

export function registerCam(program: Command): void {
  program
    .command('cam')
    .exitOverride()
    .description('class activation map (Zhou et al. 2016) of one image, as a heatmap PNG over it')
    .argument('<file>', 'the .net file the run was trained from (its head must be global average pooling + linear)')
    .requiredOption('--weights <run>', 'run directory written by `netc train` (its --out, or the runs/<net>-<time> it printed)')
    .requiredOption('--image <file>', 'a .png or .jpg image')
    .option('--class <k>', 'class index or name to explain (default: the predicted class)')
    .option('--out <file>', 'the PNG to write', 'cam.png')
    .addOption(new Option('--checkpoint <which>', 'best (by validation accuracy) or last').choices(['best', 'last']).default('best'))
    .option('--net <name>', 'which net of the file (default: the one the run trained)')
    .addOption(new Option('--backend <name>', 'force a backend (default: the first that loads)').choices([...BACKENDS]))
    .option('--verbose', "print the backend's details and why other backends were skipped", false)
    .option('--alpha <x>', 'heatmap opacity over the image, 0..1', '0.5')
    .option('--scale <n>', 'enlarge the PNG by this integer factor (for small images such as 28x28)', '1')
    .addOption(new Option('--format <format>', 'human: a line on stdout; json: class, probability, peak, out').choices(['human', 'json']).default('human'))
    .addHelpText(
      'after',
      `
Examples:
  netc train vgg16_gap --data imagefolder:pets --out runs/vgg               # a run with a CAM head
  netc cam vgg16_gap --weights runs/vgg --image dog.jpg --out dog-cam.png
  netc train my.net --data imagefolder:photos --out runs/my
  netc cam my.net --weights runs/my --image x.png --class 3 --scale 8 --out x-cam.png
  netc cam my.net --weights runs/my --image x.png --format json

The map is M_c(x, y) = sum_k w[c, k] * A_k(x, y), A the feature maps that enter the global average
pooling and w the following linear layer's weights (bias left out). It is upsampled (bilinear) to
the image's own size, normalised to [0, 1] (min to max) and coloured with a jet colormap (blue low,
red high), blended over the image: alpha * heat + (1 - alpha) * image. The image enters the net
as predict prepares it (resized to the input, run normalisation). Printed: the class, its
probability and the peak of the map in image pixels.
A head the map cannot be computed for is error NET4001 (\`netc explain NET4001\`).
Exit status: 0 ok, 1 errors in the file, the run or the image, 2 bad invocation.`,
    )
    .action(async (file: string, o: CamOpts) => {
      process.exitCode = await runCam(file, o);
    });
}

async function runCam(file: string, o: CamOpts): Promise<number> {
  const alpha = Number(o.alpha);
  if (!Number.isFinite(alpha) || alpha < 0 || alpha > 1) throw new UsageError(`--alpha must be a number in [0, 1], got "${o.alpha}"`);
  const scale = Number(o.scale);
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) throw new UsageError(`--scale must be an integer in [1, 64], got "${o.scale}"`);
  if (!existsSync(o.image)) throw new UsageError(`--image ${o.image}: no such file`);
  if (!/\.(png|jpe?g)$/i.test(o.image)) throw new UsageError(`--image ${o.image}: expected a .png or .jpg file`);
  const s = await openSession(file, { weights: o.weights, checkpoint: o.checkpoint, net: o.net, backend: o.backend, format: o.format, verbose: o.verbose });
  if (typeof s === 'number') return s;
  const found = findCamHead(s.graph);
  const code = s.report('diagnostic' in found ? [found.diagnostic] : []);
  if (code || 'diagnostic' in found) return code || 1;
  const classes = await runClasses(s.run);
  let classIndex: number | undefined;
  if (o.class != null) {
    classIndex = /^\d+$/.test(o.class) ? Number(o.class) : classes.indexOf(o.class);
    if (classIndex < 0 || classIndex >= classes.length) {
      throw new UsageError(`--class ${o.class}: not a class of this run (0..${classes.length - 1}, or one of: ${classes.join(', ')})`);
    }
  }
  const image = decodeImage(o.image);
  const split = loadImages([o.image], s.run.inputShape);
  const norm = await runNormalization(s.run, log);
  const x = inputBatch(split, 0, 1, s.run.inputShape, norm);
  const cam = computeCam(s.run.model, found.head, x, classIndex);
  tf.dispose(x);
  const heat = normalizeMap(resizeMap(cam.map, cam.h, cam.w, image.height, image.width));
  const at = peak(heat, image.width);
  writeFileSync(o.out, overlayPng(image, heat, alpha, scale));
  const name = classes[cam.classIndex] ?? String(cam.classIndex);
  const predicted = cam.probabilities.indexOf(Math.max(...cam.probabilities));
  if (o.format === 'json') {
    const doc = {
      image: o.image,
      out: o.out,
      class: name,
      index: cam.classIndex,
      probability: cam.probability,
      predicted: { class: classes[predicted] ?? String(predicted), index: predicted, probability: cam.probabilities[predicted] },
      peak: at,
      featureMap: { layer: found.head.features.name, height: cam.h, width: cam.w },
    };
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  } else {
    const why =
      classIndex == null
        ? 'predicted'
        : predicted === cam.classIndex
          ? 'requested, also predicted'
          : `requested; predicted: ${classes[predicted]} ${(100 * cam.probabilities[predicted]!).toFixed(1)}%`;
    process.stdout.write(
      `class ${cam.classIndex} (${name}), probability ${(100 * cam.probability).toFixed(1)}% (${why}); peak at x=${at.x}, y=${at.y}; wrote ${o.out}\n`,
    );
  }
  return EXIT_OK;
}
