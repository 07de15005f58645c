"""PyTorch float64 reference for test/lower/torch-parity.ts.

Reads a JSON list of cases from argv[1]; each has the op (`conv` with nn.Conv2d's arguments, or
`adaptive` with AdaptiveAvgPool2d's size, `maxpool` with MaxPool2d's), the input x (NHWC, as tfjs holds it), the weights in
tfjs's layouts (kernel [kh, kw, in/groups, out], bias [out]) and r, the output weighting. Writes
y = op(x), and the gradients of sum(y * r) for x and the weights, in the same layouts, to argv[2].
"""
import json
import sys

import torch
import torch.nn as nn

cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    n, h, w, ci = c["xShape"]
    x = torch.tensor(c["x"], dtype=torch.float64).reshape(n, h, w, ci).permute(0, 3, 1, 2).contiguous().requires_grad_()
    if c["op"] == "conv":
        m = nn.Conv2d(ci, c["out"], c["k"], stride=c["stride"], padding=c["pad"], dilation=c["dilation"], groups=c["groups"], bias=c["bias"]).double()
        kh, kw = c["k"]
        k = torch.tensor(c["kernel"], dtype=torch.float64).reshape(kh, kw, ci // c["groups"], c["out"])
        with torch.no_grad():
            m.weight.copy_(k.permute(3, 2, 0, 1))
            if c["bias"]:
                m.bias.copy_(torch.tensor(c["biasValues"], dtype=torch.float64))
    elif c["op"] == "maxpool":
        m = nn.MaxPool2d(tuple(c["k"]), stride=tuple(c["stride"]), padding=tuple(c["pad"]), dilation=tuple(c["dilation"]), ceil_mode=c["ceil"])
    else:
        m = nn.AdaptiveAvgPool2d(tuple(c["size"]))
    y = m(x)
    r = torch.tensor(c["r"], dtype=torch.float64).reshape(y.shape[0], y.shape[2], y.shape[3], y.shape[1]).permute(0, 3, 1, 2)
    (y * r).sum().backward()
    res = {"y": y.permute(0, 2, 3, 1).reshape(-1).tolist(), "gx": x.grad.permute(0, 2, 3, 1).reshape(-1).tolist()}
    if c["op"] == "conv":
        res["gkernel"] = m.weight.grad.permute(2, 3, 1, 0).reshape(-1).tolist()
        if c["bias"]:
            res["gbias"] = m.bias.grad.tolist()
    out.append(res)
json.dump(out, open(sys.argv[2], "w"))
