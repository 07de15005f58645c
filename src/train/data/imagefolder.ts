/**
 * Image folders, one sub-folder per class (torchvision's ImageFolder): PATH/train/<class>/*.png|jpg
 * and PATH/test/<class>/... (or val/); with no train/ folder, PATH/<class>/... is split 80/20 by
 * the caller. Images are decoded with pure-JS decoders (pngjs, jpeg-js) and resized (bilinear) to
 * the size of the first image, or to the size the network expects.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError, readDataFile, type Split } from './dataset.js';

const EXT = /\.(png|jpe?g)$/i;

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

export function decodeImage(file: string): Rgba {
  const buf = readDataFile(file);
  if (buf.length === 0) throw new DataError(`${file}: empty file (expected a ${/\.png$/i.test(file) ? 'PNG' : 'JPEG'} image)`);
  let img: Rgba;
  try {
    if (/\.png$/i.test(file)) {
      const png = PNG.sync.read(buf);
      img = { width: png.width, height: png.height, data: png.data };
    } else {
      const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      img = { width: j.width, height: j.height, data: j.data };
    }
  } catch (e) {
    throw new DataError(`${file}: cannot decode image: ${String((e as Error)?.message ?? e)}`);
  }
  if (!(img.width > 0 && img.height > 0) || img.data.length < img.width * img.height * 4) {
    throw new DataError(`${file}: cannot decode image: ${img.width}x${img.height} with ${img.data.length} bytes of pixels`);
  }
  return img;
}

/** Bilinear resize of an RGBA image to h x w with c channels (1: luminance, 3: RGB), channels-last. */
export function resizeTo(img: Rgba, h: number, w: number, c: number, out: Uint8Array, offset: number): void {
  for (let y = 0; y < h; y++) {
    const sy = Math.min(img.height - 1, Math.max(0, ((y + 0.5) * img.height) / h - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(img.height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = Math.min(img.width - 1, Math.max(0, ((x + 0.5) * img.width) / w - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(img.width - 1, x0 + 1);
      const fx = sx - x0;
      const px = (yy: number, xx: number, k: number) => img.data[(yy * img.width + xx) * 4 + k];
      const rgb = [0, 1, 2].map(
        (k) => (px(y0, x0, k) * (1 - fx) + px(y0, x1, k) * fx) * (1 - fy) + (px(y1, x0, k) * (1 - fx) + px(y1, x1, k) * fx) * fy,
      );
      const o = offset + (y * w + x) * c;
      if (c === 1) out[o] = Math.round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]);
      else for (let k = 0; k < 3; k++) out[o + k] = Math.round(rgb[k]);
    }
  }
}

/** The class folders of dir (sorted); dir must be a folder. */
export function listClasses(dir: string): string[] {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new DataError(`${dir}: is a file, not an image folder (expected ${dir}/<class>/*.png)`);
    entries = readdirSync(dir);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${dir}: cannot read the image folder: ${(e as Error).message}`);
  }
  return entries
    .filter((d) => {
      try {
        return statSync(join(dir, d)).isDirectory();
      } catch {
        return false; // a dangling link is not a class
      }
    })
    .sort();
}

/** Reads dir/<class>/* for the given classes into one split of [h,w,c] images. */
export function readImageFolder(dir: string, classes: string[], size: { h: number; w: number; c: number }): Split {
  const files: { file: string; label: number }[] = [];
  classes.forEach((cls, label) => {
    const d = join(dir, cls);
    // A split may lack a class (a test folder without one); a class folder that exists must hold images.
    if (!existsSync(d)) return;
    const before = files.length;
    for (const f of readdirSync(d).sort()) if (EXT.test(f)) files.push({ file: join(d, f), label });
    if (files.length === before) throw new DataError(`${d}: class folder '${cls}' has no .png or .jpg images`);
  });
  if (files.length === 0) throw new DataError(`${dir}: no .png or .jpg images found in its class folders (${classes.join(', ')})`);
  const per = size.h * size.w * size.c;
  const images = new Uint8Array(files.length * per);
  const labels = new Uint16Array(files.length);
  files.forEach(({ file, label }, i) => {
    resizeTo(decodeImage(file), size.h, size.w, size.c, images, i * per);
    labels[i] = label;
  });
  return { images, labels, count: files.length };
}
