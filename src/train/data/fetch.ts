/**
 * Downloading official dataset files into a cache, with checksums. Used only when a file is not
 * found locally; offline, the caller reports exactly which files to put where.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataError } from './dataset.js';

export interface RemoteFile {
  url: string;
  /** md5 of the downloaded file (the checksums torchvision publishes for these files). */
  md5: string;
  /** Where it goes under the dataset's cache folder. */
  name: string;
}

export function cacheDir(): string {
  return process.env.NETC_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'netc', 'datasets');
}

export function md5(buf: Uint8Array): string {
  return createHash('md5').update(buf).digest('hex');
}

/** Downloads into dir/name atomically after checking the md5; throws DataError on any failure. */
export async function download(f: RemoteFile, dir: string, timeoutMs = 60_000): Promise<Buffer> {
  let buf: Buffer;
  try {
    const res = await fetch(f.url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    buf = Buffer.from(await res.arrayBuffer());
  } catch (e) {
    throw new DataError(`cannot download ${f.url}: ${(e as Error).message}`);
  }
  const got = md5(buf);
  if (got !== f.md5) throw new DataError(`${f.url}: checksum mismatch (md5 ${got}, expected ${f.md5}); not saved`);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${f.name}.part`);
  writeFileSync(tmp, buf);
  renameSync(tmp, join(dir, f.name));
  return buf;
}

/** Extracts the regular files of a (gzipped) tar archive into dir, flattening nothing. */
export function extractTar(archive: Buffer, dir: string): string[] {
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const out: string[] = [];
  for (let o = 0; o + 512 <= tar.length; ) {
    const name = tar
      .subarray(o, o + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    if (!name) break;
    const size = parseInt(
      tar
        .subarray(o + 124, o + 136)
        .toString('utf8')
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    );
    const type = String.fromCharCode(tar[o + 156]!);
    const prefix = tar
      .subarray(o + 345, o + 500)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    const full = prefix ? `${prefix}/${name}` : name;
    if ((type === '0' || type === '\0') && !full.split('/').includes('..')) {
      const dest = join(dir, full);
      mkdirSync(join(dest, '..'), { recursive: true });
      writeFileSync(dest, tar.subarray(o + 512, o + 512 + size));
      out.push(full);
    }
    o += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
