/**
 * PyTorch's side of `netc verify`: one Python process for every net of a chunk (torch's import alone
 * takes seconds), in float64. The script is written next to the jobs and reads pyjobs.json; it
 * compares netc's results with its reference and writes per-tensor statistics; nothing here decides
 * pass or fail (compare.ts does).
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { floorOf, KEY_KINDS } from './compare.js';
import { KINDS, type Kind } from './spec.js';

let chosen: string | null = null;

/** The Python interpreter: $NETC_PYTHON, else the first of python3 on the PATH and /usr/bin/python3 that has torch. */
export const pythonBinary = () => chosen ?? process.env['NETC_PYTHON'] ?? 'python3';

export const INSTALL_HELP =
  'netc verify compares with PyTorch, which is not installed for this Python: install it (Debian/Ubuntu: apt-get install python3-torch; ' +
  'elsewhere: pip install torch), or point NETC_PYTHON at a Python that has it';

/**
 * What Debian's python3-torch needs to run float64 at speed: it calls whatever libblas.so.3 the
 * system provides, by default the reference BLAS. On this project's 2-core machine, one thread:
 * float64 matmul 4.9 GFLOP/s there, 68 with OpenBLAS; VGG-16's float64 reference step at 224x224
 * 72.8 s there, 8.6 s with OpenBLAS.
 */
export const FAST_BLAS_HELP =
  "PyTorch's float64 runs on the reference BLAS here, about 10x slower than an optimized one: apt-get install libopenblas0-pthread (Debian/Ubuntu) makes verify's reference that much faster";

// Prints torch's version, then the BLAS it computes with: where torch calls the system's
// (BLAS_INFO=generic, Debian's build), the library the process mapped (the kernel gives its real
// path); else the build's own (a wheel's "mkl").
const PROBE = String.raw`import re, torch
print(torch.__version__)
try:
    info = (re.findall(r'BLAS_INFO=(\w+)', torch.__config__.show()) or ['unknown'])[0]
    print(next((l.split()[-1] for l in open('/proc/self/maps') if 'libblas.so' in l), 'none loaded') if info == 'generic' else info + ' (its own)')
except Exception:
    print('unknown')`;

/**
 * What `python` (run with `env` added) has of torch: its version and BLAS, and whether that BLAS is
 * the reference one (Debian's /usr/lib/<arch>/blas/libblas.so.3, see FAST_BLAS_HELP); or why torch
 * cannot be imported. The benchmarks print the same (bench/torch-blas.mjs).
 */
export function probeTorch(python: string, env: Record<string, string> = {}): { version: string; blas: string; slowBlas: boolean } | { reason: string } {
  const r = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.error) return { reason: `${python}: cannot run it (${r.error.message})` };
  if (r.status !== 0) return { reason: `${python}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}` };
  const [version = '', blas = 'unknown'] = r.stdout.trim().split('\n');
  return { version: version.trim(), blas: blas.trim(), slowBlas: /\/blas\/libblas\.so/.test(blas) };
}

/** torch's version, or null with the reason it cannot be imported; slowBlas: see probeTorch. */
export function torchVersion(): { version: string | null; reason: string; slowBlas: boolean } {
  // A user's python3 (pyenv, a venv) may lack torch where the system's has it (Debian's python3-torch).
  const candidates = process.env['NETC_PYTHON'] ? [process.env['NETC_PYTHON']] : ['python3', '/usr/bin/python3'];
  const reasons: string[] = [];
  for (const py of candidates) {
    const probe = probeTorch(py);
    if ('reason' in probe) reasons.push(probe.reason);
    else {
      chosen = py;
      return { version: probe.version, reason: '', slowBlas: probe.slowBlas };
    }
  }
  return { version: null, reason: reasons.join('; '), slowBlas: false };
}

