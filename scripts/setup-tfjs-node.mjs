#!/usr/bin/env node
// `npm run setup:tfjs-node [-- --wheel PATH] [--gpu|--cpu] [--tf-version V] [--force]`
//
// Builds @tensorflow/tfjs-node (or tfjs-node-gpu) without its install script, which downloads
// libtensorflow 2.9.1 from Google's storage and fails offline. Instead it uses the C library inside
// TensorFlow's pip wheel: `libtensorflow_cc.so.2` exports the C and eager C API that tfjs-node's
// binding calls, beside `libtensorflow_framework.so.2`, and the wheel carries the headers.
//
//   1. wheel: --wheel PATH, else one cached in ~/.cache/netc/wheels (NETC_CACHE), else
//      `pip download --no-deps tensorflow-cpu==2.21.0` (pip finds it on PyPI or a local index);
//   2. package: `npm install --no-save --ignore-scripts @tensorflow/tfjs-node@4.22.0` into this
//      project's node_modules (package.json and the lock file are left alone, so `npm ci` still works);
//   3. library: the two libraries and the headers the binding needs are unpacked once into the cache,
//      then hard-linked (or copied) into the package's deps/lib and deps/include under the names its
//      build and install scripts expect;
//   4. binding: `node-pre-gyp install --build-from-source` with npm_config_nodedir=/usr when Node's
//      headers are there, so that nothing is downloaded;
//   5. check: a child process loads the package and runs one op.
// A second run with the same wheel only repeats step 5 (seconds). A wheel of a GPU build
// (`tensorflow`, not `tensorflow-cpu`; or --gpu) builds @tensorflow/tfjs-node-gpu the same way.
// Exit status: 0 ready, 1 a step failed (the message says which and what to do), 2 bad usage.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TFJS_VERSION = '4.22.0';
/** The file name tfjs-node's own install script checks for before it would download (deps-constants.js). */
const TFJS_EXPECTED_LIB = 'libtensorflow.so.2.9.1';
/** Header trees the binding's sources include (c_api.h, eager/c_api.h, tf_tstring.h -> ctstring.h, tsl_status.h). */
const HEADER_DIRS = ['tensorflow/c/', 'tensorflow/core/platform/', 'tsl/platform/', 'xla/tsl/c/'];
const LIBS = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];

const say = (msg) => console.error(`setup:tfjs-node: ${msg}`);
class SetupError extends Error {}
const fail = (msg) => {
  throw new SetupError(msg);
};

function parseArgs(argv) {
  const o = { wheel: process.env.NETC_TF_WHEEL || null, gpu: null, tfVersion: process.env.NETC_TF_VERSION || '2.21.0', force: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--wheel') o.wheel = value();
    else if (a === '--tf-version') o.tfVersion = value();
    else if (a === '--gpu') o.gpu = true;
    else if (a === '--cpu') o.gpu = false;
    else if (a === '--force') o.force = true;
    else if (a === '--help' || a === '-h') {
      console.log(
        readFileSync(fileURLToPath(import.meta.url), 'utf8')
          .split('\n')
          .slice(1, 21)
          .map((l) => l.replace(/^\/\/ ?/, ''))
          .join('\n'),
      );
      process.exit(0);
    } else if (a.endsWith('.whl') && !o.wheel) o.wheel = a;
    else usage(`unknown argument '${a}'`);
  }
  return o;
}

function usage(msg) {
  console.error(`setup:tfjs-node: ${msg}\nusage: npm run setup:tfjs-node -- [--wheel PATH.whl] [--gpu|--cpu] [--tf-version 2.21.0] [--force]`);
  process.exit(2);
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
}

/** The first of python3 -m pip, /usr/bin/python3 -m pip, pip3, pip that answers --version. */
function findPip() {
  const candidates = [
    ['python3', ['-m', 'pip']],
    ['/usr/bin/python3', ['-m', 'pip']],
    ['pip3', []],
    ['pip', []],
  ];
  for (const [cmd, pre] of candidates) {
    const r = run(cmd, [...pre, '--version']);
    if (r.status === 0) return { cmd, pre };
  }
  return null;
}

/** Distribution name and version from a wheel's file name (PEP 427: name-version-...whl). */
function wheelInfo(path) {
  const m = /^([A-Za-z0-9_.]+)-([^-]+)-/.exec(basename(path));
  if (!m) fail(`'${path}' is not named like a wheel (NAME-VERSION-TAGS.whl)`);
  return { dist: m[1].toLowerCase().replace(/[-.]/g, '_'), version: m[2] };
}

