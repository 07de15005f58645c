/**
 * `netc verify`'s engine: builds each net from the same seeded weights and batch in netc (one worker
 * process per backend, see worker.ts) and in PyTorch float64 (one Python process, see python.ts), a
 * chunk of nets at a time, then judges tensor by tensor from what Python measured (compare.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportPytorch } from '../export/pytorch.js';
import type { IRGraph, IRNode } from '../ir/types.js';
import { pair } from '../ops/window.js';
import { makeRng } from '../random.js';
import { opOf } from '../ops/index.js';
import { product, weightCount } from '../ir/size.js';
import { mixSeed } from '../train/random.js';
import { learningRate } from '../train/schedule.js';
import { compareNet, compareSeries, maxAbs, type Row } from './compare.js';
import { outputsProbabilities, probes } from './netc-side.js';
import { runPython, type PythonNetJob, type PythonStats } from './python.js';
import { DELIBERATE, KINDS, type ScheduleJob, type VerifyBackend, type VerifyJob } from './spec.js';
import { readTensors, writeTensors, type Named } from './tensors.js';

export interface BackendReport {
  backend: VerifyBackend;
  /** The backend line netc prints when it trains on it. */
  description: string | null;
  status: 'pass' | 'fail' | 'unavailable' | 'error';
  reason: string | null;
  seconds: number | null;
  compared: number;
  failed: number;
  worst: Row | null;
  rows: Row[];
  /**
   * Elements where netc's input to an op with a kink (ReLU's 0) lay on the other side of it than
   * PyTorch's float64 input, within the forward tolerance: the reference took netc's side there.
   */
  kinks: { name: string; step: number; count: number }[];
}

export interface NetReport {
  id: string;
  net: string;
  file: string;
  input: number[];
  batch: number;
  optimizer: { name: string; lr: number; momentum: number; weightDecay: number; steps: number };
  status: 'pass' | 'fail' | 'error';
  error: string | null;
  backends: BackendReport[];
}

export interface VerifyReport {
  torch: string;
  tolerances: Record<string, number>;
  nets: NetReport[];
  schedules: Row[];
  notes: string[];
  pass: boolean;
}

/** worker.js beside this module once built; from the sources (tests), the built one in dist/. */
function workerPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'worker.js');
  return existsSync(beside) ? beside : join(here, '..', '..', 'dist', 'verify', 'worker.js');
}

function runWorker(dir: string, backend: VerifyBackend): Promise<void> {
  return new Promise((resolve, reject) => {
    // Plain wasm: the same backend without the native addon, which registers itself at load.
    const env = { ...process.env, ...(backend === 'wasm' ? { NETC_NATIVE: '0' } : {}) };
    const child = spawn(process.execPath, [workerPath(), dir, backend], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || existsSync(join(dir, backend, 'status.json'))) resolve();
      else reject(new Error(`the ${backend} worker exited with ${code}: ${err.trim().split('\n').slice(-2).join(' | ')}`));
    });
  });
}

/** The batch both sides get: x ~ N(0, 1) in NCHW, labels uniform over the classes. */
function makeBatch(graph: IRGraph, job: VerifyJob, classes: number): { x: Named; y: Float32Array } {
  const rng = makeRng(mixSeed(job.seed, 0xba7c4));
  const shape = [job.batch, ...graph.input];
  const x = new Float32Array(product(shape));
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = Float32Array.from({ length: job.batch }, () => Math.min(classes - 1, Math.floor(rng.uniform() * classes)));
  return { x: { shape, data: x }, y };
}

export interface VerifyInput {
  job: VerifyJob;
  graph: IRGraph;
}

export interface VerifyOptions {
  backends: VerifyBackend[];
  schedules: ScheduleJob[];
  /** Keep the working directory (for debugging); it is printed. */
  keep?: boolean;
  log?: (line: string) => void;
}

/** An op with a kink in a net, for sameReplay: its kinks and, for max pools, the window geometry. */
interface Kinked {
  kinks: number[] | 'window-max';
  attrs: IRNode['attrs'];
  out: number[];
}

/**
 * Whether two backends' results can share one PyTorch reference: the same dropout masks, the same
 * side of every kink at each element that lies near it (within twice the forward tolerance of the
 * tensor's max-abs) on either backend, and the same maximum in every max-pool window; the reference
 * replays nothing else (python.ts).
 */
