"""Training steps of a netc-exported PyTorch module on the CPU: the reference column of bench/train-zoo.

Usage: zoo_torch.py MODULE.py C H W CLASSES BATCH STEPS THREADS [SECONDS]
The module is `netc export NET --to pytorch` of the same .net file netc trains, so both sides run one
architecture. SGD with momentum, cross-entropy, random data (as netc's side). One warm-up step, then
at least STEPS timed steps, more until SECONDS (default 3) have passed. Prints one JSON line: {"imagesPerSecond": ..., "peakRssBytes": ...}.
"""
import importlib.util
import json
import resource
import sys
import time

import torch
import torch.nn as nn

path, c, h, w, classes, batch, steps, threads = sys.argv[1], *map(int, sys.argv[2:9])
torch.set_num_threads(threads)
torch.manual_seed(0)
spec = importlib.util.spec_from_file_location('netmod', path)
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
model = m.build().train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
x = torch.randn(batch, c, h, w)
y = torch.randint(0, classes, (batch,))


def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


step()
seconds = float(sys.argv[9]) if len(sys.argv) > 9 else 3.0
t0 = time.perf_counter()
done = 0
while done < steps or time.perf_counter() - t0 < seconds:
    step()
    done += 1
dt = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"imagesPerSecond": batch * done / dt, "peakRssBytes": rss, "threads": threads}))
