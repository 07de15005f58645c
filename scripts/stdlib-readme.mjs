#!/usr/bin/env node
// Writes stdlib/README.md from the stdlib itself: every network's totals come from compiling it.
//
//   npm run build && node scripts/stdlib-readme.mjs          # rewrite stdlib/README.md
//   node scripts/stdlib-readme.mjs --check                   # exit 1 if it is out of date
//
// test/stdlib/readme.test.ts runs `renderReadme` against the TypeScript sources and compares.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const STDLIB = join(dirname(fileURLToPath(import.meta.url)), '..', 'stdlib');

/** What each network is (one line) and the paper it comes from (a key of PAPERS). */
export const NETWORKS = {
  lenet5: ["the tutorial's LeNet-5 (seed 002): no activation after the convs", 'lecun1998'],
  vgg11: ['torchvision vgg11 (configuration A)', 'simonyan2015'],
  vgg16: ['torchvision vgg16 (configuration D)', 'simonyan2015'],
  vgg19: ['torchvision vgg19 (configuration E)', 'simonyan2015'],
  vgg16_bn: ['torchvision vgg16_bn: vgg16 with batch norm after every conv', 'simonyan2015'],
  vgg19_gap: ['VGG-19 convs, LeakyReLU(0.2), 7x7 average pool, one linear (the CAM tutorial, seed 003)', 'zhou2016'],
  vgg16_gap: ["seed 003's CAM network as its code has it (VGG-16's conv layout)", 'zhou2016'],
  resnet18: ['torchvision resnet18', 'he2016'],
  resnet34: ['torchvision resnet34', 'he2016'],
  resnet50: ['torchvision resnet50', 'he2016'],
  resnet101: ['torchvision resnet101', 'he2016'],
  resnet152: ['torchvision resnet152', 'he2016'],
  resnet50_cifar: ['3x3 stem, no max-pool, Bottleneck [3, 4, 6, 3] (seed 004)', 'he2016'],
  se_resnet50_cifar: ['resnet50_cifar with SE (r=16) in every bottleneck (seed 004)', 'hu2018'],
  resnet20_cifar: ["He et al.'s CIFAR ResNet-20, projection shortcuts; `--set n=5` gives ResNet-32", 'he2016'],
  densenet121: ['torchvision densenet121', 'huang2017'],
  densenet_bc_cifar: ['DenseNet-BC, growth 12, 3 blocks of 19 layers, compression 0.5 (seed 004)', 'huang2017'],
  googlenet: ['torchvision googlenet without the auxiliary heads', 'szegedy2015'],
  alexnet: ['torchvision alexnet (the one-GPU 64-192-384-256-256 variant)', 'krizhevsky2014'],
  squeezenet1_0: ['torchvision squeezenet1_0: Fire modules, a 1x1-conv classifier', 'iandola2016'],
  resnext50_32x4d: ['torchvision resnext50_32x4d: grouped 3x3 convs, 32 groups of width 4', 'xie2017'],
  wide_resnet50_2: ['torchvision wide_resnet50_2: ResNet-50 with bottlenecks twice as wide', 'zagoruyko2016'],
  mobilenet_v2: ['torchvision mobilenet_v2: inverted residuals, depthwise convs, ReLU6', 'sandler2018'],
  mobilenet_v3_small: ['torchvision mobilenet_v3_small: squeeze-and-excitation, hardswish', 'howard2019'],
  mobilenet_v3_large: ['torchvision mobilenet_v3_large: squeeze-and-excitation, hardswish', 'howard2019'],
  shufflenet_v2_x1_0: ['torchvision shufflenet_v2_x1_0: channel split (chunk) and channel shuffle', 'ma2018'],
  inception_v3: ['torchvision inception_v3 without the auxiliary classifier: factorised 1x7/7x1 convolutions', 'szegedy2016'],
  efficientnet_b0: ['torchvision efficientnet_b0: MBConv, SiLU, squeeze-and-excitation, stochastic depth', 'tan2019'],
  convnext_tiny: ['torchvision convnext_tiny: 7x7 depthwise convs, channels-last LayerNorm and linears, layer scale, stochastic depth', 'liu2022'],
  vit_b_16: ['torchvision vit_b_16: 16x16 patch tokens, class token, position embedding, 12 multi-head self-attention blocks', 'dosovitskiy2021'],
};

