import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { MAX_PROGRAM_BYTES } from '../check/limits.js';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { BlockDecl, DefDecl, NetDecl, SourceFile, UseDecl } from '../syntax/ast.js';
import { parseSource } from '../syntax/parse.js';

/** stdlib/ beside dist/ (installed) or src/ (tests). */
export const STDLIB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../stdlib');
export const PRELUDE_PATH = join(STDLIB_DIR, 'prelude.net');

/** Files larger than this are refused rather than parsed (a .net file is a few KB). */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;

export type Definition = DefDecl | BlockDecl | NetDecl;

export interface LoadedFile {
  path: string;
  ast: SourceFile;
  /** Definitions declared in this file. */
  own: Map<string, Definition & { file: string }>;
  /** Definitions visible in this file: own, then imported, then the prelude's. */
  visible: Map<string, Definition & { file: string }>;
}

export interface Program {
  entry: LoadedFile;
  files: Map<string, LoadedFile>;
  /** Text of every file read, for rendering diagnostics. */
  sources: Map<string, string>;
  diagnostics: DiagnosticBag;
}

export interface LoadOptions {
  /** Overrides the disk (editor buffers). */
  readFile?: (path: string) => string | undefined;
}

/** A file's text, or why it cannot be a .net source: missing, a directory or device, too large, unreadable. */
export type ReadResult = { text: string } | { problem: string; code: 'NET1006' | 'NET1011'; missing?: boolean };

const TOO_LARGE = `over the limit of ${MAX_FILE_BYTES.toLocaleString('en-US')} bytes (${MAX_FILE_BYTES / 1024 / 1024} MiB) for a .net file`;
const OVER_PROGRAM = `over what is left of the limit of ${MAX_PROGRAM_BYTES / 1024 / 1024} MiB for all the files of one program (entry and imports)`;

/** Why a bounded read failed; `errno` is the system's code, when it was one. */
export type BoundedRead = { bytes: Buffer } | { problem: 'missing' | 'directory' | 'special' | 'too-large' | 'unreadable'; errno?: string; size?: number };

/**
 * Reads at most `maxBytes` of a regular file, never trusting `stat`'s size (a /proc file says 0 and never
 * ends; a file can grow while read). The file is opened non-blocking and checked on the open descriptor,
 * so a FIFO or device swapped in after a check is never read from. No file-system error escapes as an
 * exception. `too-large` means more than `maxBytes` bytes were there to read.
 */
export function readBounded(path: string, maxBytes: number): BoundedRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return { problem: 'missing', errno };
    if (errno === 'EISDIR') return { problem: 'directory', errno };
    return { problem: 'unreadable', errno: errno ?? (e as Error).message };
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) return { problem: 'directory' };
    if (!stats.isFile()) return { problem: 'special' };
    // Grows in chunks: the size stat reports is only a hint.
    // stat's size is believed only when it already says too large.
    if (stats.size > maxBytes) return { problem: 'too-large', size: stats.size };
    // Read in pieces, never more than maxBytes + 1 in all: the size stat reports is only a hint.
    const pieces: Buffer[] = [];
    let length = 0;
    let piece = Math.min(maxBytes + 1, Math.max(stats.size + 1, 64 * 1024));
    while (length <= maxBytes) {
      const buffer = Buffer.allocUnsafe(Math.min(piece, maxBytes + 1 - length));
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      pieces.push(n === buffer.length ? buffer : buffer.subarray(0, n));
      length += n;
      piece = Math.min(piece * 2, 64 * 1024 * 1024);
    }
    if (length > maxBytes) return { problem: 'too-large' };
    return { bytes: pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length) };
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    return { problem: 'unreadable', errno: errno ?? (e as Error).message };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a .net file from disk. Only regular files are read (a FIFO or device could block forever or never
 * end), at most MAX_FILE_BYTES of them; no error from the file system escapes as an exception.
 */
export function readSourceFile(path: string, maxBytes = MAX_FILE_BYTES): ReadResult {
  const r = readBounded(path, maxBytes);
  if ('bytes' in r) return { text: r.bytes.toString('utf8') };
  switch (r.problem) {
    case 'missing':
      return { problem: 'does not exist', code: 'NET1006', missing: true };
    case 'directory':
      return { problem: 'is a directory, not a file', code: 'NET1006' };
    case 'special':
      return { problem: 'is not a regular file (a device, pipe or socket)', code: 'NET1006' };
    case 'too-large': {
      const size = r.size === undefined ? '' : ` ${r.size.toLocaleString('en-US')} bytes,`;
      return { problem: `is${size} ${maxBytes < MAX_FILE_BYTES ? OVER_PROGRAM : TOO_LARGE}`, code: 'NET1011' };
    }
    case 'unreadable':
      return { problem: `cannot be read (${r.errno})`, code: 'NET1006' };
  }
}

/** Where `use "target"` points: a path relative to the importing file, or a stdlib module. */
export function resolveUse(target: string, fromFile: string): string {
  if (target.startsWith('.') || isAbsolute(target) || target.endsWith('.net')) {
    const path = resolve(dirname(fromFile), target);
    return path.endsWith('.net') ? path : `${path}.net`;
  }
  return join(STDLIB_DIR, `${target}.net`);
}

