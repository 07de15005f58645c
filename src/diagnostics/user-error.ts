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
    /** 1: a problem with the user's files or data; 2: a bad invocation. */
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** A mistake in how netc was invoked (exit code 2), as opposed to a mistake in a .net file (exit code 1). */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, 2);
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