const SCRIPT = String.raw`
import importlib.util, json, math, re, struct, sys, traceback
import torch
import torch.nn.functional as F

torch.set_num_threads(1)  # verify runs beside other work; float64 on small batches needs no threads


def read_st(path, prefixes=None, double=True):
    # One read of the whole file; each tensor a view into it (the writers keep every tensor aligned).
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for k, info in header.items():
        if k == '__metadata__' or (prefixes and not k.startswith(prefixes)):
            continue
        s, e = info['data_offsets']
        dt = {'F32': torch.float32, 'F64': torch.float64}[info['dtype']]
        size = 4 if dt == torch.float32 else 8
        t = torch.frombuffer(data, dtype=dt, count=(e - s) // size, offset=s) if e > s else torch.zeros(0, dtype=dt)
        t = t.reshape(info['shape'])
        out[k] = t.double() if double else t
    return out


def write_st(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        b = t.detach().double().contiguous().numpy().tobytes()
        header[k] = {'dtype': 'F64', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header)
    h += ' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h.encode())
        for b in blobs:
            f.write(b)


def optimizer(params, j):
    o, lr, m, wd = j['optimizer'], j['lr'], j['momentum'], j['weight_decay']
    if o == 'sgd':
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if o in ('momentum', 'nesterov'):
        return torch.optim.SGD(params, lr=lr, momentum=m, dampening=0, nesterov=o == 'nesterov', weight_decay=wd)
    if o == 'adam':
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    if o == 'adamw':
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    if o == 'rmsprop':
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-8, weight_decay=wd)
    raise ValueError('unknown optimizer ' + o)


def run_net(j, dtype, weights):
    # The same draws in the float64 and float32 runs: a random op netc does not replay must not pass
    # as ill-conditioned because the float32 run drew other numbers.
    torch.manual_seed(0)
    spec = importlib.util.spec_from_file_location('netc_verify_' + j['id'], j['module'])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build().to(dtype)
    init = {k: v.to(dtype) for k, v in weights.items()}
    batch = read_st(j['batch'])
    x = batch['x'].to(dtype)
    y = batch['y'].long()
    missing, unexpected = model.load_state_dict(init, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise RuntimeError('weights do not fit the exported model: missing %s, unexpected %s' % (missing, unexpected))
    masks = {k: v.to(dtype) for k, v in read_st(j['masks'], ('mask/', 'kink/')).items()} if j['masks'] else {}
    res = {}
    state = {'step': 0, 'record': None}
    modules = dict(model.named_modules())
    for key in list(j['masked']) + list(j['kinks']):
        if key not in modules:
            raise RuntimeError('no PyTorch module %s to replay netc\'s dropout mask or kink sides on' % key)

    def replay_kinks(key, mod, x, out):
        # Elements whose input lies within the forward tolerance of a kink (ReLU's 0), where netc's
        # rounding put them on the other side: the gradient takes netc's side (its input, a constant
        # here, plus x - x.detach() so the gradient still reaches x); the output keeps this run's value.
        xn = masks.get('kink/%d/%s' % (state['step'], key))
        if xn is None or xn.shape != x.shape:
            return out
        xn, xd = xn.to(x.dtype), x.detach()
        tol = j['kink_tol'] * float(xd.abs().max())
        if j['kinks'][key] == 'window-max':
            # A max pool's windows whose two candidates (this run's maximum, netc's) lie within tol.
            if not isinstance(mod, torch.nn.MaxPool2d):
                return out
            geo = dict(kernel_size=mod.kernel_size, stride=mod.stride, padding=mod.padding, dilation=mod.dilation, ceil_mode=mod.ceil_mode, return_indices=True)
            mine, theirs = F.max_pool2d(xd, **geo)[1].flatten(2), F.max_pool2d(xn, **geo)[1].flatten(2)
            flat = xd.flatten(2)
            amb = (mine != theirs) & ((flat.gather(2, mine) - flat.gather(2, theirs)).abs() <= tol)
            n = int(amb.sum())
            if n == 0:
                return out
            alt = x.flatten(2).gather(2, theirs).view_as(out)
            amb = amb.view_as(out)
        else:
            amb = torch.zeros_like(xd, dtype=torch.bool)
            for k in j['kinks'][key]:
                amb |= ((xd - k).abs() <= tol) & ((xn > k) != (xd > k))
            n = int(amb.sum())
            if n == 0:
                return out
            alt = mod.forward(torch.where(amb, xn + (x - xd), x))
        res['kinks/%d/%s' % (state['step'], key)] = torch.tensor(float(n))
        return torch.where(amb, out.detach() + (alt - alt.detach()), out)

    def hook_for(key):
        def hook(mod, inp, out):
            if key in j['masked'] and mod.training:
                out = inp[0] * masks['mask/%d/%s' % (state['step'], key)] / (1 - j['masked'][key])
            if key in j['kinks'] and mod.training:
                out = replay_kinks(key, mod, inp[0], out)
            if state['record'] is not None:
                # nn.MultiheadAttention returns (output, weights)
                res['%s/%s' % (state['record'], key)] = (out[0] if isinstance(out, tuple) else out).detach().clone()
            return out
        return hook

    for key in j['probes']:
        if key in modules:
            modules[key].register_forward_hook(hook_for(key))

    def loss_of(out):
        if j['probs']:
            return F.nll_loss(torch.log(out.clamp(1e-7, 1)), y)
        return F.cross_entropy(out, y)

    opt = optimizer(model.parameters(), j)
    model.train()
    for step in range(j['steps']):
        state['step'] = step
        state['record'] = 'train' if step == 0 else None
        opt.zero_grad()
        loss = loss_of(model(x))
        loss.backward()
        res['loss/%d' % step] = loss.detach().reshape([])
        if step == 0:
            for name, p in model.named_parameters():
                if p.grad is not None:
                    res['grad/' + name] = p.grad.detach().clone()
            # Eval mode before the first update, as netc's side does (netc-side.ts says why).
            model.eval()
            state['record'] = 'eval'
            with torch.no_grad():
                model(x)
            model.train()
        opt.step()
    state['record'] = None
    for k, v in model.state_dict().items():
        if not k.endswith('num_batches_tracked'):
            res['final/' + k] = v.detach().clone()
    return res


def max_err(a, r):
    # max|a - r|, or None where a is not finite and r is not the same infinity (or the sizes differ).
    # a may be float32: the subtraction promotes it in the same pass (no float64 copy of netc's results
    # first, which cost as much as the difference itself).
    if a.numel() != r.numel():
        return None
    if a.numel() == 0:
        return 0.0
    if a.shape != r.shape:
        a = a.reshape(r.shape)
    d = torch.sub(a, r).abs_()
    m = float(d.max())  # NaN when any difference is
    if math.isfinite(m):
        return m
    a, r, d = a.reshape(-1), r.reshape(-1), d.reshape(-1)
    finite = torch.isfinite(d)
    if not bool(finite.all()):
        bad = ~finite
        if bool((a[bad] != r[bad]).any()):
            return None
        d = d[finite]
    return float(d.max()) if d.numel() else 0.0


def delta_of(k, init):
    # Updates and running statistics are compared as changes from the initial weights.
    base = init.get(k[len('final/'):]) if k.startswith('final/') else None
    return (lambda t: torch.sub(t, base)) if base is not None else (lambda t: t)


def compare(ref, init, netc):
    # Per compared tensor: [elements, max|ref|, netc's elements (-1: missing), max|netc - ref|, None].
    out = {}
    for k, r in ref.items():
        if k.startswith('kinks/'):
            continue
        delta = delta_of(k, init)
        rv = delta(r)
        ref_max = float(rv.abs().max()) if rv.numel() else 0.0
        if not math.isfinite(ref_max):
            raise RuntimeError('the float64 reference itself is not finite at %s' % k)
        a = netc.get(k)
        out[k] = [
            rv.numel(),
            ref_max,
            -1 if a is None else a.numel(),
            None if a is None else max_err(delta(a), rv),
            None,
        ]
    return out


def torch32_errors(ref, ref32, init):
    # PyTorch's own float32 error on each tensor: max|f32 - f64|.
    out = {}
    for k, r in ref.items():
        if k in ref32:
            delta = delta_of(k, init)
            out[k] = max_err(delta(ref32[k]), delta(r))
    return out


def beyond(stats, rules):
    # Whether netc is beyond a tolerance on some tensor, measured as compare.ts does (it judges; this
    # only tells whether PyTorch's float32 error is worth computing as well).
    kinds = rules['kinds']
    kind_of, kind_max = {}, {}
    for k, s in stats.items():
        kind = next((kd for rx, kd in rules['keys'] if re.search(rx, k)), None)
        if kind is not None:
            kind_of[k] = kind
            kind_max[kind] = max(kind_max.get(kind, 0.0), s[1])
    for k, kind in kind_of.items():
        n, ref_max, mine, err, _ = stats[k]
        tol, floor = kinds[kind]
        if mine != n or err is None or err / max(ref_max, floor * kind_max[kind], 1e-30) > tol:
            return True
    return False


def run_schedules(items, path):
    res = {}
    for s in items:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=s['lr'], momentum=0.9)
        total = s['epochs'] * s['steps_per_epoch']
        kind, sch, per_step = s['schedule'], None, False
        if kind == 'step':
            sch = torch.optim.lr_scheduler.StepLR(opt, step_size=s['step_size'], gamma=s['gamma'])
        elif kind == 'cosine':
            sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s['epochs'])
        elif kind == 'onecycle':
            sch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s['lr'], total_steps=total, cycle_momentum=False)
            per_step = True
        lrs = []
        for e in range(s['epochs']):
            for k in range(s['steps_per_epoch']):
                lrs.append(opt.param_groups[0]['lr'])
                opt.step()
                if per_step:
                    sch.step()
            if sch is not None and not per_step:
                sch.step()
        res['lr/' + s['id']] = torch.tensor(lrs, dtype=torch.float64)
    write_st(path, res)


def main():
    jobs = json.load(open(sys.argv[1]))
    errors = {}
    for j in jobs['nets']:
        try:
            init = read_st(j['inputs'])
            ref = run_net(j, torch.float64, init)
            compared = {c['backend']: compare(ref, init, read_st(c['results'], double=False)) for c in j['compare']}
            if any(beyond(st, jobs['rules']) for st in compared.values()):
                # PyTorch's own float32 error tells an ill-conditioned tensor from a bug; most nets
                # need no such excuse, so it runs only where netc is beyond a tolerance.
                e32 = torch32_errors(ref, run_net(j, torch.float32, init), init)
                for st in compared.values():
                    for k, s in st.items():
                        s[4] = e32.get(k)
            report = {'kinks': {k[len('kinks/'):]: float(v) for k, v in ref.items() if k.startswith('kinks/')}, 'compared': compared}
            with open(j['out'], 'w') as f:
                json.dump(report, f)
            del ref, init, compared
        except Exception as e:
            errors[j['id']] = '%s: %s' % (type(e).__name__, str(e).split('\n')[0][:300])
    try:
        run_schedules(jobs['schedules'], jobs['schedules_out'])
    except Exception as e:
        errors['schedules'] = '%s: %s' % (type(e).__name__, e)
    print(json.dumps({'torch': torch.__version__, 'errors': errors}))


main()
`;