/** Parse the entry file and everything it imports (plus the prelude); never throws for user mistakes. */
export function loadProgram(entryPath: string, options: LoadOptions = {}, entryText?: string): Program {
  const diagnostics = new DiagnosticBag();
  const files = new Map<string, LoadedFile>();
  const sources = new Map<string, string>();
  // All the files of one program share MAX_PROGRAM_BYTES, so a chain of imports cannot read without end.
  let budget = MAX_PROGRAM_BYTES;
  const readResult = (path: string): ReadResult => {
    const override = options.readFile?.(path);
    let r: ReadResult;
    if (override !== undefined) {
      r =
        override.length > Math.min(MAX_FILE_BYTES, budget)
          ? { problem: `is ${override.length > MAX_FILE_BYTES ? TOO_LARGE : OVER_PROGRAM}`, code: 'NET1011' }
          : { text: override };
    } else r = readSourceFile(path, Math.min(MAX_FILE_BYTES, budget));
    if ('text' in r) budget -= r.text.length;
    return r;
  };
  const read = (path: string): string | undefined => {
    const r = readResult(path);
    return 'text' in r ? r.text : undefined;
  };

  const load = (path: string, text: string, stack: string[]): LoadedFile => {
    const cached = files.get(path);
    if (cached) return cached;
    sources.set(path, text);
    const parsed = parseSource(text, path);
    for (const e of parsed.errors) diagnostics.error(e.code, e.message, { file: path, ...e.range }, { help: e.help });
    const file: LoadedFile = { path, ast: parsed.file, own: new Map(), visible: new Map() };
    files.set(path, file);
    for (const item of parsed.file.items) {
      if (item.kind === 'use') continue;
      const previous = file.own.get(item.name);
      if (previous) {
        diagnostics.error(
          'NET1007',
          `\`${item.name}\` is defined twice in this file`,
          { file: path, ...item.nameRange },
          {
            related: [{ span: { file: path, ...previous.nameRange }, label: 'first defined here' }],
            help: 'rename one of the definitions',
          },
        );
        continue;
      }
      file.own.set(item.name, { ...item, file: path });
    }
    for (const [name, def] of file.own) file.visible.set(name, def);
    for (const item of parsed.file.items) {
      if (item.kind === 'use') importInto(file, item, [...stack, path]);
    }
    if (path !== PRELUDE_PATH) {
      const prelude = files.get(PRELUDE_PATH) ?? loadPrelude();
      for (const [name, def] of prelude?.own ?? []) if (!file.visible.has(name)) file.visible.set(name, def);
    }
    return file;
  };

  const loadPrelude = (): LoadedFile | undefined => {
    const text = read(PRELUDE_PATH);
    return text === undefined ? undefined : load(PRELUDE_PATH, text, []);
  };

  const importInto = (file: LoadedFile, use: UseDecl, stack: string[]): void => {
    const target = resolveUse(use.target, file.path);
    const span = { file: file.path, ...use.targetRange };
    if (stack.includes(target)) {
      const cycle = [...stack.slice(stack.indexOf(target)), target].map((p) => p.split('/').pop()).join(' -> ');
      diagnostics.error('NET1005', `import cycle: ${cycle}`, span, { help: 'move the shared definitions into a file that both import' });
      return;
    }
    const result = readResult(target);
    if (!('text' in result)) {
      const isModule = !(use.target.startsWith('.') || isAbsolute(use.target) || use.target.endsWith('.net'));
      if (result.missing) {
        diagnostics.error('NET1006', `cannot find ${isModule ? 'stdlib module' : 'file'} \`${use.target}\` (looked for ${target})`, span, {
          help: isModule ? "stdlib modules are the .net files in netc's stdlib/ folder; a path of your own starts with ./" : undefined,
        });
      } else {
        diagnostics.error(result.code, `cannot import \`${use.target}\`: ${target} ${result.problem}`, span);
      }
      return;
    }
    const imported = load(target, result.text, stack);
    for (const [name, def] of imported.own) {
      if (def.kind === 'net') continue;
      const existing = file.visible.get(name);
      if (existing && existing !== def && existing.file === file.path) continue;
      if (existing && existing !== def) {
        diagnostics.error('NET1007', `\`${name}\` is imported twice: from ${existing.file.split('/').pop()} and ${def.file.split('/').pop()}`, span);
        continue;
      }
      file.visible.set(name, def);
    }
  };

  let text = entryText;
  let unreadable: ReadResult | undefined;
  if (text !== undefined && text.length > MAX_FILE_BYTES) {
    [text, unreadable] = ['', { problem: `is ${TOO_LARGE}`, code: 'NET1011' }];
  }
  if (text === undefined) {
    const result = readResult(entryPath);
    if ('text' in result) text = result.text;
    else [text, unreadable] = ['', result];
  }
  const entry = load(entryPath, text, []);
  if (unreadable && !('text' in unreadable)) {
    diagnostics.error(unreadable.code, `${entryPath} ${unreadable.problem}`, { file: entryPath, start: 0, end: 0 });
  }
  return { entry, files, sources, diagnostics };
}
