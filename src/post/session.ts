/**
 * What eval, predict and cam do first: pick a backend, open the run directory, compile the .net
 * file against it, and report problems the way every netc command does (diagnostics rendered on
 * stderr, or as the JSON document on stdout with --format json; exit 1 for them, 2 for usage).
 */
import { existsSync, statSync } from 'node:fs';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { diagnosticsDocument, renderAll } from '../diagnostics/render.js';
import type { IRGraph } from '../ir/types.js';
import { describeBackend, selectBackend } from '../runtime/backend.js';
import type { CompileResult } from '../api.js';
import { EXIT_DIAGNOSTICS, UsageError } from '../diagnostics/user-error.js';
import { backendLines, colorEnabled } from '../cli/io.js';
import { netFileArgument } from '../cli/netfile.js';
import { compileForRun, openRun, RunError, type CheckpointName, type OpenRun } from './run.js';

export interface SessionOptions {
  weights: string;
  /** Print the backend's details and the backends skipped, not just its name. */
  verbose?: boolean;
  checkpoint: CheckpointName;
  net?: string;
  backend?: string;
  format?: 'human' | 'json';
}

export interface Session {
  run: OpenRun;
  graph: IRGraph;
  compiled: CompileResult;
  /** Progress and notes (stderr). */
  log(line: string): void;
  /** Reports diagnostics (the compile's plus extra) and returns the exit code: 1 when any is an error. */
  report(extra: Diagnostic[]): number;
}

export function log(line: string): void {
  process.stderr.write(line + '\n');
}

/** Opens everything a post-training command needs; a number is the exit code of a failure already reported. */
export async function openSession(file: string, o: SessionOptions): Promise<Session | number> {
  const path = netFileArgument(file);
  if (!existsSync(o.weights) || !statSync(o.weights).isDirectory()) throw new UsageError(`--weights ${o.weights}: no such run directory`);
  const choice = await selectBackend(o.backend);
  for (const l of backendLines(describeBackend(choice), o.verbose)) log(l);
  const run = await openRun(o.weights, o.checkpoint);
  const { compiled, graph, mismatch } = compileForRun(path, run, o.net);
  const report = (extra: Diagnostic[]): number => {
    const all = [...compiled.diagnostics, ...extra];
    const sources = compiled.program.sources;
    if (o.format === 'json') {
      if (all.some((d) => d.severity === 'error')) {
        process.stdout.write(JSON.stringify({ diagnostics: diagnosticsDocument(all, sources, [path]) }, null, 2) + '\n');
      }
    } else if (all.length) {
      process.stderr.write(renderAll(all, sources, { color: colorEnabled(process.stderr) }));
    }
    return all.some((d) => d.severity === 'error') ? EXIT_DIAGNOSTICS : 0;
  };
  if (!graph) return report([]) || EXIT_DIAGNOSTICS;
  if (mismatch) throw new RunError(mismatch);
  return { run, graph, compiled, log, report };
}
