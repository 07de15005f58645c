/**
 * The workspace's .net files on disk, for references and rename. A scan is bounded (directory entries,
 * files, bytes, time), yields to the server's other messages every few milliseconds, stops when its
 * request is cancelled, and keeps what it parsed: a later request re-reads only files whose modification
 * time or size changed. Files are parsed and bound (names resolved), never elaborated: no net in the
 * workspace, however large it unrolls, costs more than its parse.
 */
import { type Dirent, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadProgram, type LoadedFile } from '../bind/program.js';

/** Bounds on one workspace scan (separate from the checker's limits: these bound the editor's background work). */
export const SCAN_LIMITS = {
  /** Directory entries looked at (a workspace folder of `/` meets this, not the disk's size). */
  entries: 50_000,
  depth: 12,
  /** .net files indexed. */
  files: 2_000,
  /** A larger .net file is left out of the scan (a real one is a few KB). */
  fileBytes: 256 * 1024,
  /**
   * Source text held by the scan's cache, all files together. A parsed and bound file takes about 55 bytes
   * of heap per byte of source (measured on a 50 KB file of 5,000 layers), so this caps it near 230 MB.
   */
  totalBytes: 4 * 1024 * 1024,
  /** Wall-clock time one request may spend scanning. */
  timeMs: 3_000,
  /** The scan yields to other messages at least this often. */
  sliceMs: 15,
};

export type ScanLimits = typeof SCAN_LIMITS;

/** Directories never worth walking: version control, dependencies, build output, the kernel's pseudo-files. */
const SKIPPED_NAMES = new Set(['node_modules', 'dist', 'build', '__pycache__']);
const SKIPPED_PATHS = new Set(['/proc', '/sys', '/dev', '/run']);

/** How long a directory listing is trusted when the client sends no file events. */
const LIST_TTL_MS = 10_000;

export interface Token {
  readonly isCancellationRequested: boolean;
}

export class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

export interface ScanResult {
  /** Each scanned file (by path) with its parsed and bound form. */
  files: Map<string, LoadedFile>;
  /** Why the scan stopped short of every .net file in the workspace, if it did. */
  incomplete?: string;
}

interface Cached {
  /** The file and every file its program read, each with its signature at load time. */
  signatures: Map<string, string>;
  file: LoadedFile;
  bytes: number;
}

/** A clock and a yield point shared by the phases of one request. */
class Budget {
  private readonly deadline: number;
  private sliceStart = performance.now();

  constructor(
    private readonly token: Token,
    private readonly limits: ScanLimits,
  ) {
    this.deadline = this.sliceStart + limits.timeMs;
  }

  get expired(): boolean {
    return performance.now() > this.deadline;
  }

  /** Let the server answer other messages if this slice is used up; throws Cancelled when the request was. */
  async pause(): Promise<void> {
    if (performance.now() - this.sliceStart >= this.limits.sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      this.sliceStart = performance.now();
    }
    if (this.token.isCancellationRequested) throw new Cancelled();
  }
}

export class WorkspaceScan {
  roots: string[] = [];
  limits: ScanLimits = SCAN_LIMITS;
  private list?: { files: string[]; incomplete?: string; at: number };
  private readonly cache = new Map<string, Cached>();
  private cachedBytes = 0;

  /** Files were created or deleted: list the folders again next time. */
  invalidateList(): void {
    this.list = undefined;
  }

  /** A file changed on disk: forget every cached file that read it. */
  forget(path: string): void {
    for (const [entry, cached] of this.cache) if (cached.signatures.has(path)) this.drop(entry);
  }

  private drop(entry: string): void {
    const cached = this.cache.get(entry);
    if (!cached) return;
    this.cachedBytes -= cached.bytes;
    this.cache.delete(entry);
  }

  /**
   * Every .net file of the workspace folders except those `skip` accepts (open documents, files already
   * known), parsed and bound; `version` gives an open buffer's signature, `readFile` its text.
   */
  async scan(
    token: Token,
    skip: (path: string) => boolean,
    version: (path: string) => string | undefined,
    readFile: (path: string) => string | undefined,
  ): Promise<ScanResult> {
    const budget = new Budget(token, this.limits);
    const listed = await this.listFiles(budget);
    const files = new Map<string, LoadedFile>();
    let incomplete = listed.incomplete;
    const stats = new Map<string, string | undefined>();
    const signature = (path: string): string | undefined => {
      const open = version(path);
      if (open !== undefined) return open;
      if (!stats.has(path)) {
        try {
          const s = statSync(path);
          stats.set(path, s.isFile() ? `${s.mtimeMs}:${s.size}` : undefined);
        } catch {
          stats.set(path, undefined);
        }
      }
      return stats.get(path);
    };
    for (const path of listed.files) {
      if (skip(path)) continue;
      await budget.pause();
      if (budget.expired) {
        incomplete ??= `the scan took longer than ${this.limits.timeMs} ms`;
        break;
      }
      const cached = this.cache.get(path);
      if (cached && [...cached.signatures].every(([p, s]) => signature(p) === s)) {
        files.set(path, cached.file);
        continue;
      }
      this.drop(path);
      const size = Number(signature(path)?.split(':')[1] ?? 0);
      if (size > this.limits.fileBytes) {
        // Left out, but not silently: a rename that skipped this file could break it.
        incomplete ??= `${path} is over ${this.limits.fileBytes / 1024} KiB`;
        continue;
      }
      if (this.cachedBytes + size > this.limits.totalBytes) {
        incomplete ??= `the scanned files reached ${this.limits.totalBytes / 1024 / 1024} MiB`;
        break;
      }
      const program = loadProgram(path, { readFile });
      const text = program.sources.get(path) ?? '';
      const signatures = new Map<string, string>();
      for (const p of program.sources.keys()) signatures.set(p, signature(p) ?? 'missing');
      this.cache.set(path, { signatures, file: program.entry, bytes: text.length });
      this.cachedBytes += text.length;
      files.set(path, program.entry);
    }
    return { files, incomplete };
  }

  /** The .net files under the workspace folders (cached for LIST_TTL_MS or until invalidated). */
  private async listFiles(budget: Budget): Promise<{ files: string[]; incomplete?: string }> {
    if (this.list && performance.now() - this.list.at < LIST_TTL_MS) return this.list;
    const files: string[] = [];
    let entries = 0;
    let incomplete: string | undefined;
    const queue: [string, number][] = this.roots.map((r) => [r, 0]);
    walk: while (queue.length) {
      const [dir, depth] = queue.shift()!;
      await budget.pause();
      let listing: Dirent[];
      try {
        listing = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of listing) {
        if (++entries > this.limits.entries || budget.expired) {
          incomplete = budget.expired
            ? `listing the workspace folders took longer than ${this.limits.timeMs} ms`
            : `the workspace folders hold more than ${this.limits.entries.toLocaleString('en-US')} entries`;
          break walk;
        }
        if (entry.name.startsWith('.') || SKIPPED_NAMES.has(entry.name)) continue;
        const full = join(dir, entry.name);
        if (entry.isFile() && entry.name.endsWith('.net')) {
          if (files.length >= this.limits.files) {
            incomplete = `the workspace folders hold more than ${this.limits.files.toLocaleString('en-US')} .net files`;
            break walk;
          }
          files.push(full);
        } else if (entry.isDirectory() && depth < this.limits.depth && !SKIPPED_PATHS.has(full)) {
          queue.push([full, depth + 1]);
        }
      }
    }
    // A partial listing is cached too: a folder of `/` would otherwise cost every request the full budget.
    this.list = { files, incomplete, at: performance.now() };
    return this.list;
  }
}
