/**
 * `--data NAME` resolution: where each dataset's files are looked for, how they are read, and,
 * when they are nowhere, a download (network permitting) or an error naming the exact files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCifarFiles } from './cifar.js';
import { DataError, type Dataset, type Split } from './dataset.js';
import { cacheDir, download, extractTar, type RemoteFile } from './fetch.js';
import { readIdx } from './idx.js';
import { listClasses, readImageFolder } from './imagefolder.js';

export { DataError, type Dataset, type Split } from './dataset.js';

/** The repository's bundled Fashion-MNIST sample (data/ at the package root). */
export const BUNDLED_SAMPLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../data/fashion-mnist-sample');

export const DATASET_NAMES = ['fashion-mnist-sample', 'fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagefolder:PATH'];

const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const IDX_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

// Official locations and the md5 checksums torchvision publishes for them.
export const REMOTE: Record<string, RemoteFile[]> = {
  mnist: [
    {
      name: 'train-images-idx3-ubyte.gz',
      md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      url: 'https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz',
    },
    {
      name: 'train-labels-idx1-ubyte.gz',
      md5: 'd53e105ee54ea40749a09fcbcd1e9432',
      url: 'https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz',
    },
    {
      name: 't10k-images-idx3-ubyte.gz',
      md5: '9fb629c4189551a2d022fa330f9573f3',
      url: 'https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz',
    },
    {
      name: 't10k-labels-idx1-ubyte.gz',
      md5: 'ec29112dd5afa0611ce80d1b7f02629c',
      url: 'https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz',
    },
  ],
  'fashion-mnist': [
    {
      name: 'train-images-idx3-ubyte.gz',
      md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz',
    },
    {
      name: 'train-labels-idx1-ubyte.gz',
      md5: '25c81989df183df01b3e8a0aad5dffbe',
      url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz',
    },
    {
      name: 't10k-images-idx3-ubyte.gz',
      md5: 'bef4ecab320f06d8554ea6380940ec79',
      url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz',
    },
    {
      name: 't10k-labels-idx1-ubyte.gz',
      md5: 'bb300cfdad3c16e7a12a480ee83cd310',
      url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz',
    },
  ],
  cifar10: [{ name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz' }],
  cifar100: [{ name: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8', url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz' }],
};

export interface LoadOptions {
  dataDir?: string;
  /** Try the official URLs when the files are not found (default true). */
  download?: boolean;
  /** [C,H,W] the network expects: image folders are resized to it. */
  inputShape?: number[];
  /** Progress messages (stderr). */
  log?: (msg: string) => void;
}

/** The first existing of `name` and `name.gz` in dir. */
function findFile(dir: string, name: string): string | null {
  for (const f of [join(dir, name), join(dir, `${name}.gz`)]) if (existsSync(f)) return f;
  return null;
}

function idxSplit(images: string, labels: string, classes: number): Split & { hw: [number, number] } {
  const im = readIdx(images);
  const lb = readIdx(labels);
  if (im.dims.length !== 3) throw new DataError(`${images}: expected a 3-dimensional IDX image file (count x rows x cols), got ${im.dims.length} dimensions`);
  if (lb.dims.length !== 1) throw new DataError(`${labels}: expected a 1-dimensional IDX label file, got ${lb.dims.length} dimensions`);
  if (im.dims[0] !== lb.dims[0]) throw new DataError(`${images} has ${im.dims[0]} images but ${labels} has ${lb.dims[0]} labels`);
  if (im.dims[0] === 0) throw new DataError(`${images}: holds no images (its header declares 0)`);
  for (let i = 0; i < lb.data.length; i++) {
    if (lb.data[i]! >= classes) throw new DataError(`${labels}: label ${i} is ${lb.data[i]}, but the dataset has ${classes} classes (0..${classes - 1})`);
  }
  return { images: im.data, labels: lb.data, count: im.dims[0]!, hw: [im.dims[1]!, im.dims[2]!] };
}

function idxDataset(name: string, dir: string, classes: string[]): Dataset {
  const f = IDX_FILES.map((n) => findFile(dir, n)!);
  const train = idxSplit(f[0]!, f[1]!, classes.length);
  const test = idxSplit(f[2]!, f[3]!, classes.length);
  const [h, w] = train.hw;
  if (test.hw[0] !== h || test.hw[1] !== w) throw new DataError(`${f[2]} holds ${test.hw.join('x')} images but ${f[0]} holds ${h}x${w} images`);
  return { name, shape: [1, h, w], classes, train, test, source: dir };
}

function notFound(name: string, dirs: string[], files: string[], why: string): DataError {
  return new DataError(
    [
      `dataset ${name} not found. Looked in:`,
      ...dirs.map((d) => `  ${d}`),
      `Put these files in one of those folders, or in a folder named by --data-dir:`,
      ...files.map((f) => `  ${f}`),
      why,
    ].join('\n'),
  );
}

async function fetchInto(name: string, dir: string, log?: (m: string) => void): Promise<void> {
  const files = REMOTE[name];
  if (!files) throw new DataError(`dataset ${name} has no download location`);
  for (const f of files) {
    log?.(`downloading ${f.url}`);
    const buf = await download(f, dir);
    if (f.name.endsWith('.tar.gz')) extractTar(buf, dir);
  }
}

async function loadIdxNamed(name: 'mnist' | 'fashion-mnist', opts: LoadOptions): Promise<Dataset> {
  const classes = name === 'mnist' ? [...'0123456789'] : FASHION_CLASSES;
  const cache = join(cacheDir(), name);
  const dirs = [
    ...(opts.dataDir ? [opts.dataDir, join(opts.dataDir, name)] : []),
    cache,
    ...(name === 'fashion-mnist' ? ['/usr/share/datasets/fashion-mnist'] : []),
  ];
  const hit = dirs.find((d) => IDX_FILES.every((n) => findFile(d, n)));
  if (hit) return idxDataset(name, hit, classes);
  let why = 'downloading is off (--no-download)';
  if (opts.download !== false) {
    try {
      await fetchInto(name, cache, opts.log);
      return idxDataset(name, cache, classes);
    } catch (e) {
      why = `download failed: ${(e as Error).message}`;
    }
  }
  const hint = name === 'fashion-mnist' ? ' (Debian: apt-get install dataset-fashion-mnist)' : '';
  throw notFound(
    name,
    dirs,
    IDX_FILES.map((f) => `${f}.gz (or ${f} uncompressed)${hint}`),
    why,
  );
}

async function loadCifar(name: 'cifar10' | 'cifar100', opts: LoadOptions): Promise<Dataset> {
  const sub = name === 'cifar10' ? 'cifar-10-batches-bin' : 'cifar-100-binary';
  const trainFiles = name === 'cifar10' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['train.bin'];
  const testFiles = name === 'cifar10' ? ['test_batch.bin'] : ['test.bin'];
  const cache = join(cacheDir(), name);
  const dirs = [...(opts.dataDir ? [opts.dataDir, join(opts.dataDir, sub)] : []), join(cache, sub)];
  const complete = (d: string) => [...trainFiles, ...testFiles].every((f) => existsSync(join(d, f)));
  let dir = dirs.find(complete);
  if (!dir) {
    let why = 'downloading is off (--no-download)';
    if (opts.download !== false) {
      try {
        await fetchInto(name, cache, opts.log);
        if (complete(join(cache, sub))) dir = join(cache, sub);
        else why = 'the downloaded archive lacks the expected files';
      } catch (e) {
        why = `download failed: ${(e as Error).message}`;
      }
    }
    if (!dir)
      throw notFound(
        name,
        dirs,
        [...trainFiles, ...testFiles].map((f) => `${f}  (from ${REMOTE[name]![0]!.url}, folder ${sub}/)`),
        why,
      );
  }
  const labelBytes = name === 'cifar10' ? 1 : 2;
  const n = name === 'cifar10' ? 10 : 100;
  const train = readCifarFiles(
    trainFiles.map((f) => join(dir!, f)),
    labelBytes,
    n,
  );
  const test = readCifarFiles(
    testFiles.map((f) => join(dir!, f)),
    labelBytes,
    n,
  );
  const namesFile = join(dir, name === 'cifar10' ? 'batches.meta.txt' : 'fine_label_names.txt');
  let classes = name === 'cifar10' ? CIFAR10_CLASSES : Array.from({ length: 100 }, (_, i) => `class${i}`);
  if (existsSync(namesFile)) {
    const read = readFileSync(namesFile, 'utf8')
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (read.length === n) classes = read;
  }
  return { name, shape: [3, 32, 32], classes, train, test, source: dir };
}

/** A classifier needs two classes at least; one class folder is refused here, before any run directory exists. */
function oneClass(dir: string, classes: string[]): void {
  if (classes.length === 1) {
    throw new DataError(`${dir}: only one class folder ('${classes[0]}'); classification needs at least 2 (${dir}/<class>/*.png, one folder per class)`);
  }
}

function loadImageFolder(path: string, opts: LoadOptions): Dataset {
  const root = resolve(opts.dataDir && !path.startsWith('/') ? join(opts.dataDir, path) : path);
  if (!existsSync(root)) throw new DataError(`image folder ${root} does not exist`);
  const [c, h, w] = opts.inputShape ?? [3, 32, 32];
  if (c === undefined || h === undefined || w === undefined)
    throw new DataError(`image folders need a net whose input is [C, H, W], not ${JSON.stringify(opts.inputShape)}`);
  const size = { c, h, w };
  const trainDir = ['train'].map((d) => join(root, d)).find(existsSync);
  const testDir = ['test', 'val', 'valid'].map((d) => join(root, d)).find(existsSync);
  const shape: [number, number, number] = [c, h, w];
  if (trainDir) {
    const classes = listClasses(trainDir);
    if (classes.length === 0) throw new DataError(`${trainDir}: no class folders (expected ${trainDir}/<class>/*.png)`);
    oneClass(trainDir, classes);
    const train = readImageFolder(trainDir, classes, size);
    const test = testDir ? readImageFolder(testDir, classes, size) : { images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 };
    return { name: `imagefolder:${path}`, shape, classes, train, test, source: root };
  }
  const classes = listClasses(root);
  if (classes.length === 0) throw new DataError(`${root}: no class folders (expected ${root}/<class>/*.png or ${root}/train/<class>/...)`);
  oneClass(root, classes);
  // No separate test folder: every fifth image (by sorted file name) is held out for testing.
  const all = readImageFolder(root, classes, size);
  const per = c * h * w;
  const pick = (keep: (i: number) => boolean): Split => {
    const idx = Array.from({ length: all.count }, (_, i) => i).filter(keep);
    const images = new Uint8Array(idx.length * per);
    const labels = new Uint16Array(idx.length);
    idx.forEach((j, i) => {
      images.set(all.images.subarray(j * per, (j + 1) * per), i * per);
      labels[i] = all.labels[j]!;
    });
    return { images, labels, count: idx.length };
  };
  return { name: `imagefolder:${path}`, shape, classes, train: pick((i) => i % 5 !== 4), test: pick((i) => i % 5 === 4), source: root };
}

export async function loadDataset(spec: string, opts: LoadOptions = {}): Promise<Dataset> {
  if (spec === 'fashion-mnist-sample') return idxDataset(spec, BUNDLED_SAMPLE, FASHION_CLASSES);
  if (spec === 'mnist' || spec === 'fashion-mnist') return loadIdxNamed(spec, opts);
  if (spec === 'cifar10' || spec === 'cifar100') return loadCifar(spec, opts);
  if (spec.startsWith('imagefolder:')) return loadImageFolder(spec.slice('imagefolder:'.length), opts);
  throw new DataError(`unknown dataset '${spec}' (expected one of: ${DATASET_NAMES.join(', ')})`);
}
