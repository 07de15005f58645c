/**
 * Image folders, one sub-folder per class (torchvision's ImageFolder): PATH/train/<class>/*.png|jpg
 * and PATH/test/<class>/... (or val/); with no train/ folder, PATH/<class>/... is split 80/20 by
 * the caller. Images are decoded with pure-JS decoders (pngjs, jpeg-js) and resized (bilinear) to
 * the size of the first image, or to the size the network expects.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError, type Split } from './dataset.js';

const EXT = /\.(png|jpe?g)$/i;

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

export function decodeImage(file: string): Rgba {
  const buf = readFileSync(file);
  try {
    if (/\.png$/i.test(file)) {
      const png = PNG.sync.read(buf);
      return { width: png.width, height: png.height, data: png.data };
    }
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
    return { width: img.width, height: img.height, data: img.data };
  } catch (e) {
    throw new DataError(`${file}: cannot decode image: ${(e as Error).message}`);
  }
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

export function listClasses(dir: string): string[] {
  return readdirSync(dir)
    .filter((d) => statSync(join(dir, d)).isDirectory())
    .sort();
}

/** Reads dir/<class>/* for the given classes into one split of [h,w,c] images. */
export function readImageFolder(dir: string, classes: string[], size: { h: number; w: number; c: number }): Split {
  const files: { file: string; label: number }[] = [];
  classes.forEach((cls, label) => {
    const d = join(dir, cls);
    if (!existsSync(d)) return;
    for (const f of readdirSync(d).sort()) if (EXT.test(f)) files.push({ file: join(d, f), label });
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