function sameReplay(a: Map<string, Named>, b: Map<string, Named>, kinked: Map<string, Kinked>): boolean {
  const near = 2 * KINDS['forward-train'].tolerance;
  for (const [k, va] of a) {
    if (!(k.startsWith('mask/') || k.startsWith('kink/'))) continue;
    const vb = b.get(k);
    if (!vb || vb.data.length !== va.data.length) return false;
    const [x, y] = [va.data, vb.data];
    if (k.startsWith('mask/')) {
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
      continue;
    }
    const op = kinked.get(k.slice(k.indexOf('/', 'kink/'.length) + 1));
    if (!op) continue;
    if (op.kinks === 'window-max') {
      if (!sameWindowMax(x, y, va.shape, op)) return false;
      continue;
    }
    const [tx, ty] = [near * maxAbs(x), near * maxAbs(y)];
    for (const p of op.kinks) {
      for (let i = 0; i < x.length; i++) {
        if ((Math.abs(x[i]! - p) <= tx || Math.abs(y[i]! - p) <= ty) && x[i]! > p !== y[i]! > p) return false;
      }
    }
  }
  return true;
}

/** Whether a max pool (NCHW input) picks the same element, the first maximum, in every window of x and y. */
function sameWindowMax(x: ArrayLike<number>, y: ArrayLike<number>, shape: number[], op: Kinked): boolean {
  const [n, c, h, w] = shape as [number, number, number, number];
  const [[kh, kw], [sh, sw], [ph, pw], [dh, dw]] = (['kernel', 'stride', 'padding', 'dilation'] as const).map((a) =>
    pair(op.attrs[a] as number[] | number | undefined, 1),
  ) as [[number, number], [number, number], [number, number], [number, number]];
  const [oh, ow] = [op.out[1]!, op.out[2]!];
  const first = (v: ArrayLike<number>, base: number, r0: number, c0: number) => {
    let best = -1;
    for (let i = 0; i < kh!; i++) {
      const r = r0 + i * dh!;
      if (r < 0 || r >= h) continue;
      for (let j = 0; j < kw!; j++) {
        const col = c0 + j * dw!;
        if (col < 0 || col >= w) continue;
        const at = base + r * w + col;
        if (best < 0 || v[at]! > v[best]!) best = at;
      }
    }
    return best;
  };
  for (let plane = 0; plane < n * c; plane++) {
    for (let r = 0; r < oh; r++) {
      for (let col = 0; col < ow; col++) {
        const [base, r0, c0] = [plane * h * w, r * sh! - ph!, col * sw! - pw!];
        if (first(x, base, r0, c0) !== first(y, base, r0, c0)) return false;
      }
    }
  }
  return true;
}

/**
 * Nets are verified a chunk at a time, each chunk's PyTorch reference running beside the next chunk's
 * netc workers: the results on disk stay bounded (netc's gradients and weights, 8 bytes a parameter
 * per backend: a whole sweep of the stdlib would hold ~35 GB at once), and Python's core is not idle
 * while the workers run. A chunk is cut at this many parameters (the first net always fits).
 */
const CHUNK_PARAMETERS = 150e6;

function chunked(inputs: VerifyInput[]): VerifyInput[][] {
  const chunks: VerifyInput[][] = [];
  let size = Infinity;
  for (const input of inputs) {
    const n = input.graph.nodes.reduce((a, node) => a + weightCount(node), 0);
    if (size + n > CHUNK_PARAMETERS) {
      chunks.push([]);
      size = 0;
    }
    chunks.at(-1)!.push(input);
    size += n;
  }
  return chunks;
}

