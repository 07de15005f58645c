"""PyTorch's side of bench/learning-curve.mjs: trains the exported module on the split, normalisation,
augmentation and schedule the .mjs wrote to DIR (recipe.json, *.images, *.labels, model.py).
Prints one JSON line per epoch, then one with the test accuracy."""
import importlib.util
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

d = sys.argv[1]
r = json.load(open(os.path.join(d, 'recipe.json')))
torch.set_num_threads(r['threads'])
torch.manual_seed(r['seed'])
c, h, w = r['shape']
mean = torch.tensor(r['norm']['mean']).view(1, c, 1, 1)
std = torch.tensor(r['norm']['std']).view(1, c, 1, 1)


def split(name):
    n = r['counts'][name]
    if n == 0:
        return None, None
    x = np.fromfile(os.path.join(d, name + '.images'), dtype=np.uint8).reshape(n, h, w, c)
    y = np.fromfile(os.path.join(d, name + '.labels'), dtype=np.uint8)
    return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255, torch.from_numpy(y.astype(np.int64))


def normalise(x):
    return (x - mean) / std


def augment(x, g):
    # netc's makeBatch: shift by (dy, dx) in [-crop, crop] with zero (black) pixels outside, then flip.
    p = r['crop']
    if p:
        padded = F.pad(x, (p, p, p, p))
        out = torch.empty_like(x)
        offs = torch.randint(0, 2 * p + 1, (x.shape[0], 2), generator=g)
        for i in range(x.shape[0]):
            dy, dx = offs[i].tolist()
            out[i] = padded[i, :, dy:dy + h, dx:dx + w]
        x = out
    if r['flip']:
        m = torch.rand(x.shape[0], generator=g) < 0.5
        x[m] = x[m].flip(3)
    return x


spec = importlib.util.spec_from_file_location('netc_curve_model', os.path.join(d, 'model.py'))
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
model = module.build()
xtr, ytr = split('train')
xva, yva = split('val')
xte, yte = split('test')
opt = torch.optim.SGD(model.parameters(), lr=r['lr'], momentum=0.9, weight_decay=r['weightDecay'])
sched = None
if r['schedule'] == 'cosine':
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=r['epochs'])
elif r['schedule'] == 'step':
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)
g = torch.Generator().manual_seed(r['seed'])


def accuracy(x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], 500):
            correct += (model(normalise(x[i:i + 500])).argmax(1) == y[i:i + 500]).sum().item()
    return correct / x.shape[0]


bs = r['batchSize']
for epoch in range(r['epochs']):
    t0 = time.time()
    model.train()
    lr = opt.param_groups[0]['lr']
    perm = torch.randperm(xtr.shape[0], generator=g)
    loss_sum, correct = 0.0, 0
    for i in range(0, xtr.shape[0], bs):
        idx = perm[i:i + bs]
        xb = normalise(augment(xtr[idx].clone(), g))
        out = model(xb)
        loss = F.cross_entropy(out, ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_sum += loss.item() * idx.shape[0]
        correct += (out.argmax(1) == ytr[idx]).sum().item()
    if sched:
        sched.step()
    row = {'epoch': epoch + 1, 'lr': lr, 'trainLoss': loss_sum / xtr.shape[0], 'trainAccuracy': correct / xtr.shape[0],
           'valAccuracy': accuracy(xva, yva) if xva is not None else None, 'seconds': time.time() - t0}
    print(json.dumps(row), flush=True)
    print(f"torch epoch {epoch + 1}: loss {row['trainLoss']:.4f} acc {row['trainAccuracy']:.4f} val {row['valAccuracy']}", file=sys.stderr)
print(json.dumps({'testAccuracy': accuracy(xte, yte), 'threads': torch.get_num_threads()}))
