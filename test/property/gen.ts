/**
 * Random valid nets from every construct of the language, for the property "whatever `check`
 * accepts, `train` lowers and trains" (check-train.test.ts).
 *
 * The generator keeps the shape each stage produces by PyTorch's rules, so it writes nets that a
 * PyTorch user could build. Each construct is one entry of STAGES (feature maps [C, H, W]) or
 * FLAT_STAGES ([F]): a new op adds its entry there and nothing else. An entry says whether it applies
 * to a shape and writes one stage (its text and the shape it gives), or null when it cannot.
 * `generateNet` picks among the entries that apply, by weight, and ends with a classifier head.
 */

export type Shape = number[];

/** A deterministic generator (mulberry32): a net is a function of its seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
}

export interface Stage {
  text: string;
  shape: Shape;
}

export interface Gen {
  rng: Rng;
  /** Top-level definitions (blocks, defs) the net's stages call. */
  defs: string[];
  /** Nesting depth of bodies (residual, concat, blocks), bounded. */
  depth: number;
  /** Every entry used, for the coverage check. */
  used: Set<string>;
  fresh(prefix: string): string;
  /** A sequence of 1..n stages from `shape` (the entries' bodies). */
  seq(shape: Shape, n: number): Stage | null;
}

export interface Entry {
  name: string;
  /** How often it is drawn among the entries that apply (default 1). */
  weight?: number;
  applies(s: Shape): boolean;
  make(s: Shape, g: Gen): Stage | null;
}

/** Bounds that keep a training step on these nets in milliseconds. */
export const MAX_CHANNELS = 16;
export const MAX_ELEMENTS = 1200;
const MAX_DEPTH = 2;

const isMap = (s: Shape) => s.length === 3;
/** Feature maps and flat vectors: the shapes every entry here knows. A new shape kind (sequences [L, D]) opts entries in one by one. */
const mapOrFlat = (s: Shape) => s.length === 3 || s.length === 1;
const same = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);
const divisors = (n: number) => Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);

/** PyTorch's output size along one axis (ceil mode: the last window must start inside input + left padding). */
export function outSize(n: number, k: number, s: number, p: number, d: number, ceil = false): number {
  const num = n + 2 * p - d * (k - 1) - 1;
  if (num < 0) return 0;
  let o = (ceil ? Math.ceil(num / s) : Math.floor(num / s)) + 1;
  if (ceil && (o - 1) * s >= n + p) o -= 1;
  return o;
}

/** `v` or `(a, b)`: a scalar when both axes agree (sometimes a tuple anyway). */
function axes(g: Gen, [a, b]: [number, number]): string {
  return a === b && g.rng.bool(0.8) ? String(a) : `(${a}, ${b})`;
}

/** One per-axis value in [lo, hi]; the two axes differ sometimes. */
function perAxis(g: Gen, lo: number, hi: number): [number, number] {
  const a = g.rng.int(lo, hi);
  return g.rng.bool(0.25) ? [a, g.rng.int(lo, hi)] : [a, a];
}

function window(g: Gen, s: Shape, opts: { maxK: number; dilation: boolean; padHalf: boolean; ceil: boolean }) {
  for (let attempt = 0; attempt < 8; attempt++) {
    const k = perAxis(g, 1, opts.maxK);
    const st = perAxis(g, 1, 2);
    const d = opts.dilation && g.rng.bool(0.3) ? perAxis(g, 1, 2) : ([1, 1] as [number, number]);
    const p: [number, number] = [0, 1].map((i) => g.rng.int(0, opts.padHalf ? Math.floor(k[i]! / 2) : Math.floor(((k[i]! - 1) * d[i]!) / 2) + 1)) as [
      number,
      number,
    ];
    const ceil = opts.ceil && g.rng.bool(0.3);
    const h = outSize(s[1]!, k[0], st[0], p[0], d[0], ceil);
    const w = outSize(s[2]!, k[1], st[1], p[1], d[1], ceil);
    if (h >= 1 && w >= 1) return { k, st, p, d, ceil, h, w };
  }
  return null;
}

