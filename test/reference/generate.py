#!/usr/bin/python3
"""Reference data for netc's standard library, produced by real PyTorch.

Run with Debian's interpreter (the one that has torch):

    /usr/bin/python3 test/reference/generate.py

For every network of issue 3 it builds the PyTorch model (torchvision's
definition, or the tutorial's own code from ../shared/seeds/ transcribed
faithfully), runs one forward pass with hooks and writes
test/reference/<name>.json:

  name, input [C,H,W], totalParams, macs,
  layers:    every Conv2d / BatchNorm2d / Linear call in execution order,
             {module, type, outputShape (no batch), params (weight+bias)}
  stateDict: [[key, shape], ...] for every state_dict entry (buffers too)

MACs: Conv2d = output elements x in/groups x kh x kw; Linear = in x out;
nothing else counts.

It also writes torchsummary-format tables (<name>.summary.txt) for the
networks listed in SUMMARIES, with torchsummary 1.5.1's summary() algorithm
reimplemented below.

The totals of issue 3 are asserted: a disagreement fails the run.
"""
import json
import math
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import resnet as tv_resnet

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------
# Tutorial networks, transcribed from ../shared/seeds/
# --------------------------------------------------------------------------

class LeNet5(nn.Module):
    """Seed 002 (In [65]): pools and ReLUs are functional, so they have no
    module (and no torchsummary row)."""

    def __init__(self, n_classes):
        super().__init__()
        self.n_classes = n_classes
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=(5, 5), stride=1, padding=0)
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=16, kernel_size=(5, 5), stride=1, padding=0)
        self.fc1 = nn.Linear(in_features=16 * 4 * 4, out_features=120)
        self.fc2 = nn.Linear(in_features=120, out_features=84)
        self.out = nn.Linear(in_features=84, out_features=self.n_classes)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), kernel_size=(2, 2), stride=(2, 2), padding=0)
        x = F.max_pool2d(self.conv2(x), kernel_size=(2, 2), stride=(2, 2), padding=0)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.out(x)
        return x


class LeNet5Modules(nn.Module):
    """The same network with its pools and ReLUs as modules (as a netc file
    writes them), only for a second torchsummary table; same state dict."""

    def __init__(self, n_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(256, 120)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu2 = nn.ReLU()
        self.out = nn.Linear(84, n_classes)

    def forward(self, x):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(x))
        x = x.view(x.size(0), -1)
        x = self.relu1(self.fc1(x))
        x = self.relu2(self.fc2(x))
        return self.out(x)


class VGGGAP(nn.Module):
    """Seed 003 (CAM tutorial): VGG convs with LeakyReLU(0.2), five 2x2
    max-pools, a 7x7 average pool, one linear 512->10; forward returns
    (logits, features). The seed's code is spelled out layer by layer; it is
    generated here from a list of convs per stage.

    The seed calls it VGG-19 but its code has 2,2,3,3,3 convs per stage
    (VGG-16's layout; it prints 28 parameter tensors): 14,719,818 params.
    Issue 3's totals (20,029,514) are those of VGG-19's 2,2,4,4,4 layout with
    the same head; vgg19_gap follows the issue, vgg_gap_seed003 the seed."""

    def __init__(self, convs_per_stage):
        super().__init__()
        layers, c_in = [], 3
        for c, n in zip([64, 128, 256, 512, 512], convs_per_stage):
            for _ in range(n):
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.LeakyReLU(0.2)]
                c_in = c
            layers.append(nn.MaxPool2d(2, 2))
        self.conv = nn.Sequential(*layers)
        self.avg_pool = nn.AvgPool2d(7)
        self.classifier = nn.Linear(512, 10)

    def forward(self, x):
        features = self.conv(x)
        x = self.avg_pool(features)
        x = x.view(features.size(0), -1)
        x = self.classifier(x)
        return x, features


# Seed 004, ResNet-50 for CIFAR-10 -----------------------------------------

class Bottleneck(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.expansion = 4
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != 4 * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, 4 * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(4 * planes))

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += self.shortcut(residual)
        out = self.relu(out)
        return out


