import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * Writes a LayersModel as model.json + weights.bin (the tfjs format `tf.loadLayersModel` reads) into
 * `dir`, through `write` (plain, atomic or durable writes: the caller's choice). tfjs-node's `file://`
 * handler is not used: it is absent on the wasm and cpu backends. Returns the weight data's size.
 */
export async function saveLayersModel(
  model: tfl.LayersModel,
  dir: string,
  generatedBy: string,
  write: (file: string, data: string | Uint8Array) => void = writeFileSync,
): Promise<number> {
  let bytes = 0;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const weightsManifest = [{ paths: ['weights.bin'], weights: a.weightSpecs ?? [] }];
      write(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', generatedBy, modelTopology: a.modelTopology, weightsManifest }));
      const data = new Uint8Array(a.weightData as ArrayBuffer);
      bytes = data.byteLength;
      write(join(dir, 'weights.bin'), data);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return bytes;
}