/** A max or average pool over a random window (max pools may dilate). */
function pool(name: 'maxpool' | 'avgpool', dilation: boolean): Entry {
  return {
    name,
    applies: isMap,
    make(s, g) {
      const w = window(g, s, { maxK: 3, dilation, padHalf: true, ceil: true });
      if (!w) return null;
      const args = [axes(g, w.k)];
      if (!same(w.st, w.k) || g.rng.bool(0.2)) args.push(`stride=${axes(g, w.st)}`);
      if (w.p[0] || w.p[1]) args.push(`pad=${axes(g, w.p)}`);
      if (w.d[0] !== 1 || w.d[1] !== 1) args.push(`dilation=${axes(g, w.d)}`);
      if (w.ceil) args.push(g.rng.bool() ? 'ceil=true' : 'ceil_mode=true');
      return { text: `${name} ${args.join(' ')}`, shape: [s[0]!, w.h, w.w] };
    },
  };
}

const ACTIVATIONS = ['relu', 'relu6', 'leakyrelu', 'leakyrelu 0.2', 'sigmoid', 'tanh', 'gelu', 'silu', 'swish', 'hardswish', 'hardsigmoid'];

/** Stages on feature maps [C, H, W]. */
export const STAGES: Entry[] = [
  {
    name: 'conv', // grouped, dilated, strided, non-square, tuple k, bias or not, positional or keyword
    applies: isMap,
    make(s, g) {
      const w = window(g, s, { maxK: 3, dilation: true, padHalf: false, ceil: false });
      if (!w) return null;
      const groups = g.rng.bool(0.35) ? g.rng.pick(divisors(s[0]!).filter((d) => d <= 4)) : 1;
      const out = groups * g.rng.int(1, Math.max(1, Math.floor(8 / groups)));
      const args = [String(out), g.rng.bool() ? axes(g, w.k) : `k=${axes(g, w.k)}`];
      if (w.st[0] !== 1 || w.st[1] !== 1 || g.rng.bool(0.1)) args.push(`stride=${axes(g, w.st)}`);
      if (w.p[0] || w.p[1]) args.push(`${g.rng.bool() ? 'pad' : 'padding'}=${axes(g, w.p)}`);
      if (w.d[0] !== 1 || w.d[1] !== 1) args.push(`dilation=${axes(g, w.d)}`);
      if (groups !== 1) args.push(`groups=${groups}`);
      if (g.rng.bool(0.4)) args.push(`bias=${g.rng.bool() ? 'true' : 'false'}`);
      return { text: `conv ${args.join(' ')}`, shape: [out, w.h, w.w] };
    },
  },
  {
    name: 'depthwise conv',
    applies: isMap,
    make(s, g) {
      const stride = s[1]! >= 4 && g.rng.bool() ? 2 : 1;
      const mult = g.rng.bool(0.3) && s[0]! * 2 <= MAX_CHANNELS ? 2 : 1;
      const h = outSize(s[1]!, 3, stride, 1, 1);
      const w = outSize(s[2]!, 3, stride, 1, 1);
      return { text: `conv ${s[0]! * mult} k=3 stride=${stride} pad=1 groups=${s[0]} bias=false`, shape: [s[0]! * mult, h, w] };
    },
  },
  {
    name: 'prelude macros',
    applies: isMap,
    make(s, g) {
      const c = g.rng.int(1, 8);
      return g.rng.bool() ? { text: `conv1x1 ${c}`, shape: [c, s[1]!, s[2]!] } : { text: `conv3x3 ${c}`, shape: [c, s[1]!, s[2]!] };
    },
  },
  { name: 'bn', applies: mapOrFlat, make: (s, g) => ({ text: g.rng.bool(0.8) ? 'bn' : 'batchnorm', shape: s }) },
  { name: 'activation', applies: mapOrFlat, make: (s, g) => ({ text: g.rng.pick(ACTIVATIONS), shape: s }) },
  pool('maxpool', true), // non-square, strided, padded, ceil mode, dilated
  pool('avgpool', false), // zero padding counted in the average (count_include_pad), ceil mode
  {
    name: 'adaptive_avgpool', // down- and up-sampling, overlapping windows
    applies: isMap,
    make(s, g) {
      const size = perAxis(g, 1, Math.min(8, s[1]! + 2));
      size[1] = g.rng.bool(0.7) ? size[0] : g.rng.int(1, Math.min(8, s[2]! + 2));
      return { text: `adaptive_avgpool ${axes(g, size)}`, shape: [s[0]!, size[0], size[1]] };
    },
  },
  { name: 'gap', applies: isMap, make: (s, g) => ({ text: g.rng.bool(0.8) ? 'gap' : 'global_avgpool', shape: [s[0]!, 1, 1] }) },
  { name: 'dropout', applies: mapOrFlat, make: (s, g) => ({ text: g.rng.bool() ? 'dropout' : `dropout ${g.rng.pick([0, 0.1, 0.5])}`, shape: s }) },
  {
    name: 'stochastic_depth',
    applies: mapOrFlat,
    make: (s, g) => ({ text: `stochastic_depth ${g.rng.pick([0, 0.2, 0.5])}${g.rng.bool() ? ` mode="${g.rng.pick(['row', 'batch'])}"` : ''}`, shape: s }),
  },
  {
    name: 'chunk',
    applies: (s) => mapOrFlat(s) && s[0]! >= 2 && s[0]! % 2 === 0,
    make(s, g) {
      const n = g.rng.pick(divisors(s[0]!).filter((d) => d >= 2 && d <= 4));
      return { text: `chunk ${n} ${g.rng.int(0, n - 1)}`, shape: [s[0]! / n, ...s.slice(1)] };
    },
  },
  {
    name: 'channel_shuffle',
    applies: (s) => isMap(s) && s[0]! >= 2 && s[0]! % 2 === 0,
    make: (s, g) => ({ text: `channel_shuffle ${g.rng.pick(divisors(s[0]!).filter((d) => d >= 2 && d <= 4))}`, shape: s }),
  },
  {
    name: 'residual +',
    applies: isMap,
    make(s, g) {
      const body = g.seq(s, 3);
      if (!body) return null;
      if (same(body.shape, s)) return { text: `< ${body.text} > + ${g.rng.bool() ? 'identity' : 'shortcut'}`, shape: s };
      const b = body.shape;
      // shortcut projects with a 1x1 conv whose stride maps H and W onto the body's.
      const stride = [1, 2, 3].find((st) => isMap(b) && outSize(s[1]!, 1, st, 0, 1) === b[1] && outSize(s[2]!, 1, st, 0, 1) === b[2]);
      if (stride === undefined) return null;
      return { text: `< ${body.text} > + shortcut`, shape: b };
    },
  },
  {
    name: 'concat ++',
    applies: isMap,
    make(s, g) {
      const a = g.seq(s, 2);
      if (!a || !isMap(a.shape)) return null;
      const spatial = (x: Shape) => isMap(x) && x[1] === a.shape[1] && x[2] === a.shape[2];
      const b = g.rng.bool(0.4) && spatial(s) ? { text: 'identity', shape: s } : g.seq(s, 2);
      if (!b || !spatial(b.shape) || a.shape[0]! + b.shape[0]! > MAX_CHANNELS) return null;
      const shape = [a.shape[0]! + b.shape[0]!, a.shape[1]!, a.shape[2]!];
      const text = b.text === 'identity' ? `< ${a.text} > ++ identity` : g.rng.bool() ? `< ${a.text} > ++ < ${b.text} >` : `[ < ${a.text} > | < ${b.text} > ]`;
      return { text, shape };
    },
  },
  {
    name: 'scale * (squeeze-and-excitation)',
    applies: isMap,
    make(s, g) {
      // A block, so that `in.c` is the gated input's channels (at the top level `in` is the net's input).
      const name = g.fresh('SE');
      const gate = g.rng.bool()
        ? `gap; conv max(1, in.c // r) k=1; relu; conv in.c k=1; sigmoid`
        : `gap; flatten; linear max(1, in.c // r) bias=false; relu; linear in.c bias=false; hardsigmoid`;
      g.defs.push(`block ${name}(r=2) < ${gate} > * identity`);
      return { text: g.rng.bool() ? `${name}()` : `${name}(r=${g.rng.int(1, 4)})`, shape: s };
    },
  },
  {
    name: 'if stage',
    applies: isMap,
    make(s, g) {
      const limit = g.rng.int(1, 6);
      const taken = s[0]! > limit;
      const then = taken ? g.seq(s, 2) : { text: 'identity', shape: s };
      const other = taken ? { text: 'identity', shape: s } : g.seq(s, 2);
      if (!then || !other) return null;
      // The branch not taken is never checked, as in PyTorch: it may not even fit the shape.
      const skipped = (st: Stage) => (st.text === 'identity' ? 'relu' : `< ${st.text} >`);
      const thenText = taken ? `< ${then.text} >` : skipped(then);
      const elseText = taken ? skipped(other) : `< ${other.text} >`;
      const cond = g.rng.pick(['in.c > t', 'not (in.c <= t)', 'in.c > t and in.h >= 1']);
      const body = g.rng.bool(0.3) && !taken ? `if (${cond}) relu else ${elseText}` : `if (${cond}) ${thenText} else ${elseText}`;
      // In a def, so that `in` is this stage's input; t is a parameter.
      const name = g.fresh('cond');
      g.defs.push(`def ${name}(t) = ${body}`);
      return { text: `${name}(${limit})`, shape: taken ? then.shape : other.shape };
    },
  },
  {
    name: 'block (parameters, defaults, in.c, if, repetition)',
    applies: isMap,
    make(s, g) {
      const name = g.fresh('Blk');
      const c = g.rng.int(1, 8);
      const stride = s[1]! >= 4 && s[2]! >= 4 && g.rng.bool(0.4) ? 2 : 1;
      const h = outSize(s[1]!, 3, stride, 1, 1);
      const w = outSize(s[2]!, 3, stride, 1, 1);
      // More stages inside when they keep the shape (then the block's output is [c, h, w] whatever they are).
      const rest = g.seq([c, h, w], 2);
      const more = rest && same(rest.shape, [c, h, w]) ? `\n  ${rest.text}` : '';
      g.defs.push(`block ${name}(c, stride=1) <\n  conv c k=3 stride=stride pad=1 bias=false; bn; if (stride == 1) relu else silu${more}\n> + shortcut`);
      const call = `${name}(${c}${stride !== 1 ? `, stride=${stride}` : ''})`;
      // Repeat only a block that keeps its shape: a second pass then sees the input the first saw.
      const repeat = stride === 1 && same(s, [c, h, w]) && g.rng.bool() ? ` * ${g.rng.int(2, 3)}` : '';
      return { text: `${call}${repeat}`, shape: [c, h, w] };
    },
  },
  {
    name: 'def macro',
    applies: isMap,
    make(s, g) {
      const name = g.fresh('m');
      g.defs.push(`def ${name}(c, k=3) = conv c k=k pad=k // 2 bias=false; bn; relu`);
      const c = g.rng.int(1, 8);
      return { text: g.rng.bool() ? `${name}(${c})` : `${name}(${c}, k=1)`, shape: [c, s[1]!, s[2]!] };
    },
  },
  {
    name: 'labelled group',
    applies: mapOrFlat,
    make(s, g) {
      const body = g.seq(s, 2);
      return body && { text: `${g.fresh('part')}: < ${body.text} >`, shape: body.shape };
    },
  },
  {
    name: 'flatten',
    weight: 3,
    applies: (s) => isMap(s) && s[0]! * s[1]! * s[2]! <= 256,
    make: (s) => ({ text: 'flatten', shape: [s[0]! * s[1]! * s[2]!] }),
  },
];