export const PAPERS = {
  lecun1998: 'LeCun, Bottou, Bengio & Haffner, *Gradient-Based Learning Applied to Document Recognition*, Proc. IEEE 1998',
  simonyan2015: 'Simonyan & Zisserman, *Very Deep Convolutional Networks for Large-Scale Image Recognition*, ICLR 2015',
  he2016: 'He, Zhang, Ren & Sun, *Deep Residual Learning for Image Recognition*, CVPR 2016',
  szegedy2015: 'Szegedy et al., *Going Deeper with Convolutions*, CVPR 2015',
  huang2017: 'Huang, Liu, van der Maaten & Weinberger, *Densely Connected Convolutional Networks*, CVPR 2017',
  hu2018: 'Hu, Shen & Sun, *Squeeze-and-Excitation Networks*, CVPR 2018',
  krizhevsky2014: 'Krizhevsky, *One weird trick for parallelizing convolutional neural networks*, arXiv:1404.5997, 2014',
  iandola2016: 'Iandola et al., *SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size*, arXiv:1602.07360, 2016',
  xie2017: 'Xie, Girshick, Dollár, Tu & He, *Aggregated Residual Transformations for Deep Neural Networks*, CVPR 2017',
  zagoruyko2016: 'Zagoruyko & Komodakis, *Wide Residual Networks*, BMVC 2016',
  sandler2018: 'Sandler, Howard, Zhu, Zhmoginov & Chen, *MobileNetV2: Inverted Residuals and Linear Bottlenecks*, CVPR 2018',
  howard2019: 'Howard et al., *Searching for MobileNetV3*, ICCV 2019',
  ma2018: 'Ma, Zhang, Zheng & Sun, *ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design*, ECCV 2018',
  szegedy2016: 'Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, *Rethinking the Inception Architecture for Computer Vision*, CVPR 2016',
  tan2019: 'Tan & Le, *EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks*, ICML 2019',
  liu2022: 'Liu, Mao, Wu, Feichtenhofer, Darrell & Xie, *A ConvNet for the 2020s*, CVPR 2022',
  dosovitskiy2021: 'Dosovitskiy et al., *An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale*, ICLR 2021',
  zhou2016: 'Zhou, Khosla, Lapedriza, Oliva & Torralba, *Learning Deep Features for Discriminative Localization*, CVPR 2016',
};

const thousands = (n) => n.toLocaleString('en-US');
/** A doc comment's first sentence, on one line. */
const firstSentence = (doc) =>
  (doc ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .split(/\.(?:\s|$)/)[0];

/**
 * The README's text. `compileFile` and `summarize` are netc's (from dist/ here, from src/ in the test).
 * Throws when a network fails to compile cleanly or has no entry in NETWORKS.
 */
export function renderReadme({ compileFile, summarize }) {
  const files = readdirSync(STDLIB)
    .filter((f) => f.endsWith('.net'))
    .sort();
  const nets = [];
  const modules = [];
  for (const f of files) {
    const name = basename(f, '.net');
    const result = compileFile(join(STDLIB, f));
    // Errors only: a warning true of the original (squeezenet1_0's unread last row) is checked in test/stdlib.
    const problems = result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${f}: ${d.severity} ${d.code} ${d.message}`);
    if (problems.length) throw new Error(problems.join('\n'));
    const own = [...result.program.entry.own.values()];
    if (!own.some((d) => d.kind === 'net')) {
      const text = result.program.sources.get(result.program.entry.path);
      // The header as written, `BasicBlock(c, stride=1)`, up to where the body begins.
      const header = (d) =>
        text
          .slice(d.nameRange.start, d.body.range.start)
          .replace(/\s+/g, ' ')
          .replace(/\s*=?\s*$/, '');
      modules.push({ name, defs: own.map((d) => ({ header: header(d), doc: firstSentence(d.doc) })) });
      continue;
    }
    if (result.graphs.length !== 1) throw new Error(`${f}: expected one net, got ${result.graphs.length}`);
    if (!NETWORKS[name]) throw new Error(`${f}: add a line for it to NETWORKS in scripts/stdlib-readme.mjs`);
    const s = summarize(result.graphs[0], 'torch');
    nets.push({ name, what: NETWORKS[name][0], paper: NETWORKS[name][1], input: s.input.join('x'), params: s.totalParams, macs: s.macs });
  }
  const order = Object.keys(NETWORKS);
  nets.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const cited = [...new Set(nets.map((n) => n.paper))];
  const ref = (key) => `[${cited.indexOf(key) + 1}]`;

  const out = [
    '# netc standard library',
    '',
    '<!-- Generated by scripts/stdlib-readme.mjs from the .net files; test/stdlib/readme.test.ts checks it. Do not edit by hand. -->',
    '',
    '`netc check stdlib/<name>.net` works for each network below with no other argument; parameters have',
    "defaults and can be overridden (`--set classes=10 --input 3x32x32`). Params are torchsummary's count",
    '(weights + biases, BN = 2 per channel) and MACs count convs and linears, at the default input.',
    "Every figure is netc's, and test/stdlib/networks.test.ts checks each against PyTorch",
    '(`test/reference/`, made by `test/reference/generate.py`), layer by layer and state-dict key by key.',
    '',
    '| network | what | paper | input | params | MACs |',
    '|---|---|---|---|---:|---:|',
    ...nets.map((n) => `| ${n.name} | ${n.what} | ${ref(n.paper)} | ${n.input} | ${thousands(n.params)} | ${thousands(n.macs)} |`),
    '',
    '## Modules',
    '',
    'Use one with `use "name"`. The prelude is in scope in every file without a `use`.',
    '',
    ...modules.flatMap((m) => [`- \`${m.name}\``, ...m.defs.map((d) => `  - \`${d.header}\`${d.doc ? `: ${d.doc}` : ''}`)]),
    '',
    '## Papers',
    '',
    ...cited.map((key, i) => `${i + 1}. ${PAPERS[key]}`),
    '',
  ];
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
  const { compileFile } = await import(pathToFileURL(join(dist, 'api.js')).href);
  const { summarize } = await import(pathToFileURL(join(dist, 'check', 'summary.js')).href);
  const text = renderReadme({ compileFile, summarize });
  const target = join(STDLIB, 'README.md');
  if (process.argv.includes('--check')) {
    if (readFileSync(target, 'utf8') !== text) {
      process.stderr.write('stdlib/README.md is out of date: run `node scripts/stdlib-readme.mjs`\n');
      process.exitCode = 1;
    }
  } else {
    writeFileSync(target, text);
  }
}
