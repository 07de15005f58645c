#!/usr/bin/env python3
"""`netc train` on PyTorch: the same run, on one process or many (written by `netc export --to torchrun`).

    python train.py [flags]                                  # one process (CPU, or the first GPU)
    torchrun --nproc_per_node=N train.py [flags]             # N processes: DistributedDataParallel
    torchrun --nnodes=M --nproc_per_node=N --rdzv-backend=c10d --rdzv-endpoint=HOST:PORT train.py ...

The flags are `netc train`'s, with its names and defaults (netc_model.json holds the defaults
netc was built with). --batch-size is GLOBAL: the images of one optimizer step, over all processes,
as in `netc train`; each global batch is dealt to the processes in turn, so N processes take exactly
the batches one process takes, and the averaged gradient is the gradient of the batch's mean loss.

What is netc's, exactly: the datasets and their files (IDX, gzipped or not; CIFAR binary; image
folders; the bundled Fashion-MNIST sample in data/), the --subset/--val-split split and every shuffle
and augmentation draw (netc's own seeded generator, reimplemented below bit for bit), normalisation
with the training split's mean/std, the loss, the run directory (config.json, metrics.jsonl,
metrics.csv, result.json; atomic writes; rank 0 writes) and --resume after a kill. The optimizers and
schedules are torch.optim's and torch.optim.lr_scheduler's (netc's are checked against them).
The initial weights are netc's for the same --seed (its generator and draw order, replayed from
netc_model.json; --init torch uses model.py's PyTorch initialisation instead). What is not netc's:
dropout masks (torch's generator, seeded per step from --seed), and batch norm under DDP, where each
process normalises its own share of the global batch (with one process, the whole batch, as netc).

Checkpoints: checkpoints/{best,last}/ hold model.json + weights.bin (TensorFlow.js format: `netc eval`,
`netc predict`, `netc cam` and `netc export --weights` read them as they read a `netc train` run), and
torch.pt (model and optimizer state and the run's progress, for `train.py --resume`). `netc train --resume` does not
continue a run of this program: its optimizer state is torch's.
"""
import argparse
import gzip
import json
import math
import os
import shutil
import signal
import struct
import sys
import time
import warnings

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data.distributed import DistributedSampler

HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_DIAGNOSTICS, EXIT_USAGE, EXIT_SIGINT, EXIT_SIGTERM = 1, 2, 130, 143


class UserError(Exception):
    """A problem the user must fix (data, run directory, flags): printed without a traceback, exit 1."""


def read_spec():
    with open(os.path.join(HERE, 'netc_model.json'), encoding='utf-8') as f:
        return json.load(f)


# ------------------------------------------------------------------------------------------------
# netc's random numbers (src/random.ts makeRng, src/train/random.ts): 32-bit integer arithmetic,
# so the same seed gives the same split, shuffles and augmentation as `netc train`.

M32 = 0xFFFFFFFF


def _imul(a, b):
    return (a * b) & M32


def make_rng(seed):
    """netc's makeRng(seed).uniform (mulberry32): floats in [0, 1)."""
    state = seed & M32

    def uniform():
        nonlocal state
        state = (state + 0x6D2B79F5) & M32
        t = state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    return uniform


def mix_seed(*parts):
    """netc's mixSeed: one 32-bit seed from several integers."""
    h = 0x9E3779B9
    for p in parts:
        h = _imul(h ^ (p & M32), 0x85EBCA6B)
        h ^= h >> 13
        h = _imul(h, 0xC2B2AE35)
        h ^= h >> 16
    return h


SHUFFLE, STEP, DROPOUT = 1, 2, 3  # stream tags (netc uses 1 and 2; 3 is this program's dropout stream)


def uniforms(seed, start, n):
    """Calls start+1 .. start+n of make_rng(seed), at once: mulberry32's state is a counter."""
    t = (seed + np.arange(start + 1, start + n + 1, dtype=np.uint64) * 0x6D2B79F5) & M32
    t = ((t ^ (t >> 15)) * (t | 1)) & M32
    t = t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & M32)) & M32)
    return ((t ^ (t >> 14)) & M32).astype(np.float64) / 4294967296


def netc_init(seed, plan):
    """netc's initial weights for --seed (src/lower/lower.ts initialiseWeights), by tfjs weight name.

    One generator, seeded from seed*2654435761 + 12345 as a JavaScript double; the weights in the
    plan's order (netc_model.json), one draw per element in the tfjs layout: uniform(-b, b) with
    b = 1/sqrt(fanIn) (or sqrt(6/(fanIn+fanOut)), xavier), or normal with std sqrt(2/fanOut) (Kaiming) or
    std by Box-Muller (two draws each); constants draw nothing.
    """
    state = int(float(seed) * 2654435761.0 + 12345.0) % 2 ** 32
    used, out = 0, {}
    for d in plan:
        init, n = d['init'], d['size']
        kind = init['kind'] if init else None
        if kind in ('kaimingNormalFanOut', 'normal'):
            u = uniforms(state, used, 2 * n)
            used += 2 * n
            std = math.sqrt(2 / init['fanOut']) if kind == 'kaimingNormalFanOut' else init['std']
            v = np.sqrt(-2 * np.log(1 - u[0::2])) * np.cos(2 * math.pi * u[1::2]) * std
        elif kind in ('uniformFanIn', 'xavierUniform'):
            u = uniforms(state, used, n)
            used += n
            bound = 1 / math.sqrt(init['fanIn']) if kind == 'uniformFanIn' else math.sqrt(6 / (init['fanIn'] + init['fanOut']))
            v = (u * 2 - 1) * bound
        elif kind == 'constant':
            v = np.full(n, float(init['value']))
        else:
            v = np.full(n, 1.0 if kind == 'ones' else 0.0)
        if d['apply']:
            out[d['name']] = v.astype(np.float32)
    return out


def permutation(n, uniform):
    """netc's seeded Fisher-Yates permutation of 0..n-1."""
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(uniform() * (i + 1))
        p[i], p[j] = p[j], p[i]
    return p


# ------------------------------------------------------------------------------------------------
# Datasets: uint8 images channels-last [N, H, W, C] and int64 labels, read as netc reads them.

FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
CIFAR10 = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
IDX_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
DATASETS = 'fashion-mnist-sample | fashion-mnist | mnist | cifar10 | cifar100 | imagefolder:PATH'


def cache_dir():
    if os.environ.get('NETC_CACHE'):
        return os.environ['NETC_CACHE']
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'netc', 'datasets')


def read_bytes(path):
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise UserError(f'{path}: cannot read: {e.strerror}') from None
    if data[:2] == b'\x1f\x8b':
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise UserError(f'{path}: corrupt gzip data ({e}); the download may be incomplete') from None
    return data