class Resnet(nn.Module):
    def __init__(self):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.layer1 = self.residual_block(64, 3, stride=1)
        self.layer2 = self.residual_block(128, 4, stride=2)
        self.layer3 = self.residual_block(256, 6, stride=2)
        self.layer4 = self.residual_block(512, 3, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, 10)

    def residual_block(self, planes, blocks, stride=1):
        layers = [Bottleneck(self.inplanes, planes, stride)]
        self.inplanes = planes * 4
        for _ in range(1, blocks):
            layers.append(Bottleneck(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        x = x.view(x.size(0), -1)
        return self.fc(x)


# Seed 004, SE-ResNet-50 for CIFAR-10 --------------------------------------

class SELayer(nn.Module):
    def __init__(self, channel, reduction):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channel // reduction, channel, bias=False),
            nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)


class SE_Bottleneck(nn.Module):
    def __init__(self, in_planes, planes, stride=1, reduction=16):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != 4 * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, 4 * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(4 * planes))
        self.se = SELayer(planes * 4, reduction)

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = self.se(out)
        out += self.shortcut(residual)
        out = self.relu(out)
        return out


class SE_Resnet(Resnet):
    def residual_block(self, planes, blocks, stride=1):
        layers = [SE_Bottleneck(self.inplanes, planes, stride)]
        self.inplanes = planes * 4
        for _ in range(1, blocks):
            layers.append(SE_Bottleneck(self.inplanes, planes))
        return nn.Sequential(*layers)


# Seed 004, DenseNet-BC for CIFAR-10 ---------------------------------------

