/**
 * netc's exit codes, for every command (src/cli) and the stages that report for them (src/post):
 * 0 ok, 1 diagnostics in a file or a problem with the user's data, run or files, 2 a bad invocation.
 * (Signals add 130 and 143: src/cli/train.ts.)
 */
export const EXIT_OK = 0;
export const EXIT_DIAGNOSTICS = 1;
export const EXIT_USAGE = 2;

/**
 * A mistake the user must fix that is not a diagnostic in a .net file: a bad flag, a damaged run
 * directory or dataset, a backend that will not load, NaN in training. Thrown from any stage and
 * caught once, in src/cli/main.ts, which prints `netc: message` (and the JSON error document under
 * `--format json`) and exits with `exitCode`, never with a stack trace. The stages' own kinds
 * (DataError, RunDirError, ...) extend it, so tests and callers can still tell them apart.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: typeof EXIT_DIAGNOSTICS | typeof EXIT_USAGE = EXIT_DIAGNOSTICS,
  ) {
    super(message);
  }
}

/** A mistake in how netc was invoked (exit code 2), as opposed to a mistake in a .net file (exit code 1). */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/**
 * Runs `work`; a UserError it throws (or its promise rejects with) gets `context: ` before its
 * message, e.g. `cannot export \`n\` to PyTorch: ...`, and goes on to main as before.
 */
export function inContext<T>(context: string, work: () => T): T {
  const add = (e: unknown): never => {
    if (e instanceof UserError) e.message = `${context}: ${e.message}`;
    throw e;
  };
  try {
    const result = work();
    return (result instanceof Promise ? result.catch(add) : result) as T;
  } catch (e) {
    return add(e);
  }
}