function findWheel(o, cache) {
  if (o.wheel) {
    if (!existsSync(o.wheel)) fail(`no wheel at ${o.wheel} (--wheel / NETC_TF_WHEEL)`);
    return resolve(o.wheel);
  }
  const dist = o.gpu ? 'tensorflow' : 'tensorflow_cpu';
  const dir = join(cache, 'wheels');
  const cached = () => (existsSync(dir) ? readdirSync(dir).find((f) => f.startsWith(`${dist}-${o.tfVersion}-`) && f.endsWith('.whl')) : undefined);
  let found = cached();
  if (found) return join(dir, found);
  const pip = findPip();
  if (!pip) {
    fail(
      'no pip found (tried python3 -m pip, /usr/bin/python3 -m pip, pip3, pip). Install pip (Debian: apt-get install -y python3-pip), ' +
        `or download ${dist.replace('_', '-')}==${o.tfVersion}'s wheel yourself and pass it: npm run setup:tfjs-node -- --wheel PATH.whl`,
    );
  }
  const spec = `${dist.replace('_', '-')}==${o.tfVersion}`;
  mkdirSync(dir, { recursive: true });
  say(`downloading ${spec} with ${[pip.cmd, ...pip.pre].join(' ')} into ${dir} (a few hundred MB, once)`);
  const r = run(pip.cmd, [...pip.pre, 'download', '--no-deps', '--only-binary=:all:', '--retries', '1', spec, '-d', dir], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  found = cached();
  if (r.status !== 0 || !found) {
    const tail = (r.stderr || '').trim().split('\n').slice(-3).join('\n  ');
    fail(
      `pip found no wheel for ${spec} (exit ${r.status}):\n  ${tail}\n` +
        'TensorFlow publishes wheels for Linux x86_64/aarch64, macOS arm64 and Windows, for CPython 3.9-3.13; ' +
        `pick another with --tf-version, or pass a wheel: npm run setup:tfjs-node -- --wheel PATH.whl`,
    );
  }
  return join(dir, found);
}

/** Unpacks the two libraries and the needed headers once per wheel into the cache. */
function unpack(wheel, cache) {
  const { dist, version } = wheelInfo(wheel);
  const st = statSync(wheel);
  const dest = join(cache, `${dist}-${version}`);
  const stampFile = join(dest, 'netc-unpacked.json');
  const stamp = JSON.stringify({ wheel: basename(wheel), size: st.size });
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return dest;
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  // Leftovers of an unpacking that was killed (hundreds of MB each).
  for (const f of readdirSync(cache)) if (f.startsWith(`${basename(dest)}.tmp-`)) rmSync(join(cache, f), { recursive: true, force: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  say(`unpacking ${basename(wheel)}: the libraries and headers only (~850 MB) into ${dest}`);
  const members = [...LIBS.map((l) => `tensorflow/${l}`), ...HEADER_DIRS.map((d) => `tensorflow/include/${d}`)];
  // Python's zipfile is there wherever pip is; unzip where it is not (a wheel given by path).
  const py = `import sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); want = sys.argv[3:]
names = [n for n in z.namelist() if any(n == w or (w.endswith('/') and n.startswith(w)) for w in want)]
z.extractall(sys.argv[2], names); print(len(names))`;
  let r = run('python3', ['-c', py, wheel, tmp, ...members]);
  if (r.error || r.status !== 0) r = run('unzip', ['-q', '-o', wheel, ...members.map((m) => (m.endsWith('/') ? `${m}*` : m)), '-d', tmp]);
  if (r.error || r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    fail(`could not unpack ${wheel} (needs python3 or unzip): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  }
  for (const lib of LIBS) {
    if (!existsSync(join(tmp, 'tensorflow', lib))) {
      rmSync(tmp, { recursive: true, force: true });
      fail(`${basename(wheel)} has no tensorflow/${lib}: not a TensorFlow 2.x wheel with the C library (TensorFlow >= 2.12 ships one)`);
    }
  }
  for (const h of ['tensorflow/c/c_api.h', 'tensorflow/c/eager/c_api.h']) {
    if (!existsSync(join(tmp, 'tensorflow', 'include', h))) {
      rmSync(tmp, { recursive: true, force: true });
      fail(`no headers: ${basename(wheel)} lacks tensorflow/include/${h}, which the binding compiles against`);
    }
  }
  mkdirSync(join(tmp, 'lib'));
  for (const lib of LIBS) copyOrLink(join(tmp, 'tensorflow', lib), join(tmp, 'lib', lib), true);
  copyOrLink(join(tmp, 'tensorflow', 'include'), join(tmp, 'include'), true);
  rmSync(join(tmp, 'tensorflow'), { recursive: true, force: true });
  writeFileSync(join(tmp, 'netc-unpacked.json'), stamp);
  renameDir(tmp, dest);
  return dest;
}

function renameDir(from, to) {
  const r = run('mv', ['-T', from, to]);
  if (r.status !== 0) fail(`could not move ${from} to ${to}: ${r.stderr.trim()}`);
}

/** Moves (`move`), or hard-links and else copies, a file; a directory is copied recursively. */
function copyOrLink(from, to, move = false) {
  rmSync(to, { recursive: true, force: true });
  if (move) return renameDir(from, to);
  if (statSync(from).isDirectory()) {
    const r = run('cp', ['-r', from, to]);
    if (r.status !== 0) fail(`could not copy ${from}: ${r.stderr.trim()}`);
    return;
  }
  try {
    linkSync(from, to); // same file system: no extra 800 MB
  } catch {
    copyFileSync(from, to);
  }
}

/** Installs the package for real (its 45-odd runtime dependencies), without its download script. */
function ensurePackage(pkg) {
  const dir = join(root, 'node_modules', ...pkg.split('/'));
  const pj = join(dir, 'package.json');
  if (existsSync(pj) && JSON.parse(readFileSync(pj, 'utf8')).version === TFJS_VERSION && existsSync(join(root, 'node_modules', '@mapbox', 'node-pre-gyp')))
    return dir;
  say(`installing ${pkg}@${TFJS_VERSION} (npm install --no-save --ignore-scripts; package.json and the lock file are not changed)`);
  const r = run('npm', ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', `${pkg}@${TFJS_VERSION}`], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  if (r.status !== 0 || !existsSync(pj))
    fail(`npm could not install ${pkg}@${TFJS_VERSION} (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  return dir;
}

/** deps/ as the binding's build (binding.gyp: -ltensorflow -ltensorflow_framework) and loader (rpath ../../deps/lib) want it. */
function layOut(pkgDir, unpacked) {
  const deps = join(pkgDir, 'deps');
  rmSync(deps, { recursive: true, force: true });
  mkdirSync(join(deps, 'lib'), { recursive: true });
  const lib = (name) => join(deps, 'lib', name);
  for (const l of LIBS) copyOrLink(join(unpacked, 'lib', l), lib(l));
  // The link-time names; the binding then records the libraries' sonames (the .so.2 files above).
  symlinkSync('libtensorflow_cc.so.2', lib('libtensorflow.so'));
  symlinkSync('libtensorflow_framework.so.2', lib('libtensorflow_framework.so'));
  symlinkSync('libtensorflow_cc.so.2', lib(TFJS_EXPECTED_LIB));
  copyOrLink(join(unpacked, 'include'), join(deps, 'include'));
}

function checkToolchain() {
  const cxx = ['c++', 'g++', 'clang++'].find((c) => run(c, ['--version']).status === 0);
  if (!cxx) fail('no C++ compiler (tried c++, g++, clang++); Debian: apt-get install -y g++ make');
  if (run('make', ['--version']).status !== 0) fail('no make; Debian: apt-get install -y make');
  if (run('python3', ['--version']).status !== 0) fail('no python3, which node-gyp needs to build the binding');
  // Without local headers node-gyp would download them: say so instead of failing later offline.
  const nodedir =
    process.env.npm_config_nodedir ||
    ['/usr', '/usr/local', dirname(dirname(process.execPath))].find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
  if (!nodedir || !existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
    fail(
      `no Node.js headers (include/node/node_api.h under /usr, /usr/local or ${dirname(dirname(process.execPath))}); Debian: apt-get install -y libnode-dev, or set npm_config_nodedir`,
    );
  }
  return { nodedir, cxx };
}

/**
 * deps/netc-quiet-load.node (scripts/tf-quiet-load.c): netc loads TensorFlow through it with stderr
 * silenced, because the library logs from static initialisers that no log level reaches. Optional:
 * without it netc works the same, and TensorFlow prints two lines as it loads.
 */
function buildQuietLoader(pkgDir, { nodedir, cxx }) {
  const out = join(pkgDir, 'deps', 'netc-quiet-load.node');
  const r = run(cxx, ['-x', 'c', '-O2', '-shared', '-fPIC', `-I${join(nodedir, 'include', 'node')}`, join(root, 'scripts', 'tf-quiet-load.c'), '-o', out]);
  if (r.status !== 0) say(`warning: could not build ${out} (TensorFlow will print its start-up lines): ${(r.stderr || '').trim().split('\n')[0]}`);
}

function buildBinding(pkgDir, nodedir) {
  say(`building the binding (node-pre-gyp install --build-from-source, nodedir ${nodedir}; about a minute)`);
  const bin = join(root, 'node_modules', '.bin', 'node-pre-gyp');
  const env = { ...process.env, npm_config_nodedir: nodedir };
  // node-pre-gyp runs node-gyp: npm's bundled copy when npm names it, else one on PATH.
  const r = run(existsSync(bin) ? bin : 'node-pre-gyp', ['install', '--build-from-source'], { cwd: pkgDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    const out = `${r.stdout}\n${r.stderr}`.trim().split('\n');
    const err = out.filter((l) => /error|fatal/i.test(l)).slice(0, 8);
    fail(`building the binding failed (exit ${r.status}):\n  ${(err.length ? err : out.slice(-8)).join('\n  ')}`);
  }
}

/** Loads the package in a child process and runs one op; returns "tfjs-node 4.22.0 on TensorFlow 2.21.0". */
function verify(pkg) {
  const code = `process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
const tf = await import('${pkg}');
const s = tf.tensor([1, 2, 3]).square().sum().dataSync()[0];
if (s !== 14 || tf.getBackend() !== 'tensorflow') throw new Error('sum of squares ' + s + ' on ' + tf.getBackend());
console.log(tf.backend().binding.TF_Version);`;
  const r = run(process.execPath, ['--input-type=module', '-e', code], { cwd: root });
  if (r.status !== 0)
    return {
      ok: false,
      why:
        (r.stderr || '')
          .trim()
          .split('\n')
          .filter((l) => /Error|error/.test(l))
          .slice(0, 3)
          .join(' | ') || `exit ${r.status}`,
    };
  return { ok: true, tfVersion: r.stdout.trim() };
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const cache = process.env.NETC_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'netc');
  const wheel = findWheel(o, cache);
  const { dist } = wheelInfo(wheel);
  // The Linux `tensorflow` wheel is the CUDA build; `tensorflow-cpu` (and intel/aws variants) are not.
  const gpu = o.gpu ?? !/cpu/.test(dist);
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  const pkgDir = ensurePackage(pkg);
  const stampFile = join(pkgDir, 'deps', 'netc-setup.json');
  const stamp = JSON.stringify({ wheel: basename(wheel), size: statSync(wheel).size, tfjs: TFJS_VERSION });
  // node-pre-gyp picks lib/napi-vN for the highest N-API version both sides support.
  const libDir = join(pkgDir, 'lib');
  const built = existsSync(libDir) && readdirSync(libDir).some((d) => existsSync(join(libDir, d, 'tfjs_binding.node')));
  if (!o.force && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && built) {
    const v = verify(pkg);
    if (v.ok) {
      say(`${pkg} ${TFJS_VERSION} is ready on TensorFlow ${v.tfVersion} (from ${basename(wheel)}; already built)`);
      return;
    }
    say(`the existing build does not load (${v.why}); rebuilding`);
  }
  const toolchain = checkToolchain();
  const unpacked = unpack(wheel, cache);
  layOut(pkgDir, unpacked);
  buildBinding(pkgDir, toolchain.nodedir);
  buildQuietLoader(pkgDir, toolchain);
  const v = verify(pkg);
  if (!v.ok) fail(`the binding built but does not load: ${v.why}`);
  writeFileSync(stampFile, stamp);
  say(
    `${pkg} ${TFJS_VERSION} is ready on TensorFlow ${v.tfVersion} (from ${basename(wheel)})${gpu ? '; GPU build: needs CUDA/cuDNN libraries matching that TensorFlow at run time' : ''}`,
  );
}

try {
  main();
} catch (e) {
  if (!(e instanceof SetupError)) throw e;
  say(`FAILED: ${e.message}`);
  process.exit(1);
}
