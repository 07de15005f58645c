import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { pyNumber, slot } from '../export/template.js';
import { defineOp } from './op.js';
import { requireFeatureMap } from './window.js';

/**
 * ConvNeXt's layer scale: x * gamma, gamma a learned [C, 1, 1] parameter that starts at `value` (1e-6).
 * In torchvision it is an nn.Parameter of the block (`features.1.0.layer_scale`), not a module, so
 * torchsummary has no row for it and misses its parameters; netc gives it a row (LayerScale) so that
 * its totals count every parameter.
 */
export const layerScale = defineOp({
  name: 'layer_scale',
  summary: "x * gamma, a learned per-channel [C, 1, 1] scale starting at value (ConvNeXt's layer_scale parameter)",
  nameBase: 'layer_scale',
  arity: 1,
  keeps: { input: true },
  params: [{ name: 'value', type: 'float', positional: true, default: 1e-6, doc: 'initial value of every scale (torchvision: 1e-6)' }],
  torchType: () => 'LayerScale',
  attrs: (args) => ({ value: args.value }),
  infer(_attrs, [input], ctx) {
    if (!requireFeatureMap('layer_scale', input!, ctx)) return null;
    return input;
  },
  weights: (attrs, [input]) => [{ name: '', shape: [input![0]!, 1, 1], trainable: true, buffer: false, init: { kind: 'constant', value: attrs.value } }],
  pytorch: {
    module: (node, [input]) => ['nn.Parameter(torch.full((', slot(input![0]!, 'dim'), `, 1, 1), ${pyNumber(node.attrs.value)}))`],
    expr: ([x], _inputs, _attrs, self) => `${self} * ${x}`,
    // The constructor above fills the value netc initialises with (the exporter writes no init code).
    init: { '': 'constant' },
  },
  lower(ctx, node, [x]) {
    const layer = new ctx.custom.LayerScale({ paramShape: [node.shape![0]!, 1, 1], name: ctx.layerName(node) });
    ctx.own(node, layer);
    return layer.apply(x!) as SymbolicTensor;
  },
});
