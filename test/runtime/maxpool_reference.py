"""PyTorch float64 reference for the MaxPoolGrad tests of test/runtime/native-kernels.test.ts.

Reads JSON on stdin: a list of cases, each with x (NHWC, flat), shape [n, h, w, c], k and stride
([h, w]), padding: [ph, pw] for max_pool2d's own (symmetric, -inf) padding or
[top, bottom, left, right] for an asymmetric -inf F.pad first (tfjs's 'same'), ceil (ceil_mode),
and dy (NHWC of the output, flat). Prints, per case, the pool's output shape (NHWC) and dx (NHWC,
flat): the gradient of sum(max_pool2d(x) * dy), in float64.
"""
import json
import sys

import torch
import torch.nn.functional as F

out = []
for d in json.load(sys.stdin):
    n, h, w, c = d["shape"]
    x = torch.tensor(d["x"], dtype=torch.float64).reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous().requires_grad_()
    pad = d["padding"]
    if len(pad) == 4:
        top, bottom, left, right = pad
        y = F.max_pool2d(F.pad(x, (left, right, top, bottom), value=float("-inf")), d["k"], d["stride"], ceil_mode=d["ceil"])
    else:
        y = F.max_pool2d(x, d["k"], d["stride"], padding=pad, ceil_mode=d["ceil"])
    shape = [y.shape[0], y.shape[2], y.shape[3], y.shape[1]]
    dy = torch.tensor(d["dy"], dtype=torch.float64).reshape(shape).permute(0, 3, 1, 2) if len(d["dy"]) == y.numel() else torch.zeros_like(y)
    (y * dy).sum().backward()
    out.append({"shape": shape, "dx": x.grad.permute(0, 2, 3, 1).reshape(-1).tolist()})
print(json.dumps(out))
