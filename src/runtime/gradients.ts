/**
 * tfjs-core's Node build (`tf-core.node.js`) registers no gradient functions, and its ESM build's
 * `register_all_gradients` uses extensionless imports that Node cannot resolve. The union package
 * `@tensorflow/tfjs` bundles all gradient configs and registers them into the shared (global)
 * registry of the same tfjs-core instance, so importing it once makes training possible.
 *
 * Then netc's own gradients, which call a fused kernel where the current backend has one:
 * - Relu: tfjs composes mul(dy, cast(step(x))), three passes and two temporaries per ReLU (and on
 *   tfjs-node step is itself four kernels). `NetcReluGrad` does it in one: TensorFlow's ReluGrad on
 *   the node backend (node-kernels.ts), the oneDNN addon on wasm (native.ts). Other backends keep
 *   tfjs's formula.
 */
import * as tf from '@tensorflow/tfjs';
import { hasKernel, RELU_GRAD } from './node-kernels.js';
import { installEagerBackprop } from './tape.js';

// dx = dy where y > 0, from the ReLU's saved output, not its input (y > 0 exactly where x > 0, and
// the output is what the next layer keeps anyway, so the tape (tape.ts) holds one tensor, not two).
tf.registerGradient({
  kernelName: 'Relu',
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [y] = saved;
    const d = dy as tf.Tensor;
    if (d.dtype === 'float32' && y!.dtype === 'float32' && hasKernel(tf, RELU_GRAD)) {
      return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: d, x: y! }) as tf.Tensor };
    }
    return { x: () => tf.mul(d, tf.cast(tf.step(y!), 'float32')) };
  },
});

// Backprop that frees each gradient and saved tensor as soon as its node has run.
installEagerBackprop();
