// Grouped/dilated convolutions and adaptive pooling vs PyTorch on cpu and wasm (+ native addon when built).
import { describeParity } from './torch-parity.js';

describeParity('cpu');
describeParity('wasm');
