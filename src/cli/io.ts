/** Output conventions shared by every command: results on stdout, progress and diagnostics on stderr. */

export function colorEnabled(stream: NodeJS.WriteStream): boolean {
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return Boolean(stream.isTTY);
}

/** A mistake in how netc was invoked (exit code 2), as opposed to a mistake in a .net file (exit code 1). */
export class UsageError extends Error {}

export const EXIT_OK = 0;
export const EXIT_DIAGNOSTICS = 1;
export const EXIT_USAGE = 2;

/** `3x224x224`, `3,224,224` or `[3, 224, 224]` -> [3, 224, 224]. */
export function parseShape(text: string): number[] {
  const parts = text.replace(/[[\]\s]/g, '').split(/[x,×]/i).filter(Boolean);
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
