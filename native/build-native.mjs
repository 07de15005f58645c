#!/usr/bin/env node
// `npm run build:native`: builds native/ (netc's oneDNN convolution addon) with node-gyp.
// Optional by design: without oneDNN's headers (Debian: `apt-get install -y libdnnl-dev`), a compiler
// or node's headers, it prints a warning and exits 0, and netc uses the wasm convolutions instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const warn = (msg) => {
  console.warn(`build:native: WARNING: ${msg}`);
  console.warn('build:native: netc will train with the wasm convolutions (slower); this is not an error.');
  process.exit(0);
};

const header = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'].find(existsSync);
if (!header) warn('oneDNN headers not found (Debian/Ubuntu: apt-get install -y libdnnl-dev)');

// npm puts its bundled node-gyp on PATH for scripts and names it in npm_config_node_gyp.
const gypJs = process.env.npm_config_node_gyp;
const [cmd, args] = gypJs && existsSync(gypJs) ? [process.execPath, [gypJs, 'rebuild']] : ['node-gyp', ['rebuild']];
const r = spawnSync(cmd, args, { cwd: here, stdio: 'inherit' });
if (r.error) warn(`could not run node-gyp: ${r.error.message}`);
if (r.status !== 0) warn(`node-gyp rebuild failed (exit ${r.status}); see the output above`);
if (!existsSync(join(here, 'build', 'Release', 'netc_native.node'))) warn('node-gyp finished but native/build/Release/netc_native.node is missing');
console.log('build:native: built native/build/Release/netc_native.node');
