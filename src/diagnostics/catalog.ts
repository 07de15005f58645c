/** Every diagnostic code netc emits, with the long explanation `netc explain CODE` prints. */
export interface CodeInfo {
  title: string;
  explanation: string;
}

export const CATALOG = {
  NET0001: {
    title: 'unexpected character',
    explanation: `The file contains a character that is not part of the language, such as \`$\` or an unclosed string.

    conv 64 k=3 $        # error: \`$\` means nothing here

Names are letters, digits and underscores; strings are written in double quotes on one line.`,
  },
  NET0002: {
    title: 'syntax error',
    explanation: `The parser expected something else at this point. netc recovers and keeps reading, so later
mistakes in the same file are reported in the same run.

    block Basic(c) < conv3x3 c; bn; relu        # error: expected \`>\`, found the end of the file

Common causes: a group \`< ... >\` or branch list \`[ ... | ... ]\` that is not closed, a keyword argument
without a value (\`k=\`), or a comparison in a command-style argument (write \`conv (a > b ? 1 : 2)\`).`,
  },
  NET1001: {
    title: 'unknown name',
    explanation: `A layer, block, parameter or function name does not refer to anything in scope.

    net n : [3, 32, 32] < conv 16 k=3; batchnrm >    # error: unknown layer \`batchnrm\` (did you mean \`batchnorm\`?)

In scope are: the built-in operations (conv, bn, relu, maxpool, linear, ...), the prelude's macros
(conv3x3, conv1x1), definitions in the same file, and those of files imported with \`use\`. Inside a
definition, expressions see its parameters and \`in.c\`, \`in.h\`, \`in.w\`.`,
  },
  NET1002: {
    title: 'wrong arguments',
    explanation: `A call passes more positional arguments than the callee takes, or a keyword it does not have.

    conv 64 3 5                 # error: \`conv\` takes 2 positional arguments, got 3
    conv 64 k=3 strides=2       # error: \`conv\` has no parameter \`strides\` (did you mean \`stride\`?)

\`netc explain\` lists no signatures; \`netc ops\` prints every operation with its parameters.`,
  },
  NET1003: {
    title: 'wrong type',
    explanation: `A value is of the wrong kind for where it is used: a number where a boolean (\`true\`/\`false\`) is
needed, a string where a number is needed, a tuple of the wrong length, or arithmetic on a tuple.

    conv 4 k=3 bias=3           # error: \`conv\` bias must be true or false, got the integer 3
    conv 8 k=(1,3,3)            # error: k must be an integer or a pair (h, w), got the tuple (1, 3, 3)

A value of the right kind that is not allowed (a fraction, a negative count) is NET1016; a value
named where a layer belongs is NET1015.`,
  },
  NET1004: {
    title: 'recursive definition',
    explanation: `A block or def uses itself, directly or through others. Networks are finite graphs; to stack a
block, use repetition:

    block B(c) < conv3x3 c; B(c) >     # error
    layer: B(c) * 4                    # instead`,
  },
  NET1005: {
    title: 'import cycle',
    explanation: `Files import each other in a circle (a.net uses b.net, which uses a.net). Move the definitions both
need into a third file that both import.`,
  },
  NET1006: {
    title: 'import not found',
    explanation: `\`use "x"\` names a stdlib module (a file in netc's stdlib/ folder); \`use "./x.net"\` names a file
relative to the importing file (\`..\` and absolute paths are allowed). The file must exist and be a
regular file: a directory, device or pipe, or a file that cannot be read, is reported with the reason.`,
  },
  NET1007: {
    title: 'duplicate definition',
    explanation: `Two definitions have the same name in one file, or two imported files define the same name.
Rename one of them.`,
  },
  NET1008: {
    title: 'duplicate argument',
    explanation: `An argument is given twice (once by position and once by keyword, or twice by keyword), or a
definition declares the same parameter twice.

    conv 64 out=32      # error: \`out\` is given twice`,
  },
  NET1009: {
    title: 'missing argument',
    explanation: `A required parameter has no value. Operations' required parameters: conv needs out-channels and
kernel (\`conv 64 k=3\`), linear needs out-features, pools need a window size. A net's parameters need
defaults or \`--set name=value\`.`,
  },
  NET1010: {
    title: 'misplaced shortcut',
    explanation: `\`shortcut\` is the input of a residual connection: the identity when the body keeps the shape, else
a 1x1 convolution (stride inferred, no bias) followed by batch norm, named \`downsample\` like
torchvision's. It only means something as an operand of \`+\`:

    block Basic(c, stride=1) < conv3x3 c stride=stride; bn; relu; conv3x3 c; bn > + shortcut; relu`,
  },
  NET1011: {
    title: 'limit exceeded',
    explanation: `The file or the network is larger than netc accepts. These limits stop runaway files from
exhausting memory or the stack, and keep every count exact:

- a repetition count over 10,000, more than 100,000 layers, more than 1,000,000 elaboration steps
  (or 10 s) for one net, or definitions nested more than 64 deep;
- groups, branches, parentheses and prefix operators nested more than 128 levels in one definition
  (the definition is skipped), or an expression or layer chain more than 1,000 levels deep;
- a .net file over 4 MiB, or over 16 MiB for a file and all its imports together;
- a name over 256 characters, or a layer's hierarchical name (\`layer1.0.conv1\`) over 1,024;
- more than 1,000 diagnostics: the rest are counted in one last NET1011;
- a tensor, parameter total, multiply-accumulate total or receptive field beyond 2^53 - 1
  (9,007,199,254,740,991), the largest integer a double holds exactly.`,
  },
  NET1013: {
    title: 'net used as a layer',
    explanation: `A \`net\` is a whole network with its own input shape; it cannot be called inside another
definition. Move its body into a \`block\` and call that from both places.`,
  },
  NET1015: {
    title: 'value used as a layer',
    explanation: `A name that holds a value (a parameter of the enclosing block or net) stands where a layer belongs:

    block B(c) < conv3x3 c; c >     # error: \`c\` is a value, not a layer

To repeat a layer \`c\` times write \`<...> * c\`; to use the value, pass it to a layer (\`conv3x3 c\`).`,
  },
  NET1016: {
    title: 'value out of range',
    explanation: `A value has the right kind but is not one the parameter accepts: a fraction where an integer is
needed, zero or a negative number where a positive count is needed, an integer beyond 2^53 - 1, an index
past the end, or a string that is not one of the choices.

    conv in.c / 3 k=1           # error when in.c = 64: out must be an integer, got the number 21.333...
    chunk 2 2                   # error: chunk index 2 is out of range: there are 2 slices, 0 to 1
    stochastic_depth 0.1 mode="col"   # error: mode must be "row" or "batch"

Use \`//\` for integer division, or \`floor\`, \`ceil\`, \`round\`.`,
  },
  NET2001: {
    title: 'residual operands disagree',
    explanation: `\`a + b\` adds two tensors elementwise; both must have the same shape.

    block Bad(c) < conv3x3 c stride=2; bn > + identity    # error: shapes differ: [64, 28, 28] vs [64, 56, 56]

Use \`shortcut\` instead of \`identity\`: it projects the input with a strided 1x1 conv + bn when the
shapes differ.`,
  },
  NET2002: {
    title: 'concatenated operands disagree',
    explanation: `\`a ++ b\` and branches \`[a | b]\` concatenate along channels; every operand must have the same
height and width. Check the strides and padding of each branch.`,
  },
  NET2003: {
    title: 'scaled operands disagree',
    explanation: `\`a * b\` multiplies channel by channel: one operand is a gate of shape [C] or [C, 1, 1] (for
example the output of \`gap; linear ...; sigmoid\`), the other a feature map with the same C.`,
  },
  NET2004: {
    title: 'non-positive output size',
    explanation: `The window of a convolution or pooling does not fit in its input. PyTorch's output size is

    floor((H + 2P - D*(K-1) - 1) / S) + 1

and it must be at least 1. Use a smaller kernel or stride, more padding, fewer downsampling stages,
or a larger input (\`--input 3x64x64\`).`,
  },
  NET2005: {
    title: 'input rows left unread',
    explanation: `(warning) The stride does not divide the padded input evenly, so the last rows or columns of the
input are never read by any window:

    maxpool 2 on a 7x7 input gives 3x3 and ignores row 6 and column 6

This is legal (PyTorch does the same) but usually a sign that the input size or padding is not what
the architecture expects.`,
  },
  NET2006: {
    title: 'linear needs a flat input',
    explanation: `\`linear\` works on vectors. A feature map [C, 1, 1] (after \`gap\`) is flattened implicitly, as
torchvision's forward does; any other feature map needs an explicit \`flatten\` (or \`gap\`) first.`,
  },
  NET2007: {
    title: 'bad input shape',
    explanation: `A net's input is [C, H, W] (images) or [F] (vectors), each a positive integer:

    net lenet(classes=10) : [1, 28, 28] < ... >`,
  },
  NET2008: {
    title: 'spatial layer on a flat input',
    explanation: `Convolutions and pooling need a feature map [C, H, W]; this input is a flat vector [F], usually
because a \`flatten\` or \`linear\` came earlier. Move the spatial layers before it.`,
  },
  NET2009: {
    title: 'groups do not divide channels',
    explanation: `A grouped convolution splits channels into \`groups\` equal parts: in-channels and out-channels must
both be divisible by it (depthwise: groups = in-channels).`,
  },
  NET2010: {
    title: 'shortcut cannot project',
    explanation: `\`shortcut\` infers a 1x1 projection whose stride is the ratio of input to output height. The
ratio here is not a whole number (or the shapes are flat), so no such projection exists. Write the
projection explicitly: \`<body> + <conv1x1 c stride=2; bn>\`.`,
  },
  NET2011: {
    title: 'pool padding too large',
    explanation: `PyTorch requires a pooling window's padding to be at most half its size (pad <= k/2); larger
padding would create windows that see only padding.`,
  },
  NET2012: {
    title: 'dropout probability out of range',
    explanation: 'A dropout probability is at least 0 and below 1.',
  },
  NET3001: {
    title: 'division by zero',
    explanation: 'An expression divides by zero (`/`, `//` or `%`). Check the parameter values it uses.',
  },
  NET3002: {
    title: 'spatial field of a flat input',
    explanation: `\`in.h\` and \`in.w\` exist only when the definition's input is a feature map [C, H, W]. For a flat
input [F], \`in.c\` is the number of features.`,
  },
  NET3003: {
    title: 'number out of range',
    explanation: `A number literal or the result of arithmetic is beyond the largest double (about 1.8e308), so it
would be Infinity:

    net n(a=1e200) : [10] < linear a * a >     # error: this arithmetic overflows`,
  },
  NET4001: {
    title: 'no class activation map for this head',
    explanation: `\`netc cam\` draws a class activation map (Zhou et al., 2016): for a net that ends with global
average pooling and one linear layer, the score of class c is a weighted sum of the averages of the
last feature maps A_k, so the same weights applied to the maps themselves,

    M_c(x, y) = sum_k w[c, k] * A_k(x, y)

show where in the image the evidence for c lies. A net that flattens its feature maps into
fully connected layers (LeNet-5, VGG-16), or puts anything but flatten/dropout between the pooling
and the linear layer, mixes positions in ways this formula cannot undo, so it has no CAM.

    net lenet5 : [1, 28, 28] < ...; flatten; fc1: linear 120; relu; fc2: linear 84; relu; out: linear 10 >   # error
    net small : [1, 28, 28] < conv 16 k=3; relu; conv 32 k=3; relu; gap; linear 10 >                        # ok

Global average pooling is \`gap\`, \`adaptive_avgpool 1\`, or an \`avgpool\` whose window is the whole
map with no padding (seed 003's \`avgpool 7\` on 7x7 maps, stdlib/vgg16_gap.net). A final softmax
after the linear layer is fine. Retrain with such a head to get class activation maps.`,
  },
  NET1014: {
    title: 'not a label',
    explanation: `A label names the layer, block or group after it in the summary and in the PyTorch export. It is a
name (\`stem:\`, and keywords too: \`block:\`) or a whole number (\`0:\`, an index of a PyTorch Sequential):

    net n : [3, 32, 32] < 1.5: conv 8 k=3 >      # error: \`1.5\` cannot be a label
    net n : [3, 32, 32] < features: < 0: < conv 8 k=3; bn; relu >; conv 8 k=1 > >    # features.0.0, features.0.1, ..., features.1`,
  },
  NET2013: {
    title: 'channels do not divide',
    explanation: `\`chunk n i\` takes the i-th of n equal channel slices and \`channel_shuffle g\` interleaves g channel
groups; both need the channels to be a multiple of n (or g). (An index i that is not below n is NET1016.)

    net n : [116, 28, 28] < chunk 3 0 >            # error: chunk 3 does not divide the 116 channels evenly
    net n : [116, 28, 28] < chunk 2 1; channel_shuffle 2 >    # ok: [58, 28, 28]`,
  },
  NET2014: {
    title: 'the input is not the kind of tensor this operation takes',
    explanation: `Feature maps are [C, H, W], token sequences [L, D], vectors [F]. \`layernorm2d\` normalises the
channels of a feature map; \`layernorm\` and a per-token \`linear\` work on the last dimension of a sequence,
a vector, or a channels-last map [H, W, C] made by \`permute (0, 2, 3, 1)\` (ConvNeXt); \`tokens\` turns a
feature map into a sequence; \`attention\`, \`class_token\`, \`pos_embedding\` and \`token\` take a sequence.

    net n : [96, 56, 56] < layernorm >                  # error: use layernorm2d, or permute (0, 2, 3, 1) first
    net n : [96, 56, 56] < permute (0, 2, 3, 1); layernorm eps=1e-6; linear 384 >    # ok: [56, 56, 384]
    net n : [3, 32, 32] < conv 64 k=16 stride=16; tokens; attention 8 >             # ok: [4, 64]`,
  },
  NET2015: {
    title: 'heads do not divide the embedding',
    explanation: `Multi-head attention splits the embedding D into \`heads\` equal parts, so D must be a multiple of
the number of heads:

    net n : [196, 768] < attention 10 >     # error: 10 heads do not divide 768
    net n : [196, 768] < attention 12 >     # ok: 64 per head`,
  },
  NET2016: {
    title: 'not a permutation',
    explanation: `\`permute dims\` is torch.permute with the batch dimension included, as torchvision's Permute writes
it: dims has one entry more than the value's shape, starts with 0 (the batch stays first) and holds
every axis once.

    net n : [96, 56, 56] < permute (0, 2, 3, 1) >    # ok: [56, 56, 96]
    net n : [96, 56, 56] < permute (0, 2, 2, 1) >    # error: axis 2 twice, axis 3 missing`,
  },
} as const satisfies Record<string, CodeInfo>;

