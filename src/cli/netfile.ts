/**
 * The FILE argument of every command: a path, or the name of a standard-library net (`resnet34`,
 * `resnet34.net`) from any directory, as `use "resnet"` already finds stdlib modules. A file of that
 * name in the current directory wins; when the name was not a plain path to an existing file, the
 * file actually used is announced on stderr so that nobody trains the wrong net unawares.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { STDLIB_DIR } from '../bind/program.js';
import { UsageError } from './io.js';

export interface NetFile {
  /** Absolute path of the file to compile. */
  path: string;
  /** It came from the standard library, not from the current directory. */
  stdlib: boolean;
  /** What to tell the user about the choice (stderr), or null when the path was taken as written. */
  note: string | null;
}

/** The stdlib's network files, without `.net` (library modules such as `resnet` included; the prelude left out). */
export function stdlibNames(): string[] {
  return readdirSync(STDLIB_DIR)
    .filter((f) => f.endsWith('.net') && f !== 'prelude.net')
    .map((f) => f.slice(0, -4))
    .sort();
}

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

export function findNetFile(file: string): NetFile {
  const bare = !/[\\/]/.test(file);
  const withExt = file.endsWith('.net') ? file : `${file}.net`;
  const inStdlib = bare ? join(STDLIB_DIR, withExt) : null;
  for (const local of file === withExt ? [file] : [file, withExt]) {
    if (!existsSync(local)) continue;
    if (!statSync(local).isFile()) {
      if (local === file) throw new UsageError(`not a file: ${file}`);
      continue;
    }
    const path = resolve(local);
    const shadows = inStdlib !== null && isFile(inStdlib) && path !== inStdlib;
    const note = shadows
      ? `using ./${local} from this directory (a local file wins over the standard library's ${basename(inStdlib!)})`
      : local !== file
        ? `using ${path}`
        : null;
    return { path, stdlib: path.startsWith(STDLIB_DIR + '/'), note };
  }
  if (inStdlib && isFile(inStdlib)) return { path: inStdlib, stdlib: true, note: `using the standard library's ${inStdlib}` };
  const names = stdlibNames();
  const stem = basename(withExt, '.net');
  const near = names.filter((n) => n.startsWith(stem.replace(/\d+$/, '')) || stem.startsWith(n)).slice(0, 6);
  throw new UsageError(
    `no such file: ${file}` +
      (bare ? ` (nor a standard-library net of that name${near.length ? `; similar: ${near.join(', ')}` : ''}; \`netc nets\` lists them)` : ''),
  );
}

/** findNetFile, with its note written to stderr: what every command does with its FILE argument. */
export function netFileArgument(file: string): string {
  const found = findNetFile(file);
  if (found.note) process.stderr.write(`${found.note}\n`);
  return found.path;
}
