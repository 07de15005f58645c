/**
 * A minimal programmatic IR builder: lets lowering, training tests and the throughput benchmark
 * build graphs without the `.net` front end. It implements only the shape and weight rules of the
 * ops it offers (PyTorch's); `src/ops/` stays the authority for everything the language elaborates.
 */
import type { AttrValue, IRGraph, IRNode, Shape, WeightSpec } from '../ir/types.js';

const span = { file: '<builder>', start: 0, end: 0 };
const outSize = (n: number, k: number, s: number, p: number, ceil = false) =>
  (ceil ? Math.ceil : Math.floor)((n + 2 * p - (k - 1) - 1) / s) + 1;

function w(name: string, shape: number[], init: WeightSpec['init'], trainable = true, buffer = false): WeightSpec {
  return { name, shape, trainable, buffer, init };
}

export class IRBuilder {
  readonly nodes: IRNode[] = [];
  constructor(
    readonly net: string,
    readonly input: Shape,
  ) {
    this.push('input', 'input', {}, [], input, []);
  }
  private push(op: string, name: string, attrs: Record<string, AttrValue>, inputs: number[], shape: Shape, weights: WeightSpec[]): number {
    const id = this.nodes.length;
    this.nodes.push({ id, op, name, attrs, inputs, shape, span, module: null, weights, macs: 0, receptiveField: 1, jump: 1 });
    return id;
  }
  shape(id: number): Shape {
    return this.nodes[id]!.shape!;
  }
  /** A feature map's [C, H, W]. */
  private chw(id: number): [number, number, number] {
    const [c, h, w] = this.shape(id);
    if (c === undefined || h === undefined || w === undefined) throw new Error(`node ${id} is not a [C, H, W] feature map`);
    return [c, h, w];
  }
  conv(x: number, name: string, out: number, k: number, o: { stride?: number; pad?: number; bias?: boolean } = {}): number {
    const [c, h, wd] = this.chw(x);
    const s = o.stride ?? 1;
    const p = o.pad ?? 0;
    const bias = o.bias ?? true;
    const weights = [w('weight', [out, c, k, k], { kind: 'kaimingNormalFanOut', fanOut: out * k * k })];
    if (bias) weights.push(w('bias', [out], { kind: 'uniformFanIn', fanIn: c * k * k }));
    const attrs = { out, kernel: [k, k], stride: [s, s], padding: [p, p], dilation: [1, 1], groups: 1, bias };
    return this.push('conv', name, attrs, [x], [out, outSize(h, k, s, p), outSize(wd, k, s, p)], weights);
  }
  bn(x: number, name: string): number {
    const c = this.shape(x)[0]!;
    return this.push('bn', name, { eps: 1e-5, momentum: 0.1 }, [x], this.shape(x), [
      w('weight', [c], { kind: 'ones' }),
      w('bias', [c], { kind: 'zeros' }),
      w('running_mean', [c], { kind: 'zeros' }, false, true),
      w('running_var', [c], { kind: 'ones' }, false, true),
    ]);
  }
  act(x: number, name: string, op = 'relu'): number {
    return this.push(op, name, {}, [x], this.shape(x), []);
  }
  pool(x: number, name: string, op: 'maxpool' | 'avgpool', k: number, o: { stride?: number; pad?: number; ceil?: boolean } = {}): number {
    const [c, h, wd] = this.chw(x);
    const s = o.stride ?? k;
    const p = o.pad ?? 0;
    const ceil = o.ceil ?? false;
    const attrs = { kernel: [k, k], stride: [s, s], padding: [p, p], dilation: [1, 1], ceil };
    return this.push(op, name, attrs, [x], [c, outSize(h, k, s, p, ceil), outSize(wd, k, s, p, ceil)], []);
  }
  gap(x: number, name: string): number {
    return this.push('gap', name, {}, [x], [this.shape(x)[0]!, 1, 1], []);
  }
  flatten(x: number, name: string): number {
    return this.push('flatten', name, {}, [x], [this.shape(x).reduce((a, b) => a * b, 1)], []);
  }
  linear(x: number, name: string, out: number, bias = true): number {
    const fin = this.shape(x).reduce((a, b) => a * b, 1);
    const weights = [w('weight', [out, fin], { kind: 'uniformFanIn', fanIn: fin })];
    if (bias) weights.push(w('bias', [out], { kind: 'uniformFanIn', fanIn: fin }));
    return this.push('linear', name, { out, bias }, [x], [out], weights);
  }
  merge(op: 'add' | 'concat' | 'scale', name: string, inputs: number[]): number {
    const shapes = inputs.map((i) => this.shape(i));
    const shape = op === 'concat' ? [shapes.reduce((a, s) => a + s[0]!, 0), ...shapes[0]!.slice(1)] : shapes[0]!;
    return this.push(op, name, {}, inputs, shape, []);
  }
  build(output = this.nodes.length - 1): IRGraph {
    return { net: this.net, args: {}, input: this.input, nodes: this.nodes, modules: [], output };
  }
}

/** LeNet-5 as in the seed tutorial (tanh, average pooling) for [1,28,28] or [C,32,32] inputs. */
export function lenet5(input: Shape = [1, 28, 28], classes = 10): IRGraph {
  const b = new IRBuilder('lenet5', input);
  let x = b.conv(0, 'conv1', 6, 5, { pad: input[1] === 28 ? 2 : 0 });
  x = b.act(x, 'tanh1', 'tanh');
  x = b.pool(x, 'pool1', 'avgpool', 2);
  x = b.conv(x, 'conv2', 16, 5);
  x = b.act(x, 'tanh2', 'tanh');
  x = b.pool(x, 'pool2', 'avgpool', 2);
  x = b.flatten(x, 'flatten');
  x = b.linear(x, 'fc1', 120);
  x = b.act(x, 'tanh3', 'tanh');
  x = b.linear(x, 'fc2', 84);
  x = b.act(x, 'tanh4', 'tanh');
  b.linear(x, 'fc3', classes);
  return b.build();
}

/** ResNet-20 for CIFAR (He et al. 2016; 3 stages of 3 BasicBlocks, torchvision-style 1x1 projections). */
export function resnet20Cifar(classes = 10, input: Shape = [3, 32, 32]): IRGraph {
  const b = new IRBuilder('resnet20_cifar', input);
  let x = b.act(b.bn(b.conv(0, 'conv1', 16, 3, { pad: 1, bias: false }), 'bn1'), 'relu');
  [16, 32, 64].forEach((c, stage) => {
    for (let i = 0; i < 3; i++) {
      const n = `layer${stage + 1}.${i}`;
      const stride = stage > 0 && i === 0 ? 2 : 1;
      let y = b.act(b.bn(b.conv(x, `${n}.conv1`, c, 3, { stride, pad: 1, bias: false }), `${n}.bn1`), `${n}.relu1`);
      y = b.bn(b.conv(y, `${n}.conv2`, c, 3, { pad: 1, bias: false }), `${n}.bn2`);
      const sc = stride !== 1 || b.shape(x)[0] !== c ? b.bn(b.conv(x, `${n}.downsample.0`, c, 1, { stride, bias: false }), `${n}.downsample.1`) : x;
      x = b.act(b.merge('add', `${n}.add`, [y, sc]), `${n}.relu`);
    }
  });
  b.linear(b.gap(x, 'avgpool'), 'fc', classes);
  return b.build();
}