/** A diagnostic code: a key of the catalog, so a typo does not compile. */
export type Code = keyof typeof CATALOG;

export function isCode(code: string): code is Code {
  return Object.hasOwn(CATALOG, code);
}

export function explain(code: string): string | undefined {
  const upper = code.toUpperCase();
  if (!isCode(upper)) return undefined;
  const info: CodeInfo = CATALOG[upper];
  if (!info) return undefined;
  return `${code.toUpperCase()}: ${info.title}\n\n${info.explanation}\n`;
}

/** docs/diagnostics.md, generated from this catalog (a test keeps the file in step). */
export function catalogMarkdown(): string {
  const parts = [
    '# netc diagnostics',
    '',
    'Every diagnostic netc emits has a stable code. `netc explain CODE` prints the same text.',
    'Editors get these codes in the `code` field of each LSP diagnostic, with `codeDescription.href`',
    'pointing at the section below.',
    '',
    'Codes: NET0xxx syntax, NET1xxx names and arguments, NET2xxx shapes, NET3xxx arithmetic, NET4xxx trained networks (eval, predict, cam).',
    '',
  ];
  for (const [code, info] of Object.entries(CATALOG)) {
    parts.push(`<a id="${code.toLowerCase()}"></a>`, `## ${code}: ${info.title}`, '', info.explanation, '');
  }
  return parts.join('\n');
}