def read_idx(path):
    buf = read_bytes(path)
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0:
        raise UserError(f'{path}: not an IDX file (bad magic number)')
    if buf[2] != 0x08:
        raise UserError(f'{path}: IDX element type 0x{buf[2]:x} is not supported (expected 0x08, unsigned bytes)')
    nd = buf[3]
    header = 4 + 4 * nd
    if len(buf) < header:
        raise UserError(f'{path}: truncated IDX header')
    dims = list(struct.unpack(f'>{nd}I', buf[4:header]))
    size = int(np.prod(dims)) if dims else 1
    if len(buf) - header != size:
        raise UserError(f'{path}: header declares {"x".join(map(str, dims))} ({size} bytes of data) but {len(buf) - header} bytes follow')
    return dims, np.frombuffer(buf, dtype=np.uint8, count=size, offset=header)


def find_file(d, name):
    for f in (os.path.join(d, name), os.path.join(d, name + '.gz')):
        if os.path.exists(f):
            return f
    return None


def idx_split(images, labels, classes):
    dims, im = read_idx(images)
    ldims, lb = read_idx(labels)
    if len(dims) != 3 or len(ldims) != 1 or dims[0] != ldims[0] or dims[0] == 0:
        raise UserError(f'{images} ({"x".join(map(str, dims))}) and {labels} ({"x".join(map(str, ldims))}) are not a matching IDX image/label pair')
    if lb.max() >= classes:
        raise UserError(f'{labels}: label {int(lb.max())} is out of range (the dataset has {classes} classes)')
    return im.reshape(dims[0], dims[1], dims[2], 1), lb.astype(np.int64)


def idx_dataset(name, d, classes):
    f = [find_file(d, n) for n in IDX_FILES]
    train, test = idx_split(f[0], f[1], len(classes)), idx_split(f[2], f[3], len(classes))
    h, w = train[0].shape[1:3]
    return {'name': name, 'shape': [1, h, w], 'classes': classes, 'train': train, 'test': test, 'source': d}


def not_found(name, dirs, files):
    lines = [f'dataset {name} not found. Looked in:', *[f'  {d}' for d in dirs],
             'Put these files in one of those folders, or in a folder named by --data-dir:', *[f'  {f}' for f in files],
             '(this program never downloads: `netc train` can, and puts them in the first cache folder above)']
    return UserError('\n'.join(lines))


def load_idx_named(name, data_dir):
    classes = list('0123456789') if name == 'mnist' else FASHION
    dirs = ([data_dir, os.path.join(data_dir, name)] if data_dir else []) + [os.path.join(cache_dir(), name)]
    if name == 'fashion-mnist':
        dirs.append('/usr/share/datasets/fashion-mnist')
    for d in dirs:
        if all(find_file(d, n) for n in IDX_FILES):
            return idx_dataset(name, d, classes)
    raise not_found(name, dirs, [f'{f}.gz (or {f} uncompressed)' for f in IDX_FILES])


def read_cifar(files, label_bytes, classes):
    rec = label_bytes + 3072
    images, labels = [], []
    for path in files:
        buf = read_bytes(path)
        if len(buf) == 0 or len(buf) % rec:
            raise UserError(f'{path}: size {len(buf)} is not a multiple of the {rec}-byte CIFAR record: truncated or not a CIFAR-{classes} binary file')
        a = np.frombuffer(buf, dtype=np.uint8).reshape(-1, rec)
        lb = a[:, label_bytes - 1].astype(np.int64)
        if lb.max() >= classes:
            raise UserError(f'{path}: label {int(lb.max())} is out of range (CIFAR-{classes} has {classes} classes)')
        images.append(a[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))  # planar -> channels-last
        labels.append(lb)
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def load_cifar(name, data_dir):
    sub = 'cifar-10-batches-bin' if name == 'cifar10' else 'cifar-100-binary'
    train_files = [f'data_batch_{i}.bin' for i in range(1, 6)] if name == 'cifar10' else ['train.bin']
    test_files = ['test_batch.bin'] if name == 'cifar10' else ['test.bin']
    dirs = ([data_dir, os.path.join(data_dir, sub)] if data_dir else []) + [os.path.join(cache_dir(), name, sub)]
    d = next((d for d in dirs if all(os.path.exists(os.path.join(d, f)) for f in train_files + test_files)), None)
    if d is None:
        raise not_found(name, dirs, [f'{f}  (folder {sub}/ of the official binary archive)' for f in train_files + test_files])
    n, label_bytes = (10, 1) if name == 'cifar10' else (100, 2)
    classes = CIFAR10 if name == 'cifar10' else [f'class{i}' for i in range(100)]
    names_file = os.path.join(d, 'batches.meta.txt' if name == 'cifar10' else 'fine_label_names.txt')
    if os.path.exists(names_file):
        with open(names_file, encoding='utf-8') as f:
            read = [s.strip() for s in f.read().splitlines() if s.strip()]
        if len(read) == n:
            classes = read
    train = read_cifar([os.path.join(d, f) for f in train_files], label_bytes, n)
    test = read_cifar([os.path.join(d, f) for f in test_files], label_bytes, n)
    return {'name': name, 'shape': [3, 32, 32], 'classes': classes, 'train': train, 'test': test, 'source': d}


def resize_to(rgba, h, w, c):
    """netc's bilinear resize (src/train/data/imagefolder.ts), same arithmetic in float64."""
    ih, iw = rgba.shape[:2]
    px = rgba.astype(np.float64)
    sy = np.clip(((np.arange(h) + 0.5) * ih) / h - 0.5, 0, ih - 1)
    sx = np.clip(((np.arange(w) + 0.5) * iw) / w - 0.5, 0, iw - 1)
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    y1, x1 = np.minimum(ih - 1, y0 + 1), np.minimum(iw - 1, x0 + 1)
    fy, fx = (sy - y0)[:, None, None], (sx - x0)[None, :, None]
    top = px[y0][:, x0, :3] * (1 - fx) + px[y0][:, x1, :3] * fx
    bottom = px[y1][:, x0, :3] * (1 - fx) + px[y1][:, x1, :3] * fx
    rgb = top * (1 - fy) + bottom * fy
    if c == 1:
        return np.floor(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2] + 0.5).astype(np.uint8)[..., None]
    return np.floor(rgb + 0.5).astype(np.uint8)


def list_classes(d):
    if not os.path.isdir(d):
        raise UserError(f'{d}: not an image folder (expected {d}/<class>/*.png)')
    return sorted(e for e in os.listdir(d) if os.path.isdir(os.path.join(d, e)))


