// The same cases on wasm with netc's own training kernels only (its own process: NETC_NATIVE is read
// when the backend loads).
import { describeParity } from './torch-parity.js';

process.env.NETC_NATIVE = '0';
describeParity('wasm', false);
