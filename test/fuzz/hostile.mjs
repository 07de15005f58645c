// Generators of hostile files for test/fuzz/*.test.ts and bench/fuzz.mjs (issue 14): headers that lie,
// compressed streams that inflate far past them, long lines and names. Plain JavaScript, no dependencies.
import { crc32, deflateSync, gzipSync } from 'node:zlib';

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/** A copy of a real PNG whose IHDR declares width x height (CRC recomputed; the pixel data is the original's). */
export function pngWithSize(png, width, height) {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}

/** An interlaced 8-bit grey PNG of width x height whose IDAT inflates to `inflated` bytes of zeros. */
export function pngInterlacedBomb(width, height, inflated) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  ihdr[12] = 1; // Adam7
  const idat = deflateSync(Buffer.alloc(inflated), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG prefix (SOI, a short APP0, SOF0) declaring width x height, and nothing decodable after. */
export function jpegWithSize(width, height) {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x0b, 0x08, height >> 8, height & 255, width >> 8, width & 255, 0x01, 0x01, 0x11, 0x00]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]);
}

/** An IDX header of unsigned bytes with these dimensions. */
export function idxHeader(dims) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 8;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return head;
}

/** gzip of `head` followed by `zeros` zero bytes, made in pieces (never holding the inflated whole). */
export function gzipBomb(head, zeros) {
  // A gzip member is header + deflate stream + trailer; concatenated members are one valid gzip file.
  const piece = 16 * 1024 * 1024;
  const block = gzipSync(Buffer.alloc(Math.min(piece, zeros)), { level: 9 });
  const parts = [gzipSync(head)];
  for (let left = zeros; left > 0; left -= piece) parts.push(left >= piece ? block : gzipSync(Buffer.alloc(left), { level: 9 }));
  return Buffer.concat(parts);
}

/** A seeded generator of floats in [0, 1) (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A damaged copy of `bytes`: kind 0 flips one bit, 1 overwrites a run of up to 16 bytes with random ones,
 * 2 flips the sign bit of up to 2% of the float32 values (what the outside attack did to weights.bin).
 */
export function damageBytes(bytes, random, kind) {
  const out = Buffer.from(bytes);
  const at = Math.floor(random() * out.length);
  if (kind === 0) out[at] ^= 1 << Math.floor(random() * 8);
  else if (kind === 1) for (let i = at; i < Math.min(out.length, at + 1 + Math.floor(random() * 16)); i++) out[i] = Math.floor(random() * 256);
  else {
    const floats = Math.floor(out.length / 4);
    for (let k = 0; k < Math.max(1, Math.floor(floats * 0.02)); k++) out[Math.floor(random() * floats) * 4 + 3] ^= 0x80;
  }
  return out;
}

/** `errors` unknown layer names on one line, followed on it by a comment of `comment` characters. */
export function longLineManyErrors(errors, comment) {
  const names = Array.from({ length: errors }, (_, i) => `zz${i}`).join('; ');
  return `net n : [3, 8, 8] < ${names} > # ${'c'.repeat(comment)}\n`;
}

/** `errors` unknown layer names, one short line each. */
export function manyShortErrors(errors) {
  return `net n : [3, 8, 8] <\n${Array.from({ length: errors }, (_, i) => `q${i}`).join('\n')}\n>\n`;
}

/** A net whose one labelled layer (a label of `chars` characters) is repeated `times` times. */
export function hugeLabels(chars, times) {
  return `net n : [3, 8, 8] < < ${'l'.repeat(chars)}: relu > * ${times} >\n`;
}