export interface PythonNetJob {
  id: string;
  module: string;
  /** The seeded initial weights (safetensors, PyTorch's names and layouts). */
  inputs: string;
  /** The batch: x (NCHW) and y. */
  batch: string;
  /** netc's dropout masks and kink-op inputs to replay (one backend's), or null. */
  masks: string | null;
  /** netc's results to compare with this reference, per backend. */
  compare: { backend: string; results: string }[];
  /** Where the statistics go (JSON, see PythonStats). */
  out: string;
  optimizer: string;
  lr: number;
  momentum: number;
  weight_decay: number;
  steps: number;
  probs: boolean;
  probes: string[];
  masked: Record<string, number>;
  /** Module -> the input values where its gradient jumps, or 'window-max'; replayed within kink_tol (relative). */
  kinks: Record<string, number[] | 'window-max'>;
  kink_tol: number;
}

/**
 * What the Python side measured for one reference (the full tensors never leave Python: for the
 * larger nets writing and reading them cost more than computing them). Per backend and result key:
 * [elements, max|reference|, netc's elements (-1: missing), max|netc - reference| (null: not
 * finite where the reference is, or sizes differ), the same for PyTorch's own float32 run].
 */
export interface PythonStats {
  /** `${step}/${module}` -> elements replayed on netc's side of a kink. */
  kinks: Record<string, number>;
  compared: Record<string, Record<string, [number, number, number, number | null, number | null]>>;
}