/** Stages on flat vectors [F] (bn, activations, dropout, stochastic_depth and chunk above apply too). */
export const FLAT_STAGES: Entry[] = [
  {
    name: 'linear',
    weight: 4,
    applies: (s) => s.length === 1,
    make(_s, g) {
      const out = g.rng.int(1, 12);
      return { text: `${g.rng.pick(['linear', 'fc', 'dense'])} ${out}${g.rng.bool(0.3) ? ' bias=false' : ''}`, shape: [out] };
    },
  },
];

const isSeq = (s: Shape) => s.length === 2;

/**
 * Issue 13's constructs. On feature maps: layernorm2d, layer_scale, `tokens` (a map becomes a sequence
 * [H*W, C]) and a ConvNeXt block body (permute to channels-last, layernorm, per-position linears, permute
 * back: the channels-last map stays inside the stage). On sequences [L, D]: layernorm, per-token linear,
 * multi-head self-attention (heads dividing D, sometimes residual), class token, position embedding,
 * gelu/dropout, and `token i` back to a vector.
 */
export const SEQUENCE_STAGES: Entry[] = [
  { name: 'layernorm2d', applies: isMap, make: (s, g) => ({ text: g.rng.bool() ? 'layernorm2d' : 'layernorm2d eps=1e-6', shape: s }) },
  { name: 'layer_scale', applies: isMap, make: (s, g) => ({ text: g.rng.bool() ? 'layer_scale' : 'layer_scale 0.5', shape: s }) },
  {
    name: 'tokens',
    applies: (s) => isMap(s) && s[1]! * s[2]! <= 64,
    make: (s) => ({ text: 'tokens', shape: [s[1]! * s[2]!, s[0]!] }),
  },
  {
    name: 'permute + per-position linear (ConvNeXt)',
    applies: isMap,
    make(s, g) {
      const hidden = g.rng.int(1, MAX_CHANNELS);
      return { text: `permute (0, 2, 3, 1); layernorm; linear ${hidden}; gelu; linear ${s[0]}; permute (0, 3, 1, 2)`, shape: s };
    },
  },
  { name: 'layernorm (sequence)', applies: isSeq, make: (s) => ({ text: 'layernorm', shape: s }) },
  {
    name: 'linear (per token)',
    applies: isSeq,
    make(s, g) {
      const out = g.rng.int(1, MAX_CHANNELS);
      return { text: `linear ${out}`, shape: [s[0]!, out] };
    },
  },
  {
    name: 'attention',
    weight: 2,
    applies: isSeq,
    make(s, g) {
      const heads = g.rng.pick(divisors(s[1]!).filter((d) => d <= 4));
      return { text: g.rng.bool() ? `attention ${heads}` : `<layernorm; attention ${heads}> + shortcut`, shape: s };
    },
  },
  { name: 'class_token', weight: 2, applies: isSeq, make: (s) => ({ text: 'class_token', shape: [s[0]! + 1, s[1]!] }) },
  { name: 'pos_embedding', weight: 2, applies: isSeq, make: (s) => ({ text: 'pos_embedding', shape: s }) },
  { name: 'gelu/dropout (sequence)', applies: isSeq, make: (s, g) => ({ text: g.rng.pick(['gelu', 'dropout 0.1', 'relu']), shape: s }) },
  { name: 'token i', applies: isSeq, make: (s, g) => ({ text: `token ${g.rng.int(0, s[0]! - 1)}`, shape: [s[1]!] }) },
];

