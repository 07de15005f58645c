import type * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { LowerContext } from '../lower/context.js';

export type LayerClass<A> = new (args: A) => tfl.layers.Layer;

/**
 * An op's own tfjs layer class, defined on first use from the context's tfjs (so that loading the op
 * table never loads tfjs) and registered once for model serialization.
 */
export function lazyLayer<A>(define: (ctx: LowerContext) => LayerClass<A>): (ctx: LowerContext) => LayerClass<A> {
  let made: LayerClass<A> | undefined;
  return (ctx) => {
    if (made) return made;
    made = define(ctx);
    ctx.tf.serialization.registerClass(made as unknown as tfc.serialization.SerializableConstructor<tfc.serialization.Serializable>);
    return made;
  };
}