def read_image_folder(d, classes, shape):
    from PIL import Image  # only image folders need Pillow
    c, h, w = shape
    images, labels = [], []
    for label, cls in enumerate(classes):
        sub = os.path.join(d, cls)
        if not os.path.exists(sub):
            continue
        files = [f for f in sorted(os.listdir(sub)) if f.lower().endswith(('.png', '.jpg', '.jpeg'))]
        if not files:
            raise UserError(f"{sub}: class folder '{cls}' has no .png or .jpg images")
        for f in files:
            try:
                with Image.open(os.path.join(sub, f)) as im:
                    rgba = np.asarray(im.convert('RGBA'))
            except OSError as e:
                raise UserError(f'{os.path.join(sub, f)}: cannot decode image: {e}') from None
            images.append(resize_to(rgba, h, w, c))
            labels.append(label)
    if not images:
        raise UserError(f'{d}: no .png or .jpg images found in its class folders ({", ".join(classes)})')
    return np.stack(images), np.array(labels, dtype=np.int64)


def load_image_folder(path, data_dir, shape):
    root = os.path.abspath(os.path.join(data_dir, path) if data_dir and not path.startswith('/') else path)
    if not os.path.exists(root):
        raise UserError(f'image folder {root} does not exist')
    name = f'imagefolder:{path}'
    train_dir = os.path.join(root, 'train')
    if os.path.exists(train_dir):
        classes = list_classes(train_dir)
        if not classes:
            raise UserError(f'{train_dir}: no class folders (expected {train_dir}/<class>/*.png)')
        test_dir = next((os.path.join(root, t) for t in ('test', 'val', 'valid') if os.path.exists(os.path.join(root, t))), None)
        train = read_image_folder(train_dir, classes, shape)
        test = read_image_folder(test_dir, classes, shape) if test_dir else (np.zeros((0, shape[1], shape[2], shape[0]), np.uint8), np.zeros(0, np.int64))
        return {'name': name, 'shape': list(shape), 'classes': classes, 'train': train, 'test': test, 'source': root}
    classes = list_classes(root)
    if not classes:
        raise UserError(f'{root}: no class folders (expected {root}/<class>/*.png or {root}/train/<class>/...)')
    im, lb = read_image_folder(root, classes, shape)
    held = np.arange(len(lb)) % 5 == 4  # as netc: every fifth image (by sorted file name) is the test split
    return {'name': name, 'shape': list(shape), 'classes': classes, 'train': (im[~held], lb[~held]), 'test': (im[held], lb[held]), 'source': root}


def load_dataset(spec, data_dir, input_shape):
    if spec == 'fashion-mnist-sample':
        return idx_dataset(spec, os.path.join(HERE, 'data', 'fashion-mnist-sample'), FASHION)
    if spec in ('mnist', 'fashion-mnist'):
        return load_idx_named(spec, data_dir)
    if spec in ('cifar10', 'cifar100'):
        return load_cifar(spec, data_dir)
    if spec.startswith('imagefolder:'):
        return load_image_folder(spec[len('imagefolder:'):], data_dir, input_shape)
    raise UserError(f"unknown dataset '{spec}' (expected one of: {DATASETS})")


def training_split(train, subset, seed, val_split):
    """netc's trainingSplit: the first --subset images, then a seeded validation split."""
    images, labels = train
    if subset is not None:
        images, labels = images[:subset], labels[:subset]
    n = len(labels)
    perm = np.array(permutation(n, make_rng(seed + 7)), dtype=np.int64)
    n_val = math.floor(n * val_split)
    if n_val == 0:
        return (images, labels), None
    return (images[perm[n_val:]], labels[perm[n_val:]]), (images[perm[:n_val]], labels[perm[:n_val]])


def channel_mean_std(images, c):
    v = images.reshape(-1, c).astype(np.float64) / 255
    n = v.shape[0]
    mean = v.sum(axis=0) / n
    sq = (v * v).sum(axis=0) / n
    return {'mean': mean.tolist(), 'std': np.sqrt(np.maximum(1e-12, sq - mean * mean)).tolist()}


class Batcher:
    """netc's makeBatch: [0,1] pixels, normalised, zero-padded random crop and horizontal flip."""

    def __init__(self, c, norm, crop, flip):
        std = np.array(norm['std'] if norm else [1.0] * c)
        # Same float32 constants and float64 multiply-add as netc, so inputs are bit-identical.
        self.scale = (1 / (255 * std)).astype(np.float32).astype(np.float64)
        self.shift = (-np.array(norm['mean']) / std if norm else np.zeros(c)).astype(np.float32).astype(np.float64)
        self.crop, self.flip = crop, flip

    def draws(self, n, uniform):
        """Each sample's (dy, dx, flip), in netc's order of draws from the step's generator."""
        out = []
        for _ in range(n):
            k = self.crop
            dy = int(uniform() * (2 * k + 1)) - k if k else 0
            dx = int(uniform() * (2 * k + 1)) - k if k else 0
            out.append((dy, dx, self.flip and uniform() < 0.5))
        return out

    def make(self, images, idx, draws=None):
        x = images[idx]
        if draws is not None and (self.crop or self.flip):
            k = self.crop
            padded = np.pad(x, ((0, 0), (k, k), (k, k), (0, 0)))
            h, w = x.shape[1:3]
            x = np.stack([padded[i, k + dy:k + dy + h, k + dx:k + dx + w][:, ::-1 if fl else 1] for i, (dy, dx, fl) in enumerate(draws)])
        x = (x.astype(np.float64) * self.scale + self.shift).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


class NetcSampler(DistributedSampler):
    """A DistributedSampler over netc's global batches.

    Each epoch's order is netc's seeded permutation; global batch s is order[s*B:(s+1)*B] as in
    `netc train`, dealt to the processes in turn (process r takes positions r, r+N, ...). batches()
    yields (step, global batch, this process's share); iterating yields the shares.
    """

    def __init__(self, count, batch_size, seed, num_replicas, rank):
        super().__init__(range(count), num_replicas=num_replicas, rank=rank, shuffle=False, seed=seed)
        self.count, self.global_batch = count, batch_size
        self.steps = math.ceil(count / batch_size)

    def batches(self, start=0):
        order = permutation(self.count, make_rng(mix_seed(self.seed, SHUFFLE, self.epoch)))
        for s in range(start, self.steps):
            g = order[s * self.global_batch:(s + 1) * self.global_batch]
            yield s, g, g[self.rank::self.num_replicas]

    def __iter__(self):
        return (mine for _, _, mine in self.batches())

    def __len__(self):
        return self.steps


# ------------------------------------------------------------------------------------------------
# The run directory: netc's layout and atomic-write protocol (src/train/rundir.ts).

def write_durable(path, data):
    with open(path, 'wb') as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())


def write_atomic(path, data):
    tmp = f'{path}.tmp-{os.getpid()}'
    write_durable(tmp, data)
    os.replace(tmp, path)


def is_tmp(name):
    base, _, pid = name.rpartition('.tmp-')
    return bool(base) and pid.isdigit()


def old_base(name):
    base, _, pid = name.rpartition('.old-')
    return base if base and pid.isdigit() else None


