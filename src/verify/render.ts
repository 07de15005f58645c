/** The human report of `netc verify`: per net, a verdict per backend and the worst tensors first. */
import type { Row } from './compare.js';
import type { VerifyReport } from './engine.js';

const fmt = (x: number | null) => (x === null ? 'n/a' : x === 0 ? '0' : x.toExponential(1));

function table(rows: Row[], indent: string): string[] {
  const head = ['rel err', 'tol', 'torch f32', 'kind', 'tensor'];
  const body = rows.map((r) => [
    fmt(r.relErr),
    fmt(r.tolerance),
    fmt(r.torch32RelErr),
    r.kind,
    r.name + (r.note ? ` (${r.note})` : '') + (r.pass ? '' : '  <- FAIL'),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => indent + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(w[i]!))).join('  ');
  return [line(head), ...body.map(line)];
}

export function renderReport(rep: VerifyReport, opts: { all: boolean; top: number; color: boolean }): string {
  const paint = (s: string, code: number) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const verdict = (s: string) => (s === 'pass' ? paint('PASS', 32) : s === 'fail' ? paint('FAIL', 31) : s === 'error' ? paint('ERROR', 31) : 'unavailable');
  const out: string[] = [];
  for (const n of rep.nets) {
    const o = n.optimizer;
    out.push(
      `${n.net} (${n.file}): input ${n.input.join('x')}, batch ${n.batch}; ${o.name} lr ${o.lr}${o.name === 'momentum' || o.name === 'nesterov' ? ` momentum ${o.momentum}` : ''} weight decay ${o.weightDecay}, ${o.steps} step${o.steps === 1 ? '' : 's'}; vs PyTorch ${rep.torch} float64`,
    );
    if (n.error) out.push(`  error: ${n.error}`);
    for (const b of n.backends) {
      const what =
        b.status === 'pass' || b.status === 'fail'
          ? `${b.compared} tensors, ${b.failed} beyond tolerance; worst ${b.worst ? `${b.worst.kind} ${b.worst.name} ${fmt(b.worst.relErr)} (tol ${fmt(b.worst.tolerance)})` : '-'}`
          : (b.reason ?? '');
      out.push(`  ${b.backend.padEnd(12)} ${verdict(b.status).padEnd(opts.color ? 13 : 11)} ${what}`);
      if (b.kinks.length) {
        const total = b.kinks.reduce((a, k) => a + k.count, 0);
        const where =
          b.kinks
            .slice(0, 3)
            .map((k) => `${k.name} (step ${k.step}: ${k.count})`)
            .join(', ') + (b.kinks.length > 3 ? `, ... (${b.kinks.length - 3} more)` : '');
        out.push(`  ${' '.repeat(12)} ${total} element${total === 1 ? '' : 's'} within rounding of a kink took netc's side in the reference: ${where}`);
      }
    }
    for (const b of n.backends) {
      if (!b.rows.length) continue;
      const shown = opts.all ? b.rows : b.rows.slice(0, Math.max(opts.top, b.failed));
      out.push(`  worst on ${b.backend}${shown.length < b.rows.length ? ` (${shown.length} of ${b.rows.length}; --all for every tensor)` : ''}:`);
      out.push(...table(shown, '    '));
    }
    out.push('');
  }
  if (rep.schedules.length) {
    out.push(`learning-rate schedules vs torch.optim.lr_scheduler (every step):`);
    for (const s of rep.schedules)
      out.push(`  ${s.name.padEnd(28)} ${verdict(s.pass ? 'pass' : 'fail')}  rel err ${fmt(s.relErr)} (tol ${fmt(s.tolerance)})${s.note ? `  ${s.note}` : ''}`);
    out.push('');
  }
  out.push('where netc deliberately differs from PyTorch:', ...rep.notes.map((n) => `  - ${n}`));
  out.push('', `verdict: ${rep.pass ? paint('PASS', 32) : paint('FAIL', 31)}`);
  return out.join('\n') + '\n';
}