export async function verifyMany(inputs: VerifyInput[], opts: VerifyOptions): Promise<VerifyReport> {
  const log = opts.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'netc-verify-'));
  try {
    const nets: NetReport[] = [];
    let torch = '';
    let schedules: Row[] = [];
    let reference: Promise<void> = Promise.resolve();
    let previous: Promise<void> = Promise.resolve();
    const chunks = chunked(inputs);
    for (const [k, chunk] of chunks.entries()) {
      // The chunk before last is compared and deleted first: at most two chunks' results on disk.
      await previous;
      const chunkDir = join(dir, `chunk${k}`);
      mkdirSync(chunkDir);
      const netc = await netcSide(chunkDir, chunk, opts.backends, log);
      previous = reference;
      reference = (async () => {
        await previous;
        const r = await referenceSide(chunkDir, netc, k === 0 ? opts.schedules : [], opts.backends, log);
        nets.push(...r.nets);
        torch = r.torch;
        if (k === 0) schedules = r.schedules;
        if (!opts.keep) rmSync(chunkDir, { recursive: true, force: true });
      })();
      // Its failure surfaces at the next chunk's await or the last one; until then it is not unhandled.
      reference.catch(() => {});
    }
    await reference;
    const anyAvailable = nets.every((n) => n.backends.some((b) => b.status !== 'unavailable'));
    return {
      torch,
      tolerances: Object.fromEntries(Object.entries(KINDS).map(([k, v]) => [k, v.tolerance])),
      nets,
      schedules,
      notes: DELIBERATE,
      pass: anyAvailable && nets.every((n) => n.status === 'pass') && schedules.every((s) => s.pass),
    };
  } finally {
    if (opts.keep) log(`working directory kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

interface Prepared {
  input: VerifyInput;
  error: string | null;
  classes: number;
  module: string;
}

type WorkerStatus = { description?: string; unavailable?: string; errors: Record<string, string>; seconds: Record<string, number> };

interface NetcSide {
  prepared: Prepared[];
  statuses: Map<VerifyBackend, WorkerStatus>;
  pyJobs: PythonNetJob[];
  /** `${id}|${backend}` -> the Python job whose reference that backend's results are compared with. */
  refOf: Map<string, string>;
}

/** netc's side of one chunk: the PyTorch modules and the batch, one worker per backend, the reference jobs. */
async function netcSide(dir: string, inputs: VerifyInput[], backends: VerifyBackend[], log: (line: string) => void): Promise<NetcSide> {
  const prepared: Prepared[] = [];
  for (const input of inputs) {
    const { job, graph } = input;
    const jobDir = join(dir, job.id);
    mkdirSync(jobDir, { recursive: true });
    const out = graph.nodes[graph.output]!.shape ?? [];
    let error: string | null = null;
    const classes = out[0] ?? 0;
    const module = join(jobDir, 'model.py');
    try {
      if (out.length !== 1 || classes < 2) throw new Error(`verify needs a classifier: the net's output is [${out.join(', ')}], not [classes]`);
      writeFileSync(module, exportPytorch(graph));
      const batch = makeBatch(graph, job, classes);
      writeTensors(
        join(jobDir, 'batch.safetensors'),
        new Map([
          ['x', batch.x],
          ['y', { shape: [job.batch], data: batch.y }],
        ]),
      );
    } catch (e) {
      error = (e as Error).message.split('\n')[0]!;
    }
    prepared.push({ input, error, classes, module });
  }
  const ok = prepared.filter((p) => !p.error);
  writeFileSync(join(dir, 'jobs.json'), JSON.stringify(ok.map((p) => ({ job: p.input.job, classes: p.classes }))));

  // A worker per backend, two at a time (the machine may have two cores).
  const queue = [...backends];
  const names = inputs.map((i) => i.graph.net).join(', ');
  const running = async () => {
    for (let b = queue.shift(); b; b = queue.shift()) {
      log(`netc on ${b} (${names})...`);
      await runWorker(dir, b);
    }
  };
  await Promise.all([running(), running()]);
  const statuses = new Map(backends.map((b) => [b, JSON.parse(readFileSync(join(dir, b, 'status.json'), 'utf8')) as WorkerStatus]));
  // What the reference must replay (dropout masks, kink-op inputs), kept apart from the results (worker.ts).
  const replayed = (b: VerifyBackend, id: string): Map<string, Named> | null => {
    const f = join(dir, b, `${id}.replay.safetensors`);
    return existsSync(f) ? readTensors(f) : null;
  };

  // PyTorch's side: one reference per net and distinct set of dropout masks.
  const pyJobs: PythonNetJob[] = [];
  const refOf = new Map<string, string>(); // `${id}|${backend}` -> python job id
  for (const p of ok) {
    const { job, graph } = p.input;
    const masked: Record<string, number> = {};
    const kinked = new Map<string, Kinked>();
    for (const n of graph.nodes) {
      const op = opOf(n);
      if (op.randomMask) masked[n.name] = Number(n.attrs[op.randomMask.probability] ?? 0);
      if (op.kinks) kinked.set(n.name, { kinks: op.kinks, attrs: n.attrs, out: n.shape ?? [] });
    }
    const replays = Object.keys(masked).length + kinked.size > 0;
    const groups: { replay: Map<string, Named>; job: PythonNetJob }[] = [];
    for (const b of backends) {
      const r = replayed(b, job.id);
      if (!r) continue;
      const results = { backend: b, results: join(dir, b, `${job.id}.safetensors`) };
      const group = groups.find((g) => !replays || sameReplay(g.replay, r, kinked));
      if (group) group.job.compare.push(results);
      else {
        const pid = `${job.id}-${groups.length}`;
        const pyJob: PythonNetJob = {
          id: pid,
          module: p.module,
          inputs: join(dir, job.id, 'weights.safetensors'),
          batch: join(dir, job.id, 'batch.safetensors'),
          masks: replays ? join(dir, b, `${job.id}.replay.safetensors`) : null,
          compare: [results],
          out: join(dir, job.id, `${pid}.stats.json`),
          optimizer: job.optimizer,
          lr: job.lr,
          momentum: job.momentum,
          weight_decay: job.weightDecay,
          steps: job.steps,
          probs: outputsProbabilities(graph),
          probes: probes(graph).map((q) => q.key),
          masked,
          // Kinks netc's results hold (not every kink op has a recorded input, see netc-side.ts).
          kinks: Object.fromEntries([...kinked].filter(([name]) => r.has(`kink/0/${name}`)).map(([name, k]) => [name, k.kinks])),
          kink_tol: KINDS['forward-train'].tolerance,
        };
        groups.push({ replay: r, job: pyJob });
        pyJobs.push(pyJob);
      }
      refOf.set(`${job.id}|${b}`, (group?.job ?? groups.at(-1)!.job).id);
    }
  }
  return { prepared, statuses, pyJobs, refOf };
}