CHECKPOINT_FILES = ['model.json', 'weights.bin', 'optimizer.json', 'optimizer.bin', 'state.json', 'torch.pt']


def complete(d):
    return all(os.path.exists(os.path.join(d, f)) for f in CHECKPOINT_FILES)


def find_checkpoint(run, name):
    ck = os.path.join(run, 'checkpoints')
    if complete(os.path.join(ck, name)):
        return os.path.join(ck, name)
    if os.path.isdir(ck):
        for e in sorted(os.listdir(ck)):
            if old_base(e) == name and complete(os.path.join(ck, e)):
                return os.path.join(ck, e)
    return None


def clean_run_dir(run):
    """Removes what a killed process left (temporary files, half-written checkpoints); restores a checkpoint caught between renames."""
    done = []
    for d in (run, os.path.join(run, 'checkpoints')):
        for e in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if is_tmp(e):
                shutil.rmtree(os.path.join(d, e)) if os.path.isdir(os.path.join(d, e)) else os.remove(os.path.join(d, e))
                done.append(f'removed {os.path.join(d, e)} (left by an interrupted write)')
    ck = os.path.join(run, 'checkpoints')
    for e in sorted(os.listdir(ck)) if os.path.isdir(ck) else []:
        name = old_base(e)
        if name is None:
            continue
        if not os.path.exists(os.path.join(ck, name)) and complete(os.path.join(ck, e)):
            os.rename(os.path.join(ck, e), os.path.join(ck, name))
            done.append(f'restored {os.path.join(ck, name)} from {e} (the process stopped while replacing it)')
        else:
            shutil.rmtree(os.path.join(ck, e))
            done.append(f'removed {os.path.join(ck, e)} (superseded checkpoint)')
    return done


def create_run_dir(run, config_json):
    """The run directory appears whole (built as DIR.tmp-PID, then renamed); an existing run or non-empty folder is refused."""
    if os.path.exists(run):
        if not os.path.isdir(run):
            raise UserError(f'--out {run}: exists and is not a folder')
        entries = [e for e in os.listdir(run) if not is_tmp(e)]
        if 'config.json' in entries:
            raise UserError(f'--out {run}: already a run directory; continue it with --resume {run}, or choose another --out')
        if entries:
            raise UserError(f'--out {run}: folder is not empty ({", ".join(sorted(entries)[:3])})')
        clean_run_dir(run)
        os.makedirs(os.path.join(run, 'checkpoints'), exist_ok=True)
        write_atomic(os.path.join(run, 'config.json'), config_json)
        return
    parent = os.path.dirname(os.path.abspath(run))
    os.makedirs(parent, exist_ok=True)
    for e in os.listdir(parent):
        if e.startswith(os.path.basename(run) + '.tmp-') and is_tmp(e):
            shutil.rmtree(os.path.join(parent, e), ignore_errors=True)
    tmp = f'{run}.tmp-{os.getpid()}'
    os.makedirs(os.path.join(tmp, 'checkpoints'))
    write_durable(os.path.join(tmp, 'config.json'), config_json)
    os.rename(tmp, run)


CSV_COLUMNS = ['epoch', 'trainLoss', 'trainAccuracy', 'valLoss', 'valAccuracy', 'lr', 'imagesPerSecond', 'seconds']


def js_number(v):
    """A float as JavaScript's String() writes it for ordinary values (netc's metrics.csv)."""
    if v is None:
        return ''
    if float(v).is_integer() and abs(v) < 1e21:
        return str(int(v))
    if 1e-7 <= abs(v) < 1e-4:
        return np.format_float_positional(float(v))
    return repr(float(v)).replace('e-0', 'e-').replace('e+', 'e+')


def write_metrics(run, rows):
    write_atomic(os.path.join(run, 'metrics.jsonl'), ''.join(json.dumps(r, separators=(',', ':')) + '\n' for r in rows))
    csv = [','.join(CSV_COLUMNS)] + [','.join(js_number(r.get(k)) for k in CSV_COLUMNS) for r in rows]
    write_atomic(os.path.join(run, 'metrics.csv'), '\n'.join(csv) + '\n')


def read_metrics(run):
    f = os.path.join(run, 'metrics.jsonl')
    if not os.path.exists(f):
        return []
    with open(f, encoding='utf-8') as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ------------------------------------------------------------------------------------------------
# Weights in netc's (TensorFlow.js) layouts: netc_model.json lists every tfjs weight of the lowered
# net with its PyTorch state-dict key and how the layouts differ.

def tfjs_to_torch(a, layout):
    if layout == 'conv':  # HWIO -> OIHW
        return a.permute(3, 2, 0, 1)
    if layout == 'depthwise':  # [kh, kw, in, mult] -> [in*mult, 1, kh, kw]
        kh, kw, cin, mult = a.shape
        return a.permute(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
    if layout == 'dense':  # [in, out] -> [out, in]
        return a.t()
    return a


def torch_to_tfjs(t, layout, shape):
    if layout == 'conv':
        return t.permute(2, 3, 1, 0)
    if layout == 'depthwise':
        kh, kw, cin, mult = shape
        return t.reshape(cin, mult, kh, kw).permute(2, 3, 0, 1)
    if layout == 'dense':
        return t.t()
    return t


def tfjs_checkpoint_files(model, spec):
    """model.json and weights.bin as netc's checkpoints hold them (netc eval/predict/cam/export read them)."""
    state = model.state_dict()
    parts, specs = [], []
    for w in spec['tfjs']['weights']:
        a = torch_to_tfjs(state[w['key']].detach().to('cpu', torch.float32), w['layout'], w['shape']).contiguous()
        if list(a.shape) != w['shape']:
            raise RuntimeError(f"{w['key']}: {list(a.shape)} does not fit the tfjs weight {w['name']} {w['shape']}")
        parts.append(a.numpy().astype('<f4').tobytes())
        specs.append({'name': w['name'], 'shape': w['shape'], 'dtype': 'float32'})
    model_json = {'format': 'layers-model', 'generatedBy': 'netc torchrun', 'modelTopology': spec['tfjs']['modelTopology'],
                  'weightsManifest': [{'paths': ['weights.bin'], 'weights': specs}]}
    return json.dumps(model_json), b''.join(parts)


def read_safetensors(path):
    with open(path, 'rb') as f:
        size = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    out = {}
    for key, info in header.items():
        if key == '__metadata__':
            continue
        if info['dtype'] != 'F32':
            raise UserError(f"{path}: {key} is {info['dtype']}; only F32 tensors are read")
        start, end = info['data_offsets']
        out[key] = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32).reshape(info['shape'])
    return out


