/**
 * A minimal programmatic IR builder: lets lowering, training tests and the throughput benchmark
 * build graphs without the `.net` front end. Each node's attributes, shape, weights and MACs come
 * from its op (src/ops/), so the builder has no rules of its own.
 */
import type { IRGraph, IRNode, Shape } from '../ir/types.js';
import { opByKey, withDefaults, type Op, type OpName, type Value } from '../ops/index.js';

const span = { file: '<builder>', start: 0, end: 0 };

export class IRBuilder {
  readonly nodes: IRNode[] = [];
  constructor(
    readonly net: string,
    readonly input: Shape,
  ) {
    this.nodes.push({
      id: 0,
      op: 'input',
      name: 'input',
      attrs: {},
      inputs: [],
      shape: input,
      span,
      module: null,
      weights: [],
      macs: 0,
      receptiveField: 1,
      jump: 1,
    });
  }
  /** A node of `op` with the given arguments (the op's defaults for the rest); throws on a shape error. */
  node(op: Op, name: string, args: Record<string, Value>, inputs: number[]): number {
    const attrs = op.attrs ? op.attrs(withDefaults(op, args)) : {};
    const shapes = inputs.map((i) => this.shape(i));
    const fail = (_code: string, message: string) => {
      throw new Error(`IRBuilder: ${name}: ${message}`);
    };
    const shape = op.infer(attrs, shapes, { error: fail, warning: () => {} })!;
    const weights = op.weights?.(attrs, shapes, shape) ?? [];
    const macs = op.macs?.(attrs, shapes, shape) ?? 0;
    const id = this.nodes.length;
    this.nodes.push({ id, op: op.name, name, attrs, inputs, shape, span, module: null, weights, macs, receptiveField: 1, jump: 1 });
    return id;
  }
  shape(id: number): Shape {
    return this.nodes[id]!.shape!;
  }
  conv(x: number, name: string, out: number, k: number, o: { stride?: number; pad?: number; bias?: boolean } = {}): number {
    return this.node(opByKey('conv'), name, { out, k, stride: o.stride ?? 1, pad: o.pad ?? 0, bias: o.bias ?? true }, [x]);
  }
  bn(x: number, name: string): number {
    return this.node(opByKey('bn'), name, {}, [x]);
  }
  act(x: number, name: string, op: OpName = 'relu'): number {
    return this.node(opByKey(op), name, {}, [x]);
  }
  pool(x: number, name: string, op: 'maxpool' | 'avgpool', k: number, o: { stride?: number; pad?: number; ceil?: boolean } = {}): number {
    return this.node(opByKey(op), name, { k, stride: o.stride ?? k, pad: o.pad ?? 0, ceil: o.ceil ?? false }, [x]);
  }
  gap(x: number, name: string): number {
    return this.node(opByKey('gap'), name, {}, [x]);
  }
  flatten(x: number, name: string): number {
    return this.node(opByKey('flatten'), name, {}, [x]);
  }
  linear(x: number, name: string, out: number, bias = true): number {
    return this.node(opByKey('linear'), name, { out, bias }, [x]);
  }
  merge(op: 'add' | 'concat' | 'scale', name: string, inputs: number[]): number {
    return this.node(opByKey(op), name, {}, inputs);
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