class BottleneckBlock(nn.Module):
    def __init__(self, in_planes, out_planes, drop_rate=0.0):
        super().__init__()
        inter_planes = out_planes * 4
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, inter_planes, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn2 = nn.BatchNorm2d(inter_planes)
        self.conv2 = nn.Conv2d(inter_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = drop_rate
        self.dropout = nn.Dropout(p=drop_rate)

    def forward(self, x):
        out = self.conv1(self.relu(self.bn1(x)))
        if self.drop_rate > 0:
            out = self.dropout(out)
        out = self.conv2(self.relu(self.bn2(out)))
        if self.drop_rate > 0:
            out = self.dropout(out)
        return torch.cat([x, out], 1)


class DenseBlock(nn.Module):
    def __init__(self, nb_layers, in_planes, growth_rate, block, drop_rate=0.0):
        super().__init__()
        self.layer = self._make_layer(block, in_planes, growth_rate, nb_layers, drop_rate)

    def _make_layer(self, block, in_planes, growth_rate, nb_layers, drop_rate):
        layers = []
        # The seed writes range(nb_layers) with nb_layers a float (19.0),
        # which Python 3 rejects; int() is the only change.
        for i in range(int(nb_layers)):
            layers.append(block(int(in_planes + i * growth_rate), growth_rate, drop_rate))
        return nn.Sequential(*layers)

    def forward(self, x):
        return self.layer(x)


class TransitionBlock(nn.Module):
    def __init__(self, in_planes, out_planes, drop_rate=0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=1, padding=0, bias=False)
        self.drop_rate = drop_rate
        self.dropout = nn.Dropout(p=drop_rate)
        self.avg_pooling = nn.AvgPool2d(kernel_size=2, stride=2, padding=0)

    def forward(self, x):
        out = self.conv1(self.relu(self.bn1(x)))
        if self.drop_rate > 0:
            out = self.dropout(out)
        return self.avg_pooling(out)


class Densenet(nn.Module):
    def __init__(self, layers=121, num_classes=10, growth_rate=12, compression_factor=0.5, drop_rate=0.2):
        super().__init__()
        num_of_blocks = 3
        n = (layers - num_of_blocks - 1) / num_of_blocks
        in_planes = 2 * growth_rate
        n = n // 2
        block = BottleneckBlock
        self.conv1 = nn.Conv2d(3, in_planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.block1 = DenseBlock(n, in_planes, growth_rate, block, drop_rate)
        in_planes = int(in_planes + n * growth_rate)
        self.trans1 = TransitionBlock(in_planes, int(math.floor(in_planes * compression_factor)), drop_rate=drop_rate)
        in_planes = int(math.floor(in_planes * compression_factor))
        self.block2 = DenseBlock(n, in_planes, growth_rate, block, drop_rate)
        in_planes = int(in_planes + n * growth_rate)
        self.trans2 = TransitionBlock(in_planes, int(math.floor(in_planes * compression_factor)), drop_rate=drop_rate)
        in_planes = int(math.floor(in_planes * compression_factor))
        self.block3 = DenseBlock(n, in_planes, growth_rate, block, drop_rate)
        in_planes = int(in_planes + n * growth_rate)
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.ada_avg_pooling = nn.AdaptiveAvgPool2d(output_size=1)
        self.fc = nn.Linear(in_planes, num_classes)
        self.in_planes = in_planes

    def forward(self, x):
        out = self.conv1(x)
        out = self.trans1(self.block1(out))
        out = self.trans2(self.block2(out))
        out = self.block3(out)
        out = self.relu(self.bn1(out))
        out = self.ada_avg_pooling(out)
        out = out.view(-1, self.in_planes)
        return self.fc(out)


# He et al. 2016, section 4.2: ResNet-20 for CIFAR-10 ----------------------
# 3x3 conv 16, then 3 stages of n=3 BasicBlocks at 16/32/64 channels (the
# first block of stages 2 and 3 has stride 2), global average pool, fc 10.
# Shortcuts: identity, or a 1x1 conv + BN projection where the shape changes
# (the paper's option B; its 0.27M figure is for option A, zero padding).
# Built from torchvision's BasicBlock so the names follow torchvision.

class ResNetCifar(nn.Module):
    def __init__(self, n=3, num_classes=10):
        super().__init__()
        self.inplanes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, n, 1)
        self.layer2 = self._make_layer(32, n, 2)
        self.layer3 = self._make_layer(64, n, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes))
        layers = [tv_resnet.BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(tv_resnet.BasicBlock(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


# --------------------------------------------------------------------------
# The table of issue 3: name, constructor, input [C,H,W], params, MACs
# (None: no stated total; the value found is reported instead)
# --------------------------------------------------------------------------

M = torchvision.models
NETWORKS = [
    ("lenet5", lambda: LeNet5(n_classes=10), [1, 28, 28], 44426, 281640),
    ("vgg11", lambda: M.vgg11(), [3, 224, 224], 132863336, 7609090048),
    ("vgg16", lambda: M.vgg16(), [3, 224, 224], 138357544, 15470264320),
    ("vgg19", lambda: M.vgg19(), [3, 224, 224], 143667240, 19632062464),
    ("vgg16_bn", lambda: M.vgg16_bn(), [3, 224, 224], 138365992, 15470264320),
    ("vgg19_gap", lambda: VGGGAP([2, 2, 4, 4, 4]), [3, 224, 224], 20029514, 19508433920),
    ("resnet18", lambda: M.resnet18(), [3, 224, 224], 11689512, 1814073344),
    ("resnet34", lambda: M.resnet34(), [3, 224, 224], 21797672, 3663761408),
    ("resnet50", lambda: M.resnet50(), [3, 224, 224], 25557032, 4089184256),
    ("resnet101", lambda: M.resnet101(), [3, 224, 224], 44549160, 7801405440),
    ("resnet152", lambda: M.resnet152(), [3, 224, 224], 60192808, 11513626624),
    ("resnet50_cifar", lambda: Resnet(), [3, 32, 32], 23520842, 1297829888),
    ("se_resnet50_cifar", lambda: SE_Resnet(), [3, 32, 32], 26035786, 1300344832),
    ("densenet121", lambda: M.densenet121(), [3, 224, 224], 7978856, 2834161664),
    ("densenet_bc_cifar", lambda: Densenet(), [3, 32, 32], 1020550, 376141266),
    # transform_input only rescales the input channels (no parameters); it is
    # off here, as it is for torchvision's googlenet() without weights.
    ("googlenet", lambda: M.googlenet(aux_logits=False, init_weights=False, transform_input=False),
     [3, 224, 224], 6624904, 1498376192),
    # Issue 13, torchvision's classification zoo. Params as torchvision 0.14's model docs state them.
    ("alexnet", lambda: M.alexnet(), [3, 224, 224], 61100840, None),
    ("squeezenet1_0", lambda: M.squeezenet1_0(), [3, 224, 224], 1248424, None),
    ("resnext50_32x4d", lambda: M.resnext50_32x4d(), [3, 224, 224], 25028904, None),
    ("wide_resnet50_2", lambda: M.wide_resnet50_2(), [3, 224, 224], 68883240, None),
    ("mobilenet_v2", lambda: M.mobilenet_v2(), [3, 224, 224], 3504872, None),
    ("mobilenet_v3_small", lambda: M.mobilenet_v3_small(), [3, 224, 224], 2542856, None),
    ("mobilenet_v3_large", lambda: M.mobilenet_v3_large(), [3, 224, 224], 5483032, None),
    ("shufflenet_v2_x1_0", lambda: M.shufflenet_v2_x1_0(), [3, 224, 224], 2278604, None),
    ("efficientnet_b0", lambda: M.efficientnet_b0(), [3, 224, 224], 5288548, None),
    # Without the auxiliary classifier (27,161,264 params with it); init_weights=False only skips
    # scipy's truncated-normal initialisation, the architecture is the same.
    ("inception_v3", lambda: M.inception_v3(aux_logits=False, init_weights=False), [3, 299, 299], 23834568, None),
    # layer_scale (ConvNeXt), class_token, pos_embedding and in_proj (ViT) are parameters outside any
    # Conv2d/LayerNorm/Linear: counted in totalParams and the state dict, not in `layers`.
    ("convnext_tiny", lambda: M.convnext_tiny(), [3, 224, 224], 28589128, None),
    ("vit_b_16", lambda: M.vit_b_16(), [3, 224, 224], 86567656, None),
    ("resnet20_cifar", lambda: ResNetCifar(3, 10), [3, 32, 32], None, None),
    # the seed's literal VGG "19" (13 convs, see VGGGAP); not in the issue
    ("vgg_gap_seed003", lambda: VGGGAP([2, 2, 3, 3, 3]), [3, 224, 224], None, None),
]

# torchsummary tables: file stem -> (constructor, input)
SUMMARIES = {
    "lenet5": (lambda: LeNet5(n_classes=10), (1, 28, 28)),
    "lenet5_modules": (lambda: LeNet5Modules(10), (1, 28, 28)),
    "resnet18": (lambda: M.resnet18(), (3, 224, 224)),
    "resnet34": (lambda: M.resnet34(), (3, 224, 224)),
}

# nn.LayerNorm includes torchvision's LayerNorm2d (ConvNeXt). nn.MultiheadAttention never calls its
# out_proj module (F.multi_head_attention_forward reads its weight), so out_proj has no row of its own.
TRACKED = (nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.LayerNorm, nn.MultiheadAttention)


def numel_of(module, attr):
    t = getattr(module, attr, None)
    return t.numel() if isinstance(t, torch.Tensor) else 0


def trace(model, input_chw):
    """One forward pass; returns the Conv2d/BatchNorm2d/Linear calls in
    execution order and the MACs."""
    names = {m: n for n, m in model.named_modules()}
    calls = []
    macs = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.MultiheadAttention):
            output = output[0]  # (attn_output, attn_weights)
        shape = list(output.shape[1:])
        params = numel_of(module, "weight") + numel_of(module, "bias")
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs[0] += output[0].numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            # every position (token) of a [L, D] or channels-last [H, W, C] input is one in x out product
            macs[0] += output[0].numel() // module.out_features * module.in_features * module.out_features
        elif isinstance(module, nn.MultiheadAttention):
            # self-attention on [L, D]: q, k, v and out projections (4 L D^2), q k^T and attn v (2 L^2 D)
            assert module.batch_first, "batch_first attention expected"
            seq, dim = output.shape[1], output.shape[2]
            macs[0] += 4 * seq * dim * dim + 2 * seq * seq * dim
            params = sum(p.numel() for p in module.parameters())
        calls.append({
            "module": names[module],
            "type": type(module).__name__,
            "outputShape": shape,
            "params": params,
        })

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, TRACKED)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_chw))
    for h in handles:
        h.remove()
    return calls, macs[0]


