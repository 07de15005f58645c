/**
 * tfjs-core's Node build (`tf-core.node.js`) registers no gradient functions, and its ESM build's
 * `register_all_gradients` uses extensionless imports that Node cannot resolve. The union package
 * `@tensorflow/tfjs` bundles all gradient configs and registers them into the shared (global)
 * registry of the same tfjs-core instance, so importing it once makes training possible.
 */
import '@tensorflow/tfjs';

// After the registrations above (it overrides the ReLU gradient): backprop that frees as it goes.
import { installEagerBackprop } from './tape.js';
installEagerBackprop();
