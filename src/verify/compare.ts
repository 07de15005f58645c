/** Tensor-by-tensor comparison of netc's results with PyTorch's float64 reference, worst first. */
import { CONDITIONING, FLOOR, KIND_FLOOR, KINDS, type Kind } from './spec.js';
import type { Named } from './tensors.js';

export interface Row {
  /** The PyTorch name: module name for outputs, state-dict key for parameters, `step N` for losses. */
  name: string;
  kind: Kind;
  /** max|netc - torch| / max(max|torch|, floor); null when the tensor is missing or misshapen. */
  relErr: number | null;
  maxAbsErr: number | null;
  refMaxAbs: number;
  tolerance: number;
  /** The same measure for PyTorch's own float32 run: how ill-conditioned the tensor is. */
  torch32RelErr: number | null;
  pass: boolean;
  note?: string;
}

export const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

/** Which kind a result key is, and the name shown. */
function classify(key: string): { kind: Kind; name: string } | null {
  const slash = key.indexOf('/');
  const [prefix, rest] = [key.slice(0, slash), key.slice(slash + 1)];
  switch (prefix) {
    case 'train':
      return { kind: 'forward-train', name: rest };
    case 'eval':
      return { kind: 'forward-eval', name: rest };
    case 'loss':
      return { kind: 'loss', name: `step ${Number(rest) + 1}` };
    case 'grad':
      return { kind: 'grad', name: rest };
    case 'final':
      return { kind: /\.running_(mean|var)$/.test(rest) ? 'running-stat' : 'update', name: rest };
    default:
      return null;
  }
}

/** Values compared for a key: updates and running statistics as changes from the initial state. */
function values(key: string, t: Named, initial: Map<string, Named>): ArrayLike<number> {
  if (!key.startsWith('final/')) return t.data;
  const before = initial.get(key.slice('final/'.length));
  if (!before) return t.data;
  const d = new Float64Array(t.data.length);
  for (let i = 0; i < d.length; i++) d[i] = t.data[i]! - before.data[i]!;
  return d;
}

/** max|a - r| over the elements, or null when a value is not finite where the reference's is (or sizes differ). */
function maxErr(a: ArrayLike<number>, r: ArrayLike<number>): number | null {
  if (a.length !== r.length) return null;
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - r[i]!);
    if (Number.isFinite(d)) err = Math.max(err, d);
    else if (a[i] !== r[i]) return null; // equal infinities agree
  }
  return err;
}

export function compareNet(netc: Map<string, Named>, ref: Map<string, Named>, initial: Map<string, Named>, torch32?: Map<string, Named>): Row[] {
  const items: { key: string; kind: Kind; name: string; r: ArrayLike<number>; refMax: number }[] = [];
  const kindMax = new Map<Kind, number>();
  for (const [key, t] of ref) {
    const c = classify(key);
    if (!c) continue;
    const r = values(key, t, initial);
    const refMax = maxAbs(r);
    kindMax.set(c.kind, Math.max(kindMax.get(c.kind) ?? 0, refMax));
    items.push({ key, ...c, r, refMax });
  }
  const rows: Row[] = [];
  for (const it of items) {
    const tolerance = KINDS[it.kind].tolerance;
    const denom = Math.max(it.refMax, (KIND_FLOOR[it.kind] ?? FLOOR) * (kindMax.get(it.kind) ?? 0), 1e-30);
    const base = { name: it.name, kind: it.kind, refMaxAbs: it.refMax, tolerance };
    const mine = netc.get(it.key);
    if (!mine) {
      rows.push({ ...base, relErr: null, maxAbsErr: null, torch32RelErr: null, pass: false, note: 'netc has no such tensor' });
      continue;
    }
    const a = values(it.key, mine, initial);
    const err = maxErr(a, it.r);
    const t32 = torch32?.get(it.key);
    const e32 = t32 ? maxErr(values(it.key, t32, initial), it.r) : null;
    const rel = err === null ? null : err / denom;
    const rel32 = e32 === null ? null : e32 / denom;
    const within = rel !== null && rel <= tolerance;
    const conditioned = rel !== null && rel32 !== null && rel <= CONDITIONING * rel32;
    const note =
      a.length !== it.r.length
        ? `netc has ${a.length} elements, PyTorch ${it.r.length}`
        : err === null
          ? 'NaN or infinity where PyTorch has none'
          : !within && conditioned
            ? `ill-conditioned: PyTorch's own float32 is off by ${rel32!.toExponential(1)}`
            : undefined;
    rows.push({ ...base, relErr: rel, maxAbsErr: err, torch32RelErr: rel32, pass: within || conditioned, ...(note ? { note } : {}) });
  }
  return sortWorstFirst(rows);
}

/** Failures first, then by the ratio of error to tolerance. */
export function sortWorstFirst(rows: Row[]): Row[] {
  const score = (r: Row) => (r.relErr === null ? Infinity : r.relErr / r.tolerance);
  return rows.sort((x, y) => score(y) - score(x));
}

export function compareSeries(name: string, netc: number[], ref: ArrayLike<number>): Row {
  const tolerance = KINDS.lr.tolerance;
  const refMax = maxAbs(ref);
  if (netc.length !== ref.length)
    return {
      name,
      kind: 'lr',
      relErr: null,
      maxAbsErr: null,
      torch32RelErr: null,
      refMaxAbs: refMax,
      tolerance,
      pass: false,
      note: `${netc.length} steps vs ${ref.length}`,
    };
  let err = 0;
  for (let i = 0; i < netc.length; i++) err = Math.max(err, Math.abs(netc[i]! - ref[i]!));
  const rel = err / Math.max(refMax, 1e-30);
  return { name, kind: 'lr', relErr: rel, maxAbsErr: err, torch32RelErr: null, refMaxAbs: refMax, tolerance, pass: rel <= tolerance };
}