def compact_json(doc):
    """JSON with one layer / one state-dict entry per line."""
    lines = ["{"]
    keys = list(doc.keys())
    for i, k in enumerate(keys):
        v = doc[k]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(v, list) and v and isinstance(v[0], (dict, list)) and k in ("layers", "stateDict"):
            lines.append("  %s: [" % json.dumps(k))
            for j, item in enumerate(v):
                lines.append("    %s%s" % (json.dumps(item, separators=(", ", ": ")), "," if j < len(v) - 1 else ""))
            lines.append("  ]%s" % comma)
        else:
            lines.append("  %s: %s%s" % (json.dumps(k), json.dumps(v), comma))
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# torchsummary 1.5.1's summary(), reimplemented (same hooks, same row keys,
# same arithmetic, same formats); returns the text it prints.
# --------------------------------------------------------------------------

def torchsummary_text(model, input_size, batch_size=-1):
    rows = OrderedDict()
    handles = []

    def hook(module, inputs, output):
        class_name = str(module.__class__).split(".")[-1].split("'")[0]
        key = "%s-%i" % (class_name, len(rows) + 1)
        if isinstance(output, (list, tuple)):
            out_shape = [[-1] + list(o.size())[1:] for o in output]
        else:
            out_shape = list(output.size())
            out_shape[0] = batch_size
        n = 0
        trainable = None
        if hasattr(module, "weight") and hasattr(module.weight, "size"):
            n += torch.prod(torch.LongTensor(list(module.weight.size())))
            trainable = module.weight.requires_grad
        if hasattr(module, "bias") and hasattr(module.bias, "size"):
            n += torch.prod(torch.LongTensor(list(module.bias.size())))
        rows[key] = {"output_shape": out_shape, "nb_params": n, "trainable": trainable}

    def register(module):
        if not isinstance(module, (nn.Sequential, nn.ModuleList)) and module is not model:
            handles.append(module.register_forward_hook(hook))

    if isinstance(input_size, tuple):
        input_size = [input_size]
    torch.manual_seed(0)
    x = [torch.rand(2, *s).type(torch.FloatTensor) for s in input_size]
    model.apply(register)
    model(*x)  # training mode, batch of 2, as torchsummary does
    for h in handles:
        h.remove()

    out = []
    rule = "-" * 64
    out.append(rule)
    out.append("{:>20}  {:>25} {:>15}".format("Layer (type)", "Output Shape", "Param #"))
    out.append("=" * 64)
    total_params = 0
    total_output = 0
    trainable_params = 0
    for key, r in rows.items():
        out.append("{:>20}  {:>25} {:>15}".format(key, str(r["output_shape"]), "{0:,}".format(r["nb_params"])))
        total_params += r["nb_params"]
        total_output += np.prod(r["output_shape"])
        if r["trainable"] is True:
            trainable_params += r["nb_params"]
    total_input_size = abs(np.prod(input_size) * batch_size * 4. / (1024 ** 2.))
    total_output_size = abs(2. * total_output * 4. / (1024 ** 2.))
    total_params_size = abs(total_params.numpy() * 4. / (1024 ** 2.))
    total_size = total_params_size + total_output_size + total_input_size
    out.append("=" * 64)
    out.append("Total params: {0:,}".format(total_params))
    out.append("Trainable params: {0:,}".format(trainable_params))
    out.append("Non-trainable params: {0:,}".format(total_params - trainable_params))
    out.append(rule)
    out.append("Input size (MB): %0.2f" % total_input_size)
    out.append("Forward/backward pass size (MB): %0.2f" % total_output_size)
    out.append("Params size (MB): %0.2f" % total_params_size)
    out.append("Estimated Total Size (MB): %0.2f" % total_size)
    out.append(rule)
    return "\n".join(out) + "\n"