def read_tfjs_weights(folder, spec):
    """A tfjs model folder (model.json + weights.bin: a netc checkpoint or `netc export --to tfjs`) as a state dict."""
    with open(os.path.join(folder, 'model.json'), encoding='utf-8') as f:
        manifest = json.load(f)['weightsManifest'][0]['weights']
    with open(os.path.join(folder, 'weights.bin'), 'rb') as f:
        data = f.read()
    by_name = {w['name']: w for w in spec['tfjs']['weights']}
    out, at = {}, 0
    for m in manifest:
        n = int(np.prod(m['shape'])) if m['shape'] else 1
        a = torch.from_numpy(np.frombuffer(data, dtype='<f4', count=n, offset=at).copy()).reshape(m['shape'])
        at += 4 * n
        w = by_name.get(m['name'])
        if w is None or w['shape'] != m['shape']:
            raise UserError(f"{folder}: weight {m['name']} {m['shape']} is not one of this net's (it was trained from a different net)")
        out[w['key']] = tfjs_to_torch(a, w['layout'])
    return out


def initial_weights(path, spec):
    """--weights: a .safetensors file (`netc export --weights`), a netc run directory, or a tfjs model folder."""
    if os.path.isfile(path):
        return read_safetensors(path), path
    for sub in (os.path.join('checkpoints', 'best'), os.path.join('checkpoints', 'last'), ''):
        d = os.path.join(path, sub)
        if os.path.exists(os.path.join(d, 'model.json')) and os.path.exists(os.path.join(d, 'weights.bin')):
            return read_tfjs_weights(d, spec), d
    raise UserError(f'--weights {path}: not a .safetensors file, a netc run directory (checkpoints/best) or a folder with model.json + weights.bin')


# ------------------------------------------------------------------------------------------------
# Training.

def parse_args(spec, argv):
    d = spec['defaults']
    p = argparse.ArgumentParser(
        prog='train.py',
        description=f"train {spec['net']} (from {spec['file']}) as `netc train` does, on PyTorch; run it with python or torchrun",
        epilog='--batch-size is global: the images of one optimizer step over all processes (as in netc train). '
               'Exit codes: 0 done, 1 data / run-directory / NaN problems, 2 usage, 130 SIGINT, 143 SIGTERM (after saving checkpoints/last).')

    def positive_int(lo):
        def f(v):
            try:
                n = int(v)
            except ValueError:
                n = lo - 1
            if n < lo:
                raise argparse.ArgumentTypeError(f'must be an integer >= {lo}, got "{v}"')
            return n
        return f

    def number(lo, hi=math.inf):
        def f(v):
            try:
                x = float(v)
            except ValueError:
                x = math.nan
            if not (lo <= x <= hi):
                raise argparse.ArgumentTypeError(f'must be a number in [{lo}, {hi}], got "{v}"')
            return x
        return f

    p.add_argument('--data', default='fashion-mnist-sample', help=f'dataset: {DATASETS}')
    p.add_argument('--data-dir', help='where the dataset files are (searched before the cache and system folders)')
    p.add_argument('--no-download', action='store_true', help='accepted for netc compatibility: this program never downloads')
    p.add_argument('--epochs', type=positive_int(1), default=None, help=f"epochs (default {d['epochs']})")
    p.add_argument('--batch-size', type=positive_int(1), default=d['batchSize'], help='GLOBAL mini-batch size: images per optimizer step over all processes')
    p.add_argument('--optimizer', choices=['sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'rmsprop'], default=d['optimizer'])
    p.add_argument('--lr', type=number(0), default=d['lr'], help='learning rate (the peak rate for onecycle)')
    p.add_argument('--momentum', type=number(0, 1), default=d['momentum'], help='momentum for momentum/nesterov')
    p.add_argument('--weight-decay', type=number(0), default=d['weightDecay'], help='weight decay (L2; decoupled for adamw)')
    p.add_argument('--schedule', choices=['none', 'step', 'cosine', 'onecycle'], default=d['schedule'])
    p.add_argument('--step-size', type=positive_int(1), default=d['stepSize'], help='step schedule: epochs between decays')
    p.add_argument('--gamma', type=number(0, 1), default=d['gamma'], help='step schedule: decay factor')
    p.add_argument('--crop', type=positive_int(0), default=0, help='augmentation: random crop after zero-padding by n pixels (0: off)')
    p.add_argument('--flip', action='store_true', help='augmentation: random horizontal flip')
    p.add_argument('--no-normalize', dest='normalize', action='store_false', help="don't normalise with the training set's per-channel mean/std")
    p.add_argument('--val-split', type=number(0, 0.9), default=d['valSplit'], help='fraction of the training set held out for validation')
    p.add_argument('--subset', type=positive_int(1), help='train on the first n training examples only')
    p.add_argument('--test-subset', type=positive_int(1), help='test on the first n test examples only (quick trials)')
    p.add_argument('--seed', type=positive_int(0), default=d['seed'], help='seed for the split, shuffling and augmentation (and torch init/dropout)')
    p.add_argument('--out', help='run directory (default: a new folder under runs/)')
    p.add_argument('--resume', help='continue the run in this directory from its last checkpoint')
    p.add_argument('--weights', default=spec.get('weights'),
                   help='start from these weights: a netc run directory, a .safetensors file (netc export --weights) or a tfjs model folder'
                   + (f" (default: {spec['weights']}, exported with this program)" if spec.get('weights') else ''))
    p.add_argument('--init', choices=['netc', 'torch'], default='netc',
                   help="initial weights: netc's for --seed (the same as `netc train --seed`), or model.py's (PyTorch's generator)")
    p.add_argument('--device', choices=['auto', 'cpu', 'cuda'], default='auto', help='auto: one GPU per process when CUDA is available (NCCL), else CPU (gloo)')
    return p.parse_args(argv)


class Dist:
    """The process group (absent on a plain `python train.py`)."""

    def __init__(self, device_flag):
        self.world = int(os.environ.get('WORLD_SIZE', '1'))
        self.rank = int(os.environ.get('RANK', '0'))
        self.local_rank = int(os.environ.get('LOCAL_RANK', '0'))
        cuda = torch.cuda.is_available() if device_flag == 'auto' else device_flag == 'cuda'
        if cuda and not torch.cuda.is_available():
            raise UserError('--device cuda: no CUDA device is available to PyTorch here')
        self.device = torch.device('cuda', self.local_rank) if cuda else torch.device('cpu')
        if cuda:
            torch.cuda.set_device(self.device)
        self.backend = 'nccl' if cuda else 'gloo'
        self.on = 'RANK' in os.environ and 'MASTER_ADDR' in os.environ
        if self.on:
            dist.init_process_group(self.backend)
            self.world, self.rank = dist.get_world_size(), dist.get_rank()

    def all_sum(self, values):
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.on:
            dist.all_reduce(t)
        return t.tolist()

    def broadcast(self, obj):
        if not self.on:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def rank0(self, fn):
        """Runs fn on rank 0 only; a UserError there stops every process (instead of leaving them waiting)."""
        err = None
        if self.rank == 0:
            try:
                fn()
            except UserError as e:
                err = str(e)
        err = self.broadcast(err)
        if err:
            raise UserError(err)

    def barrier(self):
        if self.on:
            dist.barrier()


def log(rank, line):
    if rank == 0:
        print(line, file=sys.stderr, flush=True)


def make_optimizer(cfg, params):
    o, lr, wd = cfg['optimizer'], cfg['lr'], cfg['weightDecay']
    if o == 'sgd':
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if o in ('momentum', 'nesterov'):
        return torch.optim.SGD(params, lr=lr, momentum=cfg['momentum'], nesterov=o == 'nesterov', weight_decay=wd)
    if o == 'adam':
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    if o == 'adamw':
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-8, weight_decay=wd)


def make_scheduler(cfg, optimizer, steps):
    """torch.optim.lr_scheduler as netc uses it: step/cosine stepped per epoch, onecycle per step (no momentum cycling)."""
    s = cfg['schedule']
    if s == 'step':
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg['stepSize'], gamma=cfg['gamma'])
    if s == 'cosine':
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg['epochs'], eta_min=0)
    if s == 'onecycle':
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg['lr'], total_steps=cfg['epochs'] * steps, cycle_momentum=False)
    return None