export interface PythonScheduleJob {
  id: string;
  schedule: string;
  lr: number;
  epochs: number;
  steps_per_epoch: number;
  step_size: number;
  gamma: number;
}

/** Runs the reference for every job; returns torch's version and per-job errors. */
export async function runPython(
  dir: string,
  nets: PythonNetJob[],
  schedules: PythonScheduleJob[],
): Promise<{ torch: string; errors: Record<string, string>; schedulesOut: string }> {
  const script = join(dir, 'reference.py');
  writeFileSync(script, SCRIPT);
  const schedulesOut = join(dir, 'schedules.ref.safetensors');
  const jobs = join(dir, 'pyjobs.json');
  const rules = { keys: KEY_KINDS, kinds: Object.fromEntries(Object.entries(KINDS).map(([k, v]) => [k, [v.tolerance, floorOf(k as Kind)]])) };
  writeFileSync(jobs, JSON.stringify({ nets, schedules, schedules_out: schedulesOut, rules }));
  // Asynchronous: the next chunk's netc workers run meanwhile (engine.ts).
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    // One BLAS thread, as torch itself is given one (the script says why); OpenBLAS would start one per core.
    const env = { OPENBLAS_NUM_THREADS: '1', ...process.env };
    const child = spawn(pythonBinary(), [script, jobs], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot run ${pythonBinary()}: ${e.message}`)));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  if (r.status !== 0) throw new Error(`the PyTorch reference failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string; errors: Record<string, string> };
  return { ...result, schedulesOut };
}