const ALL = [...STAGES, ...FLAT_STAGES, ...SEQUENCE_STAGES];
const fits = (s: Shape) => s[0]! <= MAX_CHANNELS && s.reduce((a, b) => a * b, 1) <= MAX_ELEMENTS && s.every((d) => d >= 1);

export interface Net {
  seed: number;
  text: string;
  /** The shape the generator expects `check` to find at the output. */
  output: Shape;
  classes: number;
  /** Entries used (coverage). */
  used: string[];
}

/** A random valid net: definitions, then `net` with 1..6 stages and a classifier head (sometimes a softmax). */
export function generateNet(seed: number): Net {
  const rng = new Rng(seed);
  let counter = 0;
  const used = new Set<string>();
  const g: Gen = {
    rng,
    defs: [],
    depth: 0,
    used,
    fresh: (prefix) => `${prefix}${++counter}`,
    seq(shape, n) {
      if (g.depth >= MAX_DEPTH) return null;
      g.depth++;
      try {
        const parts: string[] = [];
        let s = shape;
        const count = rng.int(1, n);
        for (let i = 0; i < count; i++) {
          const st = stage(s);
          if (!st) break;
          parts.push(st.text);
          s = st.shape;
        }
        return parts.length ? { text: parts.join('; '), shape: s } : null;
      } finally {
        g.depth--;
      }
    },
  };
  function stage(s: Shape): Stage | null {
    const applicable = ALL.filter((e) => e.applies(s));
    const total = applicable.reduce((t, e) => t + (e.weight ?? 1), 0);
    for (let attempt = 0; attempt < 12 && applicable.length; attempt++) {
      let r = rng.next() * total;
      const entry = applicable.find((e) => (r -= e.weight ?? 1) < 0) ?? applicable[0]!;
      const st = entry.make(s, g);
      if (st && fits(st.shape)) {
        used.add(entry.name);
        return st;
      }
    }
    return null;
  }
  const input: Shape = [rng.int(1, 4), rng.int(5, 12), rng.int(5, 12)];
  const classes = rng.int(2, 5);
  const lines: string[] = [];
  let s = input;
  const n = rng.int(1, 6);
  for (let i = 0; i < n; i++) {
    const st = stage(s);
    if (!st) continue;
    lines.push(st.text);
    s = st.shape;
  }
  // A sequence ends on its first token (ViT's class token), a map pooled or flattened, a vector as it is.
  // A third of the nets go on as a sequence (ViT's shape of net): tokens, then sequence stages.
  if (isMap(s) && s[1]! * s[2]! <= 64 && rng.bool(0.35)) {
    lines.push('tokens');
    used.add('tokens');
    s = [s[1]! * s[2]!, s[0]!];
    // ViT's order, often: a class token, then the position embedding over every token.
    if (rng.bool(0.5)) {
      lines.push('class_token');
      used.add('class_token');
      s = [s[0]! + 1, s[1]!];
    }
    if (rng.bool(0.5)) {
      lines.push('pos_embedding');
      used.add('pos_embedding');
    }
    for (let i = rng.int(1, 4); i > 0; i--) {
      const st = stage(s);
      if (!st) break;
      lines.push(st.text);
      s = st.shape;
    }
  }
  const head = isMap(s)
    ? [rng.pick(['gap', 'adaptive_avgpool 1', 'flatten']), `linear classes`]
    : isSeq(s)
      ? ['token 0', 'linear classes']
      : ['linear classes'];
  if (rng.bool(0.3)) {
    head.push('softmax');
    used.add('softmax head');
  }
  lines.push(head.join('; '));
  const text = [...g.defs, `net gen${seed}(classes=${classes}) : [${input.join(', ')}] <`, ...lines.map((l) => `  ${l}`), '>', ''].join('\n');
  return { seed, text, output: [classes], classes, used: [...used] };
}

/** Every entry's name, for the coverage check. */
export const ENTRY_NAMES = [...ALL.map((e) => e.name), 'softmax head'];
