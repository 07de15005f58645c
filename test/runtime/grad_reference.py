"""PyTorch float64 reference for test/runtime/gradients.test.ts.

Reads JSON on stdin: x (NHWC, flat), w1, w2, w3, w4 (HWIO, flat), gamma/beta for two batch norms, r
(the loss weights, NHWC of the output). Computes, in float64, the small residual block
    h = relu(bn1(conv3x3(x, w1)));  y = maxpool2(h)
    out = relu(bn2(conv3x3(y, w2)) + y + conv1x1(h, w3, stride 2) + conv1x1(h[:7, :7], w4, stride 2))
loss = sum(out * r), and prints its gradients (NHWC / HWIO, flat) and the running statistics after
one training-mode forward (momentum 0.1) as JSON.
"""
import json
import sys

import torch
import torch.nn.functional as F

d = json.load(sys.stdin)
n, h, w, c = d["xShape"]
k = d["channels"]
t = lambda v, shape: torch.tensor(v, dtype=torch.float64).reshape(shape)
x = t(d["x"], (n, h, w, c)).permute(0, 3, 1, 2).contiguous().requires_grad_()
w1 = t(d["w1"], (3, 3, c, k)).permute(3, 2, 0, 1).contiguous().requires_grad_()
w2 = t(d["w2"], (3, 3, k, k)).permute(3, 2, 0, 1).contiguous().requires_grad_()
w3 = t(d["w3"], (1, 1, k, k)).permute(3, 2, 0, 1).contiguous().requires_grad_()
w4 = t(d["w4"], (1, 1, k, k)).permute(3, 2, 0, 1).contiguous().requires_grad_()
g1, b1, g2, b2 = (t(d[name], (k,)).requires_grad_() for name in ("g1", "b1", "g2", "b2"))
rm1, rv1, rm2, rv2 = torch.zeros(k, dtype=torch.float64), torch.ones(k, dtype=torch.float64), torch.zeros(k, dtype=torch.float64), torch.ones(k, dtype=torch.float64)

h = F.relu(F.batch_norm(F.conv2d(x, w1, padding=1), rm1, rv1, g1, b1, training=True, momentum=0.1, eps=1e-5))
y = F.max_pool2d(h, 2)
z = F.batch_norm(F.conv2d(y, w2, padding=1), rm2, rv2, g2, b2, training=True, momentum=0.1, eps=1e-5)
out = F.relu(z + y + F.conv2d(h, w3, stride=2) + F.conv2d(h[:, :, : h.shape[2] - 1, : h.shape[3] - 1], w4, stride=2))
r = t(d["r"], tuple(out.permute(0, 2, 3, 1).shape)).permute(0, 3, 1, 2)
loss = (out * r).sum()
loss.backward()
flat = lambda v: v.detach().reshape(-1).tolist()
print(json.dumps({
    "loss": loss.item(),
    "dx": flat(x.grad.permute(0, 2, 3, 1)),
    "dw1": flat(w1.grad.permute(2, 3, 1, 0)),
    "dw2": flat(w2.grad.permute(2, 3, 1, 0)),
    "dw3": flat(w3.grad.permute(2, 3, 1, 0)),
    "dw4": flat(w4.grad.permute(2, 3, 1, 0)),
    "dg1": flat(g1.grad), "db1": flat(b1.grad), "dg2": flat(g2.grad), "db2": flat(b2.grad),
    "rm1": flat(rm1), "rv1": flat(rv1), "rm2": flat(rm2), "rv2": flat(rv2),
}))