def main():
    torch.manual_seed(0)
    only = set(sys.argv[1:])
    failures = []
    table = []
    for name, build, chw, want_params, want_macs in NETWORKS:
        if only and name not in only:
            continue
        model = build()
        total = sum(p.numel() for p in model.parameters())
        layers, macs = trace(model, chw)
        sd = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        doc = OrderedDict([
            ("name", name), ("input", chw), ("totalParams", total), ("macs", macs),
            ("torch", torch.__version__), ("torchvision", torchvision.__version__),
            ("layers", layers), ("stateDict", sd),
        ])
        with open(os.path.join(HERE, name + ".json"), "w") as f:
            f.write(compact_json(doc))
        ok_p = want_params is None or total == want_params
        ok_m = want_macs is None or macs == want_macs
        status = "stated by us" if want_params is None else ("ok" if ok_p and ok_m else "MISMATCH")
        if not ok_p:
            failures.append("%s: params %d, issue says %d" % (name, total, want_params))
        if not ok_m:
            failures.append("%s: MACs %d, issue says %d" % (name, macs, want_macs))
        table.append((name, "x".join(map(str, chw)), total, macs, status))
        print("%-18s %-10s %14s %17s  %s" % (name, table[-1][1], "{:,}".format(total), "{:,}".format(macs), status), flush=True)

    for stem, (build, size) in SUMMARIES.items():
        if only and stem not in only and stem.split("_")[0] not in only:
            continue
        text = torchsummary_text(build(), size)
        with open(os.path.join(HERE, stem + ".summary.txt"), "w") as f:
            f.write(text)

    if failures:
        print("\nFAILED: PyTorch disagrees with issue 3:", file=sys.stderr)
        for msg in failures:
            print("  " + msg, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
