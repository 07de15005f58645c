import { readFileSync, statSync } from 'node:fs';
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

/**
 * Reads a .net file from disk. Only regular files are read (a FIFO or device could block forever or never
 * end), at most MAX_FILE_BYTES of them; no error from the file system escapes as an exception.
 */
export function readSourceFile(path: string): ReadResult {
  let stats;
  try {
    stats = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { problem: 'does not exist', code: 'NET1006', missing: true };
    return { problem: `cannot be read (${code ?? (e as Error).message})`, code: 'NET1006' };
  }
  if (stats.isDirectory()) return { problem: 'is a directory, not a file', code: 'NET1006' };
  if (!stats.isFile()) return { problem: 'is not a regular file (a device, pipe or socket)', code: 'NET1006' };
  if (stats.size > MAX_FILE_BYTES) {
    return { problem: `is ${stats.size.toLocaleString('en-US')} bytes, ${TOO_LARGE}`, code: 'NET1011' };
  }
  try {
    const text = readFileSync(path, 'utf8');
    // The size can change between stat and read (a file being written).
    if (text.length > MAX_FILE_BYTES) return { problem: `is ${TOO_LARGE}`, code: 'NET1011' };
    return { text };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { problem: `cannot be read (${code ?? (e as Error).message})`, code: 'NET1006' };
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
  const readResult = (path: string): ReadResult => {
    const override = options.readFile?.(path);
    if (override !== undefined) {
      return override.length > MAX_FILE_BYTES
        ? { problem: `is ${TOO_LARGE}`, code: 'NET1011' }
        : { text: override };
    }
    return readSourceFile(path);
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
        diagnostics.error('NET1007', `\`${item.name}\` is defined twice in this file`, { file: path, ...item.nameRange }, {
          related: [{ span: { file: path, ...previous.nameRange }, label: 'first defined here' }],
          help: 'rename one of the definitions',
        });
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
          help: isModule ? 'stdlib modules are the .net files in netc\'s stdlib/ folder; a path of your own starts with ./' : undefined,
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