def loss_of(out, y, probs):
    """Cross-entropy from logits, or NLL of log p when the net ends in softmax (p clipped at 1e-7), as netc."""
    if probs:
        return F.nll_loss(torch.log(out.clamp(1e-7, 1)), y)
    return F.cross_entropy(out, y)


def evaluate(model, split, batcher, classes, probs, pg, batch_size=256):
    """Loss and confusion matrix over a split in eval mode; the processes share the batches and add up."""
    images, labels = split
    conf = torch.zeros(classes, classes, dtype=torch.float64)
    loss_sum = 0.0
    model.eval()
    with torch.no_grad():
        for k, i in enumerate(range(0, len(labels), batch_size)):
            if k % pg.world != pg.rank:
                continue
            idx = np.arange(i, min(len(labels), i + batch_size))
            out = model(batcher.make(images, idx).to(pg.device))
            y = torch.from_numpy(labels[idx]).to(pg.device)
            loss_sum += loss_of(out, y, probs).item() * len(idx)
            pred = out.argmax(1).cpu()
            conf.index_put_((torch.from_numpy(labels[idx]), pred), torch.ones(len(idx), dtype=torch.float64), accumulate=True)
    model.train()
    total = pg.all_sum([loss_sum] + conf.flatten().tolist())
    m = [[int(round(v)) for v in total[1 + r * classes:1 + (r + 1) * classes]] for r in range(classes)]
    n = sum(map(sum, m))
    acc = sum(m[i][i] for i in range(classes)) / n if n else 0.0
    return {'loss': total[0] / n if n else math.nan, 'accuracy': acc, 'confusion': m}


def save_checkpoint(run, name, model, optimizer, state, spec):
    """checkpoints/NAME written whole under a temporary name, then swapped in (netc's protocol)."""
    final = os.path.join(run, 'checkpoints', name)
    tmp = f'{final}.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    model_json, weights = tfjs_checkpoint_files(model, spec)
    write_durable(os.path.join(tmp, 'model.json'), model_json)
    write_durable(os.path.join(tmp, 'weights.bin'), weights)
    # netc's optimizer slots are tfjs variables; this run's are torch's (in torch.pt), so none here.
    write_durable(os.path.join(tmp, 'optimizer.json'), '[]')
    write_durable(os.path.join(tmp, 'optimizer.bin'), b'')
    # No scheduler state: a resume rebuilds the schedule from the configuration and replays its steps
    # (OneCycleLR's state_dict holds a bound method, which weights_only loading refuses).
    torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(), 'state': state}, os.path.join(tmp, 'torch.pt'))
    full = dict(state, bytes={'weights': len(weights), 'optimizer': 0})
    write_durable(os.path.join(tmp, 'state.json'), json.dumps(full, indent=2))
    old = f'{final}.old-{os.getpid()}'
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(final):
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def first_nonfinite(module, buffers=True):
    for name, t in list(module.named_parameters()) + (list(module.named_buffers()) if buffers else []):
        if t.is_floating_point() and not torch.isfinite(t).all():
            return name
    return None


