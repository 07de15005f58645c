/** Shared by the verify tests: is PyTorch there, and one engine call for a whole list of cases. */
import { join } from 'node:path';
import { compileFile } from '../../src/api.js';
import type { BackendReport, NetReport, VerifyReport } from '../../src/verify/engine.js';
import { verifyMany } from '../../src/verify/engine.js';
import { torchVersion } from '../../src/verify/python.js';
import type { ScheduleJob, VerifyBackend, VerifyJob } from '../../src/verify/spec.js';

export const ROOT = join(import.meta.dirname, '..', '..');
const torch = torchVersion();
export const NO_TORCH = torch.version ? '' : ` [skipped: PyTorch is not installed (${torch.reason}); apt-get install python3-torch]`;

export interface Case {
  id: string;
  file: string;
  net?: string;
  input?: number[];
  job?: Partial<VerifyJob>;
}

export const BASE: Omit<VerifyJob, 'id' | 'file'> = { args: {}, batch: 2, seed: 0, optimizer: 'momentum', lr: 0.1, momentum: 0.9, weightDecay: 0, steps: 2 };

export async function verifyCases(cases: Case[], backends: VerifyBackend[], schedules: ScheduleJob[] = []): Promise<VerifyReport> {
  const inputs = cases.map((c) => {
    const r = compileFile(join(ROOT, c.file), { net: c.net, input: c.input });
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length || r.graphs.length !== 1) throw new Error(`${c.id}: ${errors.map((d) => d.message).join('; ') || `${r.graphs.length} nets`}`);
    return { job: { ...BASE, id: c.id, file: join(ROOT, c.file), net: c.net, input: c.input, ...c.job }, graph: r.graphs[0]! };
  });
  return verifyMany(inputs, { backends, schedules });
}

/** A readable account of what failed, for assertion messages. */
export function failures(n: NetReport | undefined): string {
  if (!n) return 'no report';
  return n.backends
    .filter((b: BackendReport) => b.status === 'fail' || b.status === 'error')
    .map(
      (b) =>
        `${b.backend}: ${
          b.reason ??
          b.rows
            .filter((r) => !r.pass)
            .slice(0, 5)
            .map((r) => `${r.kind} ${r.name} ${r.relErr}${r.note ? ` (${r.note})` : ''}`)
            .join(', ')
        }`,
    )
    .join(' | ');
}

/** Backends that ran (not unavailable), for asserting that something was compared at all. */
export const ran = (n: NetReport) => n.backends.filter((b) => b.status !== 'unavailable').map((b) => b.backend);
