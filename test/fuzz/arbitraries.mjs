// Generators of hostile .net text for the front-end property tests (test/fuzz/*.test.ts) and the long
// fuzz run (bench/fuzz.mjs). Plain JavaScript so both vitest and node can import it.
import fc from 'fast-check';

/** Every kind of token the lexer knows, plus hostile variants of literals. */
export const TOKENS = [
  // keywords and names that mean something
  'use',
  'def',
  'block',
  'net',
  'in',
  'true',
  'false',
  'and',
  'or',
  'not',
  'conv',
  'conv2d',
  'bn',
  'linear',
  'maxpool',
  'avgpool',
  'gap',
  'adaptive_avgpool',
  'flatten',
  'identity',
  'relu',
  'sigmoid',
  'softmax',
  'dropout',
  'shortcut',
  'conv3x3',
  'conv1x1',
  'floor',
  'max',
  'min',
  'Basic',
  'B',
  'x',
  'c',
  'k',
  'stride',
  'pad',
  'groups',
  'bias',
  'out',
  'name',
  'classes',
  // numbers, ordinary and hostile
  '0',
  '1',
  '2',
  '3',
  '7',
  '16',
  '64',
  '0.5',
  '.5',
  '1e9',
  '1e15',
  '1e400',
  '9007199254740993',
  '2e308',
  '1e-400',
  // strings
  '"resnet"',
  '"layers"',
  '"prelude"',
  '"./x.net"',
  '"../../../etc/passwd"',
  '"/dev/zero"',
  '"."',
  '""',
  '"downsample"',
  // punctuation and operators
  '<',
  '>',
  '[',
  ']',
  '(',
  ')',
  '|',
  ',',
  ';',
  ':',
  '=',
  '==',
  '!=',
  '<=',
  '>=',
  '+',
  '++',
  '-',
  '*',
  '/',
  '//',
  '%',
  '?',
  '.',
  // layout and comments
  '\n',
  '\r\n',
  '\t',
  '# comment',
  '## doc',
  '"unterminated',
  '$',
  '\u00e9',
  '\uFEFF',
  '\u0000',
];

const OPS = ['conv', 'bn', 'relu', 'linear', 'maxpool', 'avgpool', 'gap', 'flatten', 'identity', 'sigmoid', 'dropout', 'conv3x3', 'conv1x1', 'batchnrm'];
const FIELDS = ['in.c', 'in.h', 'in.w', 'in.z'];
const NUMBERS = ['0', '1', '2', '3', '4', '8', '16', '64', '224', '0.5', '1e9', '1e15', '1e400', '-1', '9007199254740993'];

/** Arbitrary text: any code units, or text drawn from the language's alphabet. */
export const randomText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.constantFrom(...'<>[]()|,;:=+-*/%?.#"\n \tabcxyz0123456789eE_'.split('')), maxLength: 300 }),
);

/** Tokens of the language in random order, with random spacing. */
export const tokenSoup = fc
  .array(fc.tuple(fc.constantFrom(...TOKENS), fc.constantFrom(' ', ' ', '', '\n', '  ')), { maxLength: 80 })
  .map((parts) => parts.map(([t, s]) => t + s).join(''));