def run(argv):
    spec = read_spec()
    a = parse_args(spec, argv)
    pg = Dist(a.device)
    say = lambda line: log(pg.rank, line)  # noqa: E731

    stop = {'code': 0}

    def on_signal(sig, _frame):
        if stop['code']:
            sys.exit(stop['code'])
        stop['code'] = EXIT_SIGTERM if sig == signal.SIGTERM else EXIT_SIGINT
        say(f"{'interrupt' if sig == signal.SIGINT else 'SIGTERM'}: finishing this step and saving a checkpoint")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    prior = None
    if a.resume:
        cfg_file = os.path.join(a.resume, 'config.json')
        if not os.path.exists(cfg_file):
            raise UserError(f'--resume {a.resume}: not a run directory (no config.json)')
        with open(cfg_file, encoding='utf-8') as f:
            prior = json.load(f)
        if prior.get('net') != spec['net']:
            raise UserError(f"--resume {a.resume}: that run trained {prior.get('net')}, this program trains {spec['net']}")
    epochs = a.epochs if a.epochs is not None else spec['defaults']['epochs']
    if prior:
        cfg = dict(prior, epochs=a.epochs if a.epochs is not None else prior['epochs'])
        cfg.pop('normalization', None)
    else:
        cfg = {'net': spec['net'], 'file': spec['file'], 'args': spec['args'], 'data': a.data, 'backend': 'torch', 'epochs': epochs,
               'batchSize': a.batch_size, 'optimizer': a.optimizer, 'lr': a.lr, 'momentum': a.momentum, 'weightDecay': a.weight_decay,
               'schedule': a.schedule, 'stepSize': a.step_size, 'gamma': a.gamma, 'augment': {'crop': a.crop, 'flip': a.flip},
               'normalize': a.normalize, 'valSplit': a.val_split, 'seed': a.seed, 'out': ''}
        if a.data_dir is not None:
            cfg['dataDir'] = a.data_dir
        if a.subset is not None:
            cfg['subset'] = a.subset
        if a.test_subset is not None:
            cfg['testSubset'] = a.test_subset

    c, h, w = spec['input']
    data = load_dataset(cfg['data'], cfg.get('dataDir'), spec['input'])
    if cfg.get('testSubset') is not None:  # netc train --test-subset: the first n test examples
        data['test'] = (data['test'][0][:cfg['testSubset']], data['test'][1][:cfg['testSubset']])
    n_train, n_test = len(data['train'][1]), len(data['test'][1])
    say(f"data: {data['name']} from {data['source']}: {n_train} train, {n_test} test, {'x'.join(map(str, data['shape']))}, {len(data['classes'])} classes")
    if list(data['shape']) != list(spec['input']) or len(data['classes']) != spec['classes']:
        raise UserError(f"{spec['net']} was exported for input {'x'.join(map(str, spec['input']))} and {spec['classes']} classes, but {data['name']} "
                        f"has {'x'.join(map(str, data['shape']))} and {len(data['classes'])}: export again with "
                        f"`netc export {spec['file']} --to torchrun --input {'x'.join(map(str, data['shape']))} --set classes={len(data['classes'])}`")
    if pg.on:
        say(f"processes: {pg.world} (DistributedDataParallel, {pg.backend} on {pg.device.type}); global batch {cfg['batchSize']}"
            f" = {cfg['batchSize'] // pg.world}{'+' if cfg['batchSize'] % pg.world else ''} per process")
    else:
        say(f'one process on {pg.device}')
    # DDP warns when a 1-channel conv's weight gradient has other strides than its bucket: harmless.
    warnings.filterwarnings('ignore', message='Grad strides do not match bucket view strides')

    torch.manual_seed(cfg['seed'])  # the same initial weights on every process (DDP also broadcasts rank 0's)
    sys.path.insert(0, HERE)
    import model as netc_model  # noqa: E402  (model.py beside this file: `netc export --to pytorch`)
    net = netc_model.build()
    net.to(pg.device)

    trn, val = training_split(data['train'], cfg.get('subset'), cfg['seed'], cfg['valSplit'])
    norm = channel_mean_std(trn[0], c) if cfg['normalize'] else None
    batcher = Batcher(c, norm, cfg['augment']['crop'], cfg['augment']['flip'])
    plain = Batcher(c, norm, 0, False)

    ck = None
    if prior:
        pg.rank0(lambda: [say(line) for line in clean_run_dir(a.resume)])
        ck_dir = find_checkpoint(a.resume, 'last')
        if ck_dir:
            # This program's own checkpoint; torch 1.13's weights_only loader cannot read Python floats.
            ck = torch.load(os.path.join(ck_dir, 'torch.pt'), map_location=pg.device, weights_only=False)
            net.load_state_dict(ck['model'])
            st = ck['state']
            at = f"epoch {st['epoch'] + 1}, step {st['step']}" if st.get('step') else f"epoch {st['epoch']}"
            say(f'resuming {a.resume} after {at}')
        else:
            say(f'{a.resume} has no checkpoint yet: starting it from the beginning')
        run_dir = a.resume
    else:
        run_dir = pg.broadcast((a.out or default_run_dir(spec['net'])) if pg.rank == 0 else None)
    if not ck and not a.weights and a.init == 'netc':
        values = netc_init(cfg['seed'], spec['tfjs']['init'])
        layouts = {w['name']: w for w in spec['tfjs']['weights']}
        state = {layouts[k]['key']: tfjs_to_torch(torch.from_numpy(v).reshape(layouts[k]['shape']), layouts[k]['layout']) for k, v in values.items()}
        missing, unexpected = net.load_state_dict(state, strict=False)
        if unexpected:
            raise UserError(f'netc_model.json does not fit model.py: {unexpected[:5]}')
    if a.weights and not ck:
        state, source = initial_weights(a.weights if os.path.isabs(a.weights) or os.path.exists(a.weights) else os.path.join(HERE, a.weights), spec)
        missing, unexpected = net.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith('num_batches_tracked')]
        if missing or unexpected:
            raise UserError(f'--weights {a.weights}: the weights do not fit {spec["net"]}: missing {missing[:5]}, unexpected {unexpected[:5]}')
        say(f'initial weights: {source}')
    cfg['out'] = run_dir
    text = json.dumps(dict(cfg, normalization=norm) if norm else cfg, indent=2) + '\n'
    pg.rank0(lambda: write_atomic(os.path.join(run_dir, 'config.json'), text) if prior else create_run_dir(run_dir, text))
    say(f'run directory: {run_dir}')

    model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[pg.device] if pg.device.type == 'cuda' else None) if pg.on else net
    optimizer = make_optimizer(cfg, net.parameters())
    sampler = NetcSampler(len(trn[1]), cfg['batchSize'], cfg['seed'], pg.world, pg.rank)
    steps = sampler.steps
    start_epoch, start_step, best, history = 0, 0, -1.0, []
    partial = {'lossSum': 0.0, 'correct': 0.0, 'seen': 0.0, 'seconds': 0.0}
    done_steps = 0
    if ck:
        st = ck['state']
        optimizer.load_state_dict(ck['optimizer'])
        start_epoch, start_step, best = st['epoch'], st.get('step') or 0, st['bestValAccuracy']
        if start_step and st.get('partial'):
            partial = st['partial']  # sums over every process (each adds the global step sums to them)
        history = [r for r in (st.get('history') or read_metrics(run_dir)) if r['epoch'] <= start_epoch]
        if pg.rank == 0:
            write_metrics(run_dir, history)
        done_steps = start_epoch * steps + start_step
        for g in optimizer.param_groups:  # the schedule is rebuilt from the configuration and replayed
            g['lr'] = cfg['lr']
            g.pop('initial_lr', None)
    scheduler = make_scheduler(cfg, optimizer, steps)
    if scheduler and done_steps:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            for _ in range(done_steps if cfg['schedule'] == 'onecycle' else start_epoch):
                scheduler.step()

    probs = spec['outputsProbabilities']
    classes = spec['classes']
    t0 = time.time()
    interrupted = False
    epoch = start_epoch
    model.train()
    while epoch < cfg['epochs'] and not interrupted:
        te = time.time()
        sampler.set_epoch(epoch)
        resumed = epoch == start_epoch and start_step > 0
        sums = [partial['lossSum'], partial['correct'], partial['seen']] if resumed else [0.0, 0.0, 0.0]
        global_sums = list(sums)
        before = partial['seconds'] if resumed else 0.0
        lr = optimizer.param_groups[0]['lr']
        s = start_step if resumed else 0
        for s, gbatch, mine in sampler.batches(s):
            draws = batcher.draws(len(gbatch), make_rng(mix_seed(cfg['seed'], STEP, epoch, s)))
            weight = 1.0
            if not mine:  # a last batch smaller than the number of processes: a zero-weight stand-in
                mine, weight = gbatch[:1], 0.0
            x = batcher.make(trn[0], np.array(mine), draws[pg.rank::pg.world][:len(mine)] if weight else draws[:1]).to(pg.device)
            y = torch.from_numpy(trn[1][mine]).to(pg.device)
            lr = optimizer.param_groups[0]['lr']
            torch.manual_seed(mix_seed(cfg['seed'], DROPOUT, epoch, s, pg.rank))
            out = model(x)
            loss = loss_of(out, y, probs)
            n_mine = len(mine) * weight
            # DDP averages gradients over processes: scaled so the average is the global batch's mean-loss gradient.
            scale = n_mine * pg.world / len(gbatch)
            optimizer.zero_grad(set_to_none=True)
            (loss * scale if pg.world > 1 else loss).backward()
            lv = loss.item()
            hits = (out.argmax(1) == y).sum().item() * weight
            step_stats = pg.all_sum([lv * n_mine if math.isfinite(lv) else math.nan, hits, n_mine, float(bool(stop['code'])), float(not math.isfinite(lv))])
            if step_stats[4] > 0:
                raise UserError(f"loss became {lv if not math.isfinite(lv) else 'nan'} at epoch {epoch + 1}, step {s + 1} of {steps} (learning rate {lr}); "
                                f"{last_good(run_dir)}; try a smaller --lr")
            optimizer.step()
            if scheduler and cfg['schedule'] == 'onecycle':
                scheduler.step()
            bad = first_nonfinite(net, buffers=False)  # parameters are the same on every process
            if bad:
                raise UserError(f'weight {bad} became NaN or infinite after the update at epoch {epoch + 1}, step {s + 1} of {steps} (loss was {lv}); '
                                f'{last_good(run_dir)}; try a smaller --lr')
            for k in range(3):
                global_sums[k] += step_stats[k]
            if pg.rank == 0 and sys.stderr.isatty():
                seen = global_sums[2]
                print(f"\repoch {epoch + 1}/{cfg['epochs']} step {s + 1}/{steps} loss {global_sums[0] / seen:.4f} acc {100 * global_sums[1] / seen:.1f}%",
                      end='', file=sys.stderr, flush=True)
            if step_stats[3] > 0:  # a signal reached some process: all stop after this same step
                interrupted = True
                stop['code'] = stop['code'] or EXIT_SIGTERM
                s += 1
                break
        seconds = before + time.time() - te
        if pg.rank == 0 and sys.stderr.isatty():
            print('\r\x1b[2K', end='', file=sys.stderr)
        if interrupted:
            if pg.rank == 0:
                st = {'epoch': epoch, 'step': s, 'bestValAccuracy': best, 'optimizer': cfg['optimizer'], 'history': history,
                      'partial': {'lossSum': global_sums[0], 'correct': global_sums[1], 'seen': global_sums[2], 'seconds': seconds}}
                save_checkpoint(run_dir, 'last', net, optimizer, st, spec)
            pg.barrier()
            break
        sync_buffers(net, pg)
        bad = first_nonfinite(net)
        if bad:
            raise UserError(f'{bad} became NaN or infinite during epoch {epoch + 1} (learning rate {lr}); {last_good(run_dir)}; try a smaller --lr')
        v = evaluate(net, val, plain, classes, probs, pg) if val is not None else None
        seen = global_sums[2]
        row = {'epoch': epoch + 1, 'trainLoss': global_sums[0] / seen, 'trainAccuracy': global_sums[1] / seen,
               'valLoss': v['loss'] if v else None, 'valAccuracy': v['accuracy'] if v else None, 'lr': lr,
               'imagesPerSecond': seen / seconds if seconds > 0 else 0.0, 'seconds': seconds}
        history.append(row)
        say(f"epoch {row['epoch']}/{cfg['epochs']}: train loss {row['trainLoss']:.4f} acc {100 * row['trainAccuracy']:.2f}%"
            + (f" | val loss {v['loss']:.4f} acc {100 * v['accuracy']:.2f}%" if v else '')
            + f" | {row['imagesPerSecond']:.1f} img/s, {seconds:.1f} s")
        score = v['accuracy'] if v else row['trainAccuracy']
        if scheduler and cfg['schedule'] != 'onecycle':
            scheduler.step()
        if pg.rank == 0:
            if score > best:
                best = score
                save_checkpoint(run_dir, 'best', net, optimizer, epoch_state(epoch, best, cfg, history), spec)
            save_checkpoint(run_dir, 'last', net, optimizer, epoch_state(epoch, best, cfg, history), spec)
            write_metrics(run_dir, history)
        best = max(best, score)
        pg.barrier()
        epoch += 1

    if interrupted:
        say(f"interrupted; checkpoint in {os.path.join(run_dir, 'checkpoints', 'last')}; continue with: "
            f"{'torchrun --nproc_per_node=' + str(pg.world) + ' ' if pg.on else 'python '}{sys.argv[0]} --resume {run_dir}")
        return stop['code']
    test = evaluate(net, data['test'], plain, classes, probs, pg) if n_test else None
    result = {'testAccuracy': test['accuracy'] if test else None, 'testLoss': test['loss'] if test else None,
              'perClassAccuracy': {name: (test['confusion'][i][i] / max(1, sum(test['confusion'][i])) if test else 0) for i, name in enumerate(data['classes'])},
              'confusionMatrix': test['confusion'] if test else [], 'classes': data['classes'], 'backend': 'torch', 'epochs': epoch,
              'bestValAccuracy': best if best >= 0 else None, 'seconds': time.time() - t0, 'interrupted': False, 'runDir': run_dir}
    if pg.rank == 0:
        write_atomic(os.path.join(run_dir, 'result.json'), json.dumps(result, indent=2) + '\n')
        out = []
        if test:
            out.append(f"test accuracy: {100 * test['accuracy']:.2f}% ({n_test} images, {epoch} epochs, {result['seconds']:.1f} s, backend torch, {pg.world} processes)")
            out.append('per-class accuracy:')
            out += [f'  {k:<14} {100 * acc:.1f}%' for k, acc in result['perClassAccuracy'].items()]
        out.append(f'run directory: {run_dir}')
        print('\n'.join(out), flush=True)
    pg.barrier()
    return 0


def epoch_state(epoch, best, cfg, history):
    return {'epoch': epoch + 1, 'step': 0, 'bestValAccuracy': best, 'optimizer': cfg['optimizer'], 'history': list(history)}


def sync_buffers(net, pg):
    """Batch-norm running statistics are per process after a step: evaluation and checkpoints use rank 0's, as DDP's next forward would."""
    if pg.on:
        for b in net.buffers():
            dist.broadcast(b, src=0)


def last_good(run_dir):
    d = find_checkpoint(run_dir, 'last')
    return f'the last good checkpoint is {d}' if d else 'no checkpoint was written yet'


def default_run_dir(net):
    stamp = time.strftime('%Y%m%d-%H%M%S', time.gmtime())
    d, i = os.path.join('runs', f'{net}-{stamp}'), 1
    while os.path.exists(d):
        d, i = os.path.join('runs', f'{net}-{stamp}-{i}'), i + 1
    return d


def main():
    try:
        code = run(sys.argv[1:])
    except UserError as e:
        print(f'train.py: {e}', file=sys.stderr)
        code = EXIT_DIAGNOSTICS
    if dist.is_initialized():
        dist.destroy_process_group()
    sys.exit(code)


if __name__ == '__main__':
    main()
