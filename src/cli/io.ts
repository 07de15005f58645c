/** Output conventions shared by every command: results on stdout, progress and diagnostics on stderr. */
import { EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE, UsageError } from '../diagnostics/user-error.js';

export function colorEnabled(stream: NodeJS.WriteStream): boolean {
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return Boolean(stream.isTTY);
}

/** Re-exported for the commands: the exit codes and a UserError with exit code 2 live in src/diagnostics. */
export { EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE, UsageError };

/** `3x224x224`, `3,224,224` or `[3, 224, 224]` -> [3, 224, 224]. */
export function parseShape(text: string): number[] {
  const parts = text
    .replace(/[[\]\s]/g, '')
    .split(/[x,×]/i)
    .filter(Boolean);
  const dims = parts.map(Number);
  if ((dims.length !== 1 && dims.length !== 3) || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new UsageError(`--input must be CxHxW or F with positive integers (e.g. 3x32x32), got "${text}"`);
  }
  return dims;
}

/** `classes=10`, `theta=0.5`, `bias=false`, `mode=fast` -> typed values. */
export function parseAssignments(items: string[]): Record<string, number | boolean | string> {
  const out: Record<string, number | boolean | string> = {};
  for (const item of items) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(item);
    if (!m) throw new UsageError(`--set expects name=value (e.g. --set classes=10), got "${item}"`);
    const raw = m[2]!.trim();
    out[m[1]!] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

/**
 * Whether this invocation asked for `--format json`: then every failure, usage mistakes included,
 * is also a JSON document on stdout (`{"error": {...}}`), so a script never has to parse prose.
 */
let jsonFailures = false;

export function wantsJson(argv: string[]): boolean {
  return argv.some((a, i) => a === '--format=json' || (a === '--format' && argv[i + 1] === 'json'));
}

export function setJsonFailures(on: boolean): void {
  jsonFailures = on;
}

/**
 * Reports a failure that is not a diagnostic in a .net file: `netc: message` on stderr, and with
 * `--format json` also `{"error": {"kind", "message", "exitCode"}}` on stdout.
 */
export function reportFailure(message: string, exitCode: number, kind: 'usage' | 'error' | 'internal' = exitCode === EXIT_USAGE ? 'usage' : 'error'): number {
  process.stderr.write(`netc: ${message}\n`);
  if (jsonFailures) process.stdout.write(JSON.stringify({ error: { kind, message, exitCode } }, null, 2) + '\n');
  return exitCode;
}

/**
 * The backend report, given describeBackend's lines: all of them with --verbose, else one short
 * line, `backend: wasm + native oneDNN convolutions (2 others skipped; --verbose says why)`.
 */
export function backendLines(lines: string[], verbose = false): string[] {
  if (verbose || lines.length === 0) return lines;
  const skipped = lines.length - 1;
  const name = lines[0]!.split(' (')[0]!;
  return [skipped ? `${name} (${skipped} other${skipped === 1 ? '' : 's'} skipped; --verbose says why)` : name];
}

/**
 * stderr lines for long work: `log` writes a finished line; `progress` a live one, rewritten in place
 * on a terminal (at most 5 a second) and written as a plain line every 5 s otherwise (logs, CI).
 */
export function progressWriter() {
  const tty = Boolean(process.stderr.isTTY);
  let live = false;
  // From creation: a pass that ends within the interval prints no progress at all.
  let last = Date.now();
  return {
    log(line: string) {
      process.stderr.write((live && tty ? '\r\x1b[2K' : '') + line + '\n');
      live = false;
    },
    progress(line: string) {
      const now = Date.now();
      if (now - last < (tty ? 200 : 5_000)) return;
      last = now;
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      live = tty;
    },
    /** Erases a live line, so that results written next do not land after it. */
    clear() {
      if (live) process.stderr.write('\r\x1b[2K');
      live = false;
    },
  };
}

/** `--data NAME` must be a known dataset (or imagefolder:PATH): a misspelt name is a usage error (exit 2). */
export function checkDataName<T extends string | undefined>(name: T, known: readonly string[]): T {
  if (name === undefined || name.startsWith('imagefolder:') || known.includes(name)) return name;
  throw new UsageError(`--data ${name}: unknown dataset; choose from ${known.join(', ')}`);
}
