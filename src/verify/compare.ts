/** Tensor-by-tensor comparison of netc's results with PyTorch's float64 reference, worst first. */
import { CONDITIONING, FLOOR, KIND_FLOOR, KINDS, type Kind } from './spec.js';

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

/**
 * Which kind a result key is: the first pattern that matches. Also handed to the Python side, which
 * needs it only to tell whether netc is beyond a tolerance somewhere (then it also runs PyTorch in
 * float32, see python.ts); the verdict is compareNet's.
 */
export const KEY_KINDS: [pattern: string, kind: Kind][] = [
  ['^train/', 'forward-train'],
  ['^eval/', 'forward-eval'],
  ['^loss/', 'loss'],
  ['^grad/', 'grad'],
  ['^final/.*\\.running_(mean|var)$', 'running-stat'],
  ['^final/', 'update'],
];
const keyKinds = KEY_KINDS.map(([p, kind]) => [new RegExp(p), kind] as const);

/** Which kind a result key is, and the name shown. */
function classify(key: string): { kind: Kind; name: string } | null {
  const kind = keyKinds.find(([re]) => re.test(key))?.[1];
  if (!kind) return null;
  const rest = key.slice(key.indexOf('/') + 1);
  return { kind, name: kind === 'loss' ? `step ${Number(rest) + 1}` : rest };
}

/** The denominator's floor of each kind, relative to the kind's largest reference in the net. */
export const floorOf = (kind: Kind) => KIND_FLOOR[kind] ?? FLOOR;

/** One compared tensor as the Python side measured it (python.ts, PythonStats). */
export type TensorStats = [elements: number, refMaxAbs: number, netcElements: number, maxAbsErr: number | null, torch32MaxAbsErr: number | null];

/**
 * The rows of one net on one backend from the statistics PyTorch's side measured (python.ts):
 * relative error against each tensor's own size, or a floor of its kind's largest where the
 * reference is all but zero; a tensor beyond tolerance passes when PyTorch's own float32 is off by
 * nearly as much (ill-conditioned).
 */
export function compareNet(stats: Record<string, TensorStats>): Row[] {
  const items: { key: string; kind: Kind; name: string; s: TensorStats }[] = [];
  const kindMax = new Map<Kind, number>();
  for (const [key, s] of Object.entries(stats)) {
    const c = classify(key);
    if (!c) continue;
    kindMax.set(c.kind, Math.max(kindMax.get(c.kind) ?? 0, s[1]));
    items.push({ key, ...c, s });
  }
  const rows: Row[] = [];
  for (const it of items) {
    const [elements, refMax, netcElements, err, e32] = it.s;
    const tolerance = KINDS[it.kind].tolerance;
    const denom = Math.max(refMax, floorOf(it.kind) * (kindMax.get(it.kind) ?? 0), 1e-30);
    const base = { name: it.name, kind: it.kind, refMaxAbs: refMax, tolerance };
    if (netcElements < 0) {
      rows.push({ ...base, relErr: null, maxAbsErr: null, torch32RelErr: null, pass: false, note: 'netc has no such tensor' });
      continue;
    }
    const rel = err === null ? null : err / denom;
    const rel32 = e32 === null ? null : e32 / denom;
    const within = rel !== null && rel <= tolerance;
    const conditioned = rel !== null && rel32 !== null && rel <= CONDITIONING * rel32;
    const note =
      netcElements !== elements
        ? `netc has ${netcElements} elements, PyTorch ${elements}`
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
