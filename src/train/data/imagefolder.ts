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
import { inflateSync } from 'node:zlib';
import { DataError, MAX_IMAGE_FILE_BYTES, MAX_IMAGE_PIXELS, readDataFile, type Split } from './dataset.js';

const EXT = /\.(png|jpe?g)$/i;

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Width and height a PNG (IHDR) or JPEG (first SOFn marker) declares, read before anything is decoded. */
export function declaredSize(buf: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length >= 24 && view.getUint32(0) === 0x89504e47 && view.getUint32(12) === 0x49484452) {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8) {
    // Segments from after SOI: FF marker, then a 2-byte length that counts itself.
    for (let i = 2; i + 9 <= buf.length; ) {
      if (buf[i] !== 0xff) return undefined;
      const marker = buf[i + 1]!;
      if (marker === 0xff) {
        i++;
        continue;
      }
      const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (sof) return { height: view.getUint16(i + 5), width: view.getUint16(i + 7) };
      i += 2 + view.getUint16(i + 2);
    }
  }
  return undefined;
}

/**
 * An interlaced PNG is inflated by pngjs without a bound (a non-interlaced one is bounded by its
 * header): its image data is inflated here first, at most what the header's size allows.
 */
function checkInterlacedPng(buf: Buffer, file: string, width: number, height: number): void {
  if (buf.length < 29 || buf[28] !== 1) return;
  const chunks: Buffer[] = [];
  for (let i = 8; i + 8 <= buf.length; ) {
    const length = buf.readUInt32BE(i);
    if (buf.toString('latin1', i + 4, i + 8) === 'IDAT') chunks.push(buf.subarray(i + 8, Math.min(buf.length, i + 8 + length)));
    i += 12 + length;
  }
  // Adam7: seven passes, each row one filter byte plus at most 8 bytes (16-bit RGBA) a pixel.
  const bound = width * height * 8 + 7 * (height + 1) * 9;
  try {
    inflateSync(Buffer.concat(chunks), { maxOutputLength: bound });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(`${file}: its compressed image data inflates to more than a ${width}x${height} image can hold; not an intact PNG`);
    }
  }
}

export function decodeImage(file: string): Rgba {
  const buf = readDataFile(file, MAX_IMAGE_FILE_BYTES);
  if (buf.length === 0) throw new DataError(`${file}: empty file (expected a ${/\.png$/i.test(file) ? 'PNG' : 'JPEG'} image)`);
  // Decoders allocate what the header declares: check it first (a 68-byte PNG can declare 20000x20000).
  const size = declaredSize(buf);
  if (size && size.width * size.height > MAX_IMAGE_PIXELS) {
    throw new DataError(
      `${file}: the image declares ${size.width}x${size.height} pixels, more than the limit of ${MAX_IMAGE_PIXELS.toLocaleString('en-US')} (4096x4096) for one image`,
    );
  }
  if (size && /\.png$/i.test(file)) checkInterlacedPng(buf, file, size.width, size.height);
  let img: Rgba;
  try {
    if (/\.png$/i.test(file)) {
      const png = PNG.sync.read(buf);
      img = { width: png.width, height: png.height, data: png.data };
    } else {
      const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 512 });
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
      const px = (yy: number, xx: number, k: number) => img.data[(yy * img.width + xx) * 4 + k]!;
      const rgb = [0, 1, 2].map((k) => (px(y0, x0, k) * (1 - fx) + px(y0, x1, k) * fx) * (1 - fy) + (px(y1, x0, k) * (1 - fx) + px(y1, x1, k) * fx) * fy);
      const o = offset + (y * w + x) * c;
      if (c === 1) out[o] = Math.round(0.299 * rgb[0]! + 0.587 * rgb[1]! + 0.114 * rgb[2]!);
      else for (let k = 0; k < 3; k++) out[o + k] = Math.round(rgb[k]!);
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