/** PyTorch's side of one chunk (and the schedules, given any), then the comparison. */
async function referenceSide(
  dir: string,
  { prepared, statuses, pyJobs, refOf }: NetcSide,
  scheduleJobs: ScheduleJob[],
  backends: VerifyBackend[],
  log: (line: string) => void,
): Promise<{ nets: NetReport[]; schedules: Row[]; torch: string }> {
  log(`PyTorch float64 reference (${[...new Set(prepared.filter((p) => !p.error).map((p) => p.input.graph.net))].join(', ')})...`);
  const py = await runPython(
    dir,
    pyJobs,
    scheduleJobs.map((s) => ({
      id: s.id,
      schedule: s.schedule,
      lr: s.lr,
      epochs: s.epochs,
      steps_per_epoch: s.stepsPerEpoch,
      step_size: s.stepSize,
      gamma: s.gamma,
    })),
  );
  // One reference's statistics serve every backend grouped with it: read each file once.
  const stats = new Map(pyJobs.filter((j) => !py.errors[j.id]).map((j) => [j.id, JSON.parse(readFileSync(j.out, 'utf8')) as PythonStats]));

  const nets: NetReport[] = prepared.map((p) => {
    const { job, graph } = p.input;
    const reports: BackendReport[] = backends.map((b) => {
      const st = statuses.get(b)!;
      const base = {
        backend: b,
        description: st.description ?? null,
        seconds: st.seconds?.[job.id] ?? null,
        compared: 0,
        failed: 0,
        worst: null,
        rows: [],
        kinks: [],
      };
      if (st.unavailable) return { ...base, status: 'unavailable', reason: st.unavailable };
      if (p.error) return { ...base, status: 'error', reason: p.error };
      if (st.errors[job.id]) return { ...base, status: 'error', reason: `netc: ${st.errors[job.id]}` };
      const pid = refOf.get(`${job.id}|${b}`)!;
      if (py.errors[pid]) return { ...base, status: 'error', reason: `PyTorch: ${py.errors[pid]}` };
      const { compared, kinks: replayedKinks } = stats.get(pid)!;
      const rows = compareNet(compared[b] ?? {});
      const failed = rows.filter((r) => !r.pass).length;
      const kinks = Object.entries(replayedKinks).map(([k, count]) => {
        const [, step, name] = /^(\d+)\/(.*)$/.exec(k)!;
        return { name: name!, step: Number(step) + 1, count };
      });
      return { ...base, status: failed ? 'fail' : 'pass', reason: null, compared: rows.length, failed, worst: rows[0] ?? null, rows, kinks };
    });
    const available = reports.filter((b) => b.status !== 'unavailable');
    const status: NetReport['status'] =
      p.error || available.some((b) => b.status === 'error') ? 'error' : available.some((b) => b.status === 'fail') ? 'fail' : 'pass';
    return {
      id: job.id,
      net: graph.net,
      file: job.file,
      input: [...graph.input],
      batch: job.batch,
      optimizer: { name: job.optimizer, lr: job.lr, momentum: job.momentum, weightDecay: job.weightDecay, steps: job.steps },
      status,
      error: p.error,
      backends: reports,
    };
  });

  const schedules: Row[] = [];
  if (scheduleJobs.length) {
    const ref = py.errors['schedules'] ? new Map<string, Named>() : readTensors(py.schedulesOut);
    for (const s of scheduleJobs) {
      const mine: number[] = [];
      for (let e = 0; e < s.epochs; e++) for (let k = 0; k < s.stepsPerEpoch; k++) mine.push(learningRate({ ...s }, e, k, s.stepsPerEpoch));
      const r = ref.get(`lr/${s.id}`);
      schedules.push(
        r
          ? compareSeries(s.id, mine, r.data)
          : {
              name: s.id,
              kind: 'lr',
              relErr: null,
              maxAbsErr: null,
              refMaxAbs: 0,
              torch32RelErr: null,
              tolerance: 1e-9,
              pass: false,
              note: py.errors['schedules'] ?? 'no reference',
            },
      );
    }
  }
  return { nets, schedules, torch: py.torch };
}
