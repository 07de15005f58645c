"""Checks netc's PyTorch exports against torchvision (run by test/export/pytorch.test.ts).

    /usr/bin/python3 test/export/check_pytorch.py JOBS.json

JOBS.json: [{"name", "file", "reference", "compare": bool, "input": [C, H, W]}, ...]
Prints one JSON document: {name: {"params", "stateDict": [[key, shape], ...], "referenceKeys",
"missing", "unexpected", "shapeMismatches", "loadStrict", "maxAbsDiff", "outputShape", "error"}}.
Nothing here decides pass/fail: the TypeScript test compares with test/reference/<name>.json.
"""
import importlib.util
import json
import sys
import traceback

import torch
import torchvision

torch.set_num_threads(4)

# How test/reference/generate.py built each torchvision network.
TORCHVISION = {
    'googlenet': lambda: torchvision.models.googlenet(aux_logits=False, init_weights=False, transform_input=False),
    'inception_v3': lambda: torchvision.models.inception_v3(aux_logits=False, init_weights=False),
}


def torchvision_model(name, input_chw):
    if name in TORCHVISION:
        return TORCHVISION[name]()
    if name == 'vit_b_16':
        # its position embedding has one row per patch (+ the class token): built for the input's size
        return torchvision.models.vit_b_16(image_size=input_chw[1])
    return getattr(torchvision.models, name)()


def load(path, tag):
    spec = importlib.util.spec_from_file_location(f'netc_export_{tag}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def randomise_batchnorm(model, generator):
    """Running statistics and affine parameters away from 0/1, so that eval-mode BN does something."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(n, generator=generator) * 0.1)


def randomise_extra_parameters(model, generator):
    """ConvNeXt's layer_scale starts at 1e-6 (its blocks would add almost nothing), ViT's class token at
    zero, its head at zero, LayerNorms at 1/0: all moved away, so that the outputs depend on every parameter."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            last = name.split('.')[-1]
            if last in ('layer_scale', 'class_token', 'pos_embedding'):
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
        for m in model.modules():
            if isinstance(m, torch.nn.Linear) and not m.weight.any():  # ViT's head starts at zero
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * 0.02)
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)


def check(job):
    out = {}
    module = load(job['file'], job['name'])
    model = module.build()
    out['params'] = sum(p.numel() for p in model.parameters())
    state = model.state_dict()
    out['stateDict'] = [[k, list(v.shape)] for k, v in state.items()]
    if job.get('compare'):
        torch.manual_seed(0)
        generator = torch.Generator().manual_seed(0)
        reference = torchvision_model(job['name'], job['input'])
        randomise_batchnorm(reference, generator)
        randomise_extra_parameters(reference, generator)
        result = model.load_state_dict(reference.state_dict(), strict=True)
        out['loadStrict'] = len(result.missing_keys) == 0 and len(result.unexpected_keys) == 0
        model.eval()
        reference.eval()
        x = torch.randn(1, *job['input'], generator=generator)
        with torch.no_grad():
            mine = model(x)
            theirs = reference(x)
        out['outputShape'] = list(mine.shape)
        out['referenceOutputShape'] = list(theirs.shape)
        out['maxAbsDiff'] = float((mine - theirs).abs().max())
        out['maxAbsOutput'] = float(theirs.abs().max())
    return out


def main():
    jobs = json.load(open(sys.argv[1]))
    results = {}
    for job in jobs:
        try:
            results[job['name']] = check(job)
        except Exception:  # reported to the test, which fails with the traceback
            results[job['name']] = {'error': traceback.format_exc()}
    json.dump(results, sys.stdout)


if __name__ == '__main__':
    main()