/** Programs shaped by the grammar: definitions, groups, branches, combinations, repetition, expressions. */
const { expr, seq } = fc.letrec((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...NUMBERS),
    fc.constantFrom('c', 'stride', 'classes', 'n', 'true', 'false', '"s"', ...FIELDS),
    fc.tuple(tie('expr'), fc.constantFrom('+', '-', '*', '/', '//', '%', '<', '==', 'and'), tie('expr')).map(([a, o, b]) => `${a} ${o} ${b}`),
    tie('expr').map((e) => `(${e})`),
    fc.tuple(fc.constantFrom('floor', 'max', 'min', 'ceil', 'sqrt'), fc.array(tie('expr'), { maxLength: 3 })).map(([f, xs]) => `${f}(${xs.join(', ')})`),
    fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([a, b, c]) => `(${a} ? ${b} : ${c})`),
    tie('expr').map((e) => `-${e}`),
  ),
  arg: fc.oneof(
    tie('expr').map((e) => (/^[\w.]+$/.test(e) ? e : `(${e})`)),
    fc
      .tuple(fc.constantFrom('k', 'stride', 'pad', 'groups', 'bias', 'p', 'out', 'dilation', 'strides'), tie('expr'))
      .map(([k, v]) => `${k}=${/^[\w.]+$/.test(v) ? v : `(${v})`}`),
  ),
  call: fc.oneof(
    fc.tuple(fc.constantFrom(...OPS), fc.array(tie('arg'), { maxLength: 3 })).map(([op, args]) => [op, ...args].join(' ')),
    fc.tuple(fc.constantFrom('B0', 'B1', 'D0', 'Missing', 'n0'), fc.array(tie('expr'), { maxLength: 3 })).map(([b, args]) => `${b}(${args.join(', ')})`),
    fc.constant('shortcut'),
  ),
  stage: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('call'),
    tie('seq').map((s) => `< ${s} >`),
    fc.array(tie('seq'), { minLength: 1, maxLength: 3 }).map((bs) => `[ ${bs.join(' | ')} ]`),
    fc.tuple(tie('stage'), fc.constantFrom('+', '++', '*'), tie('stage')).map(([a, o, b]) => `<${a}> ${o} <${b}>`),
    fc.tuple(tie('seq'), fc.constantFrom('shortcut', 'identity')).map(([s, b]) => `< ${s} > + ${b}`),
    fc.tuple(tie('seq'), fc.constantFrom('0', '1', '2', '3', 'n', '1e9', '(2*3)', '-1', '0.5')).map(([s, n]) => `< ${s} > * ${n}`),
    fc.tuple(fc.constantFrom('layer1', 'fc', 'features'), tie('stage')).map(([l, s]) => `${l}: ${s}`),
  ),
  seq: fc.tuple(fc.array(tie('stage'), { minLength: 1, maxLength: 4 }), fc.constantFrom('; ', '\n  ')).map(([ss, sep]) => ss.join(sep)),
}));

const params = fc
  .array(fc.tuple(fc.constantFrom('c', 'stride', 'n', 'classes', 'c'), fc.option(expr, { nil: undefined })), { maxLength: 3 })
  .map((ps) => (ps.length ? `(${ps.map(([n, d]) => (d === undefined ? n : `${n}=${d}`)).join(', ')})` : ''));

const shape = fc.oneof(
  fc.constantFrom('[3, 32, 32]', '[1, 28, 28]', '[3, 224, 224]', '[10]', '[3, 8, 8]', '[0, 1, 1]', '[3, 1e8, 1e8]', '[3, 32]', '[]', '[c, 32, 32]'),
  fc.array(expr, { maxLength: 4 }).map((dims) => `[${dims.join(', ')}]`),
);

const item = fc.oneof(
  fc.tuple(fc.constantFrom('B0', 'B1', 'B0'), params, seq).map(([n, p, s]) => `block ${n}${p} < ${s} >`),
  fc.tuple(fc.constantFrom('B0', 'B1'), params, seq, fc.constantFrom('shortcut', 'identity')).map(([n, p, s, b]) => `block ${n}${p} < ${s} > + ${b}; relu`),
  fc.tuple(fc.constantFrom('D0', 'D1'), params, seq).map(([n, p, s]) => `def ${n}${p} = ${s}`),
  fc.tuple(fc.constantFrom('n0', 'n1'), params, shape, seq).map(([n, p, sh, s]) => `net ${n}${p} : ${sh} <\n  ${s}\n>`),
  fc.constantFrom('use "resnet"', 'use "layers"', 'use "./missing.net"', 'use "nosuchmodule"', 'use "/"', 'use "."'),
);

/** A whole file of grammar-shaped definitions, separated by newlines (sometimes by nothing). */
export const program = fc
  .tuple(fc.array(item, { minLength: 1, maxLength: 5 }), fc.constantFrom('\n', '\n\n', ' ', '\r\n'))
  .map(([items, sep]) => items.join(sep) + '\n');

/**
 * Networks that are mostly valid: typed layer sequences over a real input, so shape checking, counting and
 * summaries run; sizes are sometimes huge (1e8-wide inputs, 1e15 features, 2^53 + 1) to reach the limits.
 */
