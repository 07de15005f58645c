/**
 * The op table's types and traits. The `expectTypeOf` and `@ts-expect-error` lines are checked by the
 * type checker (test/ is type-checked), the rest at run time.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { IRNode } from '../../src/ir/types.js';
import type { conv } from '../../src/ops/conv.js';
import { avgpool, maxpool } from '../../src/ops/pool.js';
import { INPUT, mergeOp, OPS, opByKey, shortcutProjection, withDefaults, type OpName } from '../../src/ops/index.js';
import { defineOp, type ArgsOf } from '../../src/ops/op.js';

describe('op names and attributes are typed', () => {
  it("OpName is the union of the table's names, and IR nodes carry one", () => {
    expectTypeOf<'conv'>().toExtend<OpName>();
    expectTypeOf<'softmax'>().toExtend<OpName>();
    expectTypeOf<string>().not.toExtend<OpName>();
    expectTypeOf<IRNode['op']>().toEqualTypeOf<OpName>();
    // @ts-expect-error a misspelt op name does not compile
    expect(() => opByKey('sofmax')).toThrow(/no op/);
    expect(OPS.map((o) => o.name).sort()).toEqual([...new Set(OPS.map((o) => o.name))].sort());
  });

  it('attrs are typed once per op, from its params and its attrs()', () => {
    type ConvAttrs = ReturnType<NonNullable<typeof conv.attrs>>;
    expectTypeOf<ConvAttrs['kernel']>().toEqualTypeOf<[number, number]>();
    expectTypeOf<ConvAttrs['groups']>().toEqualTypeOf<number>();
    expectTypeOf<ConvAttrs['bias']>().toEqualTypeOf<boolean>();
    const op = defineOp({
      name: 'example',
      summary: '',
      nameBase: 'example',
      arity: 1,
      params: [
        { name: 'n', type: 'int', doc: '' },
        { name: 'mode', type: 'string', default: 'a', doc: '' },
        { name: 'k', type: 'int|pair', doc: '' },
      ],
      torchType: () => null,
      attrs: (args) => {
        expectTypeOf(args).toEqualTypeOf<
          ArgsOf<
            readonly [{ name: 'n'; type: 'int'; doc: '' }, { name: 'mode'; type: 'string'; default: 'a'; doc: '' }, { name: 'k'; type: 'int|pair'; doc: '' }]
          >
        >();
        expectTypeOf(args.n).toEqualTypeOf<number>();
        expectTypeOf(args.mode).toEqualTypeOf<string>();
        expectTypeOf(args.k).toEqualTypeOf<number | number[]>();
        return { twice: args.n * 2 };
      },
      infer(attrs, [input]) {
        expectTypeOf(attrs.twice).toEqualTypeOf<number>();
        // @ts-expect-error an attribute attrs() does not make
        void attrs.thrice;
        return input!;
      },
    });
    expectTypeOf(op.name).toEqualTypeOf<'example'>();
    expect(op.attrs!({ n: 3, mode: 'a', k: 1 })).toEqual({ twice: 6 });
  });
});

describe('traits', () => {
  it("every weight an op makes has PyTorch's default init declared (the exporter writes only what differs)", () => {
    const seq = [[5, 8]];
    const map = [[4, 8, 8]];
    const probe = {
      conv: [[3, 8, 8]],
      bn: map,
      linear: [[10]],
      layernorm: seq,
      layernorm2d: map,
      layer_scale: map,
      class_token: seq,
      pos_embedding: seq,
      attention: seq,
    } as Record<string, number[][]>;
    for (const op of OPS) {
      if (!op.weights) continue;
      const inputs = probe[op.name];
      expect(inputs, `add ${op.name} to this probe`).toBeDefined();
      const attrs = op.attrs ? op.attrs(withDefaults(op, { out: 4, k: 3, heads: 2 })) : {};
      const shape = op.infer(attrs, inputs!, { error: () => {}, warning: () => {} })!;
      for (const w of op.weights(attrs, inputs!, shape)) expect(op.pytorch?.init?.[w.name], `${op.name}.${w.name}`).toBeDefined();
    }
  });

  it("the passes' questions have the answers the old name checks gave", () => {
    const named = (trait: (o: (typeof OPS)[number]) => unknown) =>
      OPS.filter((o) => trait(o))
        .map((o) => o.name)
        .sort();
    expect(named((o) => o.outputsProbabilities)).toEqual(['softmax']);
    expect(named((o) => o.fullyConnected)).toEqual(['linear']);
    expect(named((o) => o.passThrough)).toEqual(['dropout', 'flatten', 'identity']);
    expect(named((o) => o.graphInput)).toEqual(['input']);
    expect(named((o) => o.globalPool)).toEqual(['adaptive_avgpool', 'avgpool', 'gap']);
    expect(INPUT.name).toBe('input');
    expect([mergeOp('+').name, mergeOp('++').name, mergeOp('*').name]).toEqual(['add', 'concat', 'scale']);
    expect(maxpool.globalPool).toBeUndefined();
    const whole = avgpool.attrs!(withDefaults(avgpool, { k: 7 }));
    expect(avgpool.globalPool!.test(whole, [512, 7, 7])).toBe(true);
    expect(avgpool.globalPool!.test(whole, [512, 14, 14])).toBe(false);
  });

  it("shortcut's projection is a 1x1 conv without bias at the stride, then bn, at their ops' defaults", () => {
    const [c, b] = shortcutProjection(64, 2);
    expect(c!.op.name).toBe('conv');
    expect(c!.op.attrs!(c!.args)).toEqual({ out: 64, kernel: [1, 1], stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 1, bias: false });
    expect(b!.op.name).toBe('bn');
    expect(b!.op.attrs!(b!.args)).toEqual({ eps: 1e-5, momentum: 0.1 });
  });
});