const size = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(1, 2, 4, 8, 16, 32, 64) },
  // biome-ignore lint/correctness/noPrecisionLoss: 2^53 + 1 on purpose: a count past the safe integers
  { weight: 1, arbitrary: fc.constantFrom(1e6, 1e15, 9007199254740993, 0) },
);
const { layers } = fc.letrec((tie) => ({
  layer: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(size, fc.constantFrom(1, 3, 5), fc.constantFrom(1, 1, 2)).map(([c, k, s]) => `conv ${c} k=${k} pad=${k >> 1} stride=${s}`),
    fc.constantFrom('bn', 'relu', 'maxpool 2', 'avgpool 3 stride=1 pad=1', 'identity', 'dropout 0.1', 'sigmoid', 'conv3x3 16', 'conv1x1 8 stride=2'),
    fc.tuple(size).map(([c]) => `Res(${c})`),
    fc.tuple(size).map(([c]) => `SE(${c > 64 ? 4 : c})`),
    fc.tuple(tie('layers'), fc.constantFrom(1, 2, 3, 20000)).map(([l, n]) => `< ${l} > * ${n}`),
    fc.tuple(tie('layers'), tie('layers')).map(([a, b]) => `[ < ${a} > | < ${b} > ]`),
    fc.tuple(tie('layers')).map(([a]) => `< ${a} > ++ identity`),
    fc.tuple(tie('layers')).map(([a]) => `< ${a} > + shortcut`),
  ),
  layers: fc.array(tie('layer'), { minLength: 1, maxLength: 4 }).map((ls) => ls.join('; ')),
}));

export const validProgram = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('[3, 32, 32]', '[1, 28, 28]', '[16, 8, 8]', '[3, 64, 64]') },
      { weight: 1, arbitrary: fc.constantFrom('[3, 1e8, 1e8]', '[3, 100000, 100000]') },
    ),
    layers,
    // biome-ignore lint/correctness/noPrecisionLoss: 2^53 + 1 on purpose: a count past the safe integers
    fc.oneof({ weight: 8, arbitrary: fc.constantFrom(10, 100, 1000) }, { weight: 1, arbitrary: fc.constantFrom(1e15, 9007199254740993) }),
  )
  .map(([input, body, classes]) =>
    [
      'block Res(c, stride=1) < conv3x3 c stride=stride; bn; relu; conv3x3 c; bn > + shortcut; relu',
      'block SE(r=4) < gap; linear max(1, in.c // r); relu; linear in.c; sigmoid > * identity',
      `net n(classes=${classes}) : ${input} <`,
      `  ${body}`,
      '  gap; linear classes',
      '>',
      '',
    ].join('\n'),
  );

/** Splits text into tokens and the whitespace between them (kept, so joins restore the text). */
export function tokenize(text) {
  return text.match(/"[^"\n]*"|#[^\n]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\w+|\+\+|\/\/|==|!=|<=|>=|\s+|./gsu) ?? [];
}

/** One mutation of a file's tokens: delete, duplicate, swap, truncate, insert. */
export function mutation(length) {
  const index = fc.nat({ max: Math.max(0, length - 1) });
  return fc.oneof(
    fc.record({ kind: fc.constant('delete'), at: index, count: fc.integer({ min: 1, max: 5 }) }),
    fc.record({ kind: fc.constant('duplicate'), at: index, count: fc.integer({ min: 1, max: 5 }) }),
    fc.record({ kind: fc.constant('swap'), at: index, other: index }),
    fc.record({ kind: fc.constant('truncate'), at: index }),
    fc.record({ kind: fc.constant('insert'), at: index, token: fc.constantFrom(...TOKENS) }),
  );
}

export function applyMutations(tokens, mutations) {
  let out = [...tokens];
  for (const m of mutations) {
    const at = Math.min(m.at, Math.max(0, out.length - 1));
    switch (m.kind) {
      case 'delete':
        out.splice(at, m.count);
        break;
      case 'duplicate':
        out.splice(at, 0, ...out.slice(at, at + m.count));
        break;
      case 'swap': {
        const other = Math.min(m.other, Math.max(0, out.length - 1));
        [out[at], out[other]] = [out[other], out[at]];
        break;
      }
      case 'truncate':
        out = out.slice(0, at);
        break;
      case 'insert':
        out.splice(at, 0, m.token);
        break;
    }
  }
  return out.join('');
}

/** A stdlib file's tokens with 1 to 4 mutations applied. */
export function mutatedFile(text) {
  const tokens = tokenize(text);
  return fc.array(mutation(tokens.length), { minLength: 1, maxLength: 4 }).map((ms) => applyMutations(tokens, ms));
}
