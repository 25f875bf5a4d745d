#!/usr/bin/env node
// Builds the N-API addon over libtorch with plain g++ (no node-gyp: it would download node headers,
// and the GPU machine is offline). Guide §6, §8.
//
//   node scripts/build-native.mjs            CPU build against Debian's libtorch-dev (/usr)
//   LIBTORCH=/path/to/torch node scripts/...  build against a PyTorch `torch/` dir (include/ + lib/),
//                                            e.g. a CUDA wheel; output goes to build-cuda/
// Options: --clean (rebuild everything), --jobs=N (default: 2, or TT_BUILD_JOBS).
// Every native/*.cc is compiled (incrementally: an object is rebuilt when its source or a header
// changed), then linked into <out>/tfjs_backend_torch.node. Missing libtorch is not an error: the
// package then imports fine and reports the backend as unavailable, so `npm ci` never breaks.
// Except where the engine is required (TFJS_TORCH_REQUIRE=1, or CI=true as CI services set it):
// there a missing libtorch, Node-API headers or compiler fails the build (exit 1), since a CI
// run without the engine would otherwise pass by skipping every engine test.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(pkgDir, 'native');
const args = process.argv.slice(2);
const clean = args.includes('--clean');
const jobsArg = args.find((a) => a.startsWith('--jobs='));
const jobs = Math.max(1, Number(jobsArg?.slice(7) ?? process.env.TT_BUILD_JOBS ?? Math.min(2, os.cpus().length)));

const say = (msg) => console.log(`[build-native] ${msg}`);
const required = process.env.TFJS_TORCH_REQUIRE === '1' || process.env.CI === 'true';

/** A missing prerequisite: a note and exit 0 normally, an error and exit 1 where the engine is required. */
function missing(what) {
  if (!required) {
    say(`skipped: ${what}`);
    return 0;
  }
  console.error(`[build-native] FAILED: ${what} (the engine is required here: TFJS_TORCH_REQUIRE=1 or CI=true)`);
  return 1;
}

/** Whether oneDNN 2's C++ headers and its linkable library are installed (Debian libdnnl-dev). */
function findDnnl() {
  const header = ['/usr/include', '/usr/local/include'].map((d) => path.join(d, 'oneapi', 'dnnl', 'dnnl.hpp')).find((f) => fs.existsSync(f));
  if (!header) return false;
  const versionFile = path.join(path.dirname(header), 'dnnl_version.h');
  const version = fs.existsSync(versionFile) ? fs.readFileSync(versionFile, 'utf8').match(/#define\s+DNNL_VERSION_MAJOR\s+(\d+)/) : null;
  if (!version || version[1] !== '2') return false; // the file uses oneDNN 2's operation descriptors
  return spawnSync('g++', ['-shared', '-o', '/dev/null', '-ldnnl']).status === 0;
}

function findTorch() {
  const root = process.env.LIBTORCH;
  if (root) {
    const inc = path.join(root, 'include');
    const lib = path.join(root, 'lib');
    if (!fs.existsSync(path.join(inc, 'ATen', 'ATen.h'))) {
      return { error: `LIBTORCH=${root}: expected ${inc}/ATen/ATen.h (a PyTorch 'torch/' dir or a libtorch zip)` };
    }
    const cuda = fs.existsSync(path.join(lib, 'libtorch_cuda.so'));
    return {
      includes: [inc, path.join(inc, 'torch', 'csrc', 'api', 'include')],
      libDir: lib,
      libs: cuda ? ['torch', 'torch_cuda', 'torch_cpu', 'c10_cuda', 'c10'] : ['torch', 'torch_cpu', 'c10'],
      abi: readAbi(root),
      cuda,
      outDir: path.join(pkgDir, 'build-cuda'),
      label: `${root}${cuda ? ' (CUDA)' : ''}`,
    };
  }
  for (const inc of ['/usr/include', '/usr/local/include']) {
    if (fs.existsSync(path.join(inc, 'ATen', 'ATen.h')) && fs.existsSync(path.join(inc, 'torch', 'csrc', 'api', 'include'))) {
      return {
        includes: [path.join(inc, 'torch', 'csrc', 'api', 'include')],
        libDir: null,
        libs: ['torch', 'torch_cpu', 'c10'],
        abi: null, // Debian's build uses the compiler default (CXX11 ABI = 1)
        cuda: false,
        outDir: path.join(pkgDir, 'build'),
        label: `system libtorch (${inc})`,
      };
    }
  }
  return { error: 'libtorch not found: install Debian libtorch-dev (apt-get install libtorch-dev) or set LIBTORCH to a PyTorch torch/ directory' };
}

// The wheel's C++ ABI must match ours, or std::string-taking symbols fail to link/resolve.
function readAbi(root) {
  if (process.env.LIBTORCH_CXX11_ABI) return process.env.LIBTORCH_CXX11_ABI === '0' ? 0 : 1;
  const cfg = path.join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
  if (fs.existsSync(cfg)) {
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(fs.readFileSync(cfg, 'utf8'));
    if (m) return Number(m[1]);
  }
  const py = spawnSync('python3', ['-c', 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'], {
    encoding: 'utf8', env: { ...process.env, PYTHONPATH: path.dirname(root) + (process.env.PYTHONPATH ? `:${process.env.PYTHONPATH}` : '') },
  });
  if (py.status === 0 && /^[01]/.test(py.stdout.trim())) return Number(py.stdout.trim()[0]);
  say('could not read the CXX11 ABI flag of LIBTORCH; assuming 1 (set LIBTORCH_CXX11_ABI=0|1 to override)');
  return 1;
}

function torchVersionMajorMinor(includes) {
  for (const inc of includes) {
    // 2.9+ keep the numbers in torch/headeronly/version.h (torch/version.h only includes it).
    for (const f of [path.join(inc, 'torch', 'version.h'), path.join(inc, 'torch', 'headeronly', 'version.h'),
      path.join(inc, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h')]) {
      if (!fs.existsSync(f)) continue;
      const s = fs.readFileSync(f, 'utf8');
      const maj = /TORCH_VERSION_MAJOR (\d+)/.exec(s);
      const min = /TORCH_VERSION_MINOR (\d+)/.exec(s);
      if (maj && min) return [Number(maj[1]), Number(min[1])];
    }
  }
  return [0, 0];
}

// cuda_runtime_api.h: a CUDA toolkit, or the nvidia-* wheels installed beside a pip PyTorch.
function findCudaIncludes(torchLibDir) {
  const site = torchLibDir ? path.resolve(torchLibDir, '..', '..') : null;
  const cands = [process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, 'include'), '/usr/local/cuda/include'];
  if (site) {
    for (const sub of ['nvidia/cuda_runtime/include', 'nvidia/cu13/include', 'nvidia/cu12/include']) cands.push(path.join(site, sub));
  }
  const found = cands.filter((c) => c && fs.existsSync(path.join(c, 'cuda_runtime_api.h')));
  return found.slice(0, 1);
}

function findNodeHeaders() {
  const cands = [process.env.NODE_HEADERS, '/usr/include/node', path.join(path.dirname(process.execPath), '..', 'include', 'node')];
  for (const c of cands) if (c && fs.existsSync(path.join(c, 'node_api.h'))) return c;
  return null;
}

function run(cmd, argv) {
  return new Promise((resolve) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('close', (code) => resolve(code ?? 1));
    p.on('error', (e) => { console.error(String(e)); resolve(1); });
  });
}

async function main() {
  const torch = findTorch();
  if (torch.error) {
    return missing(`${torch.error}. The 'torch' backend will be unavailable; tfjs falls back to wasm/cpu.`);
  }
  const nodeInc = findNodeHeaders();
  if (!nodeInc) {
    return missing('Node-API headers (node_api.h) not found; set NODE_HEADERS to a directory holding them.');
  }
  if (spawnSync('g++', ['--version']).status !== 0) {
    return missing('g++ not found (apt-get install build-essential).');
  }
  const require = createRequire(import.meta.url);
  const napiInc = path.dirname(require.resolve('node-addon-api/package.json'));

  const sources = fs.readdirSync(nativeDir).filter((f) => f.endsWith('.cc')).sort();
  const headers = fs.readdirSync(nativeDir).filter((f) => f.endsWith('.h')).map((f) => path.join(nativeDir, f));
  const defines = ['-DNAPI_CPP_EXCEPTIONS', '-DNAPI_VERSION=8'];
  // engine-nn's ops_nn.cc provides RegisterNnOps; until it exists the addon builds without it.
  const hasNn = sources.some((f) => /\bvoid\s+RegisterNnOps\s*\(/.test(fs.readFileSync(path.join(nativeDir, f), 'utf8').replace(/^\s*void\s+RegisterNnOps\s*\([^)]*\)\s*;.*$/gm, '')));
  if (!hasNn) defines.push('-DTT_NO_NN_OPS');
  if (torch.cuda) defines.push('-DTT_CUDA');
  // oneDNN's own API for the Winograd convolutions (ops_conv_winograd.cc): only against Debian's
  // libtorch, which links the system libdnnl.so.2 that libdnnl-dev's headers describe. A PyTorch
  // wheel carries its own oneDNN inside libtorch_cpu; the addon then builds without Winograd.
  const dnnl = !torch.libDir && findDnnl();
  if (dnnl) defines.push('-DTT_WITH_DNNL');
  // ops_cuda.cc's allocator stats include c10/cuda headers, which include the CUDA runtime's.
  const cudaInc = torch.cuda ? findCudaIncludes(torch.libDir) : [];
  // nccl.h, for distributed.cc's NCCL process group: the nvidia-nccl wheel beside a pip PyTorch.
  const ncclInc = torch.cuda && torch.libDir ? path.resolve(torch.libDir, '..', '..', 'nvidia', 'nccl', 'include') : null;
  if (ncclInc && fs.existsSync(path.join(ncclInc, 'nccl.h'))) cudaInc.push(ncclInc);
  if (torch.cuda && cudaInc.length === 0) {
    say('CUDA runtime headers (cuda_runtime_api.h) not found (set CUDA_HOME): building without GPU allocator stats');
    defines.push('-DTT_NO_CUDA_STATS');
  }
  // Extra -D flags, e.g. TT_NO_CUDA_STATS when a libtorch moved its allocator headers.
  defines.push(...(process.env.TT_EXTRA_DEFINES ?? '').split(/\s+/).filter((d) => /^-D\w+(=\w*)?$/.test(d)));
  if (torch.abi !== null) defines.push(`-D_GLIBCXX_USE_CXX11_ABI=${torch.abi}`);
  const [maj, min] = torchVersionMajorMinor(torch.includes.concat(['/usr/include']));
  // PyTorch 2.x headers are fine (and newer ones insist) on C++20; 1.13's need C++17.
  const std = maj >= 2 ? '-std=c++20' : '-std=c++17';
  const cflags = [std, '-O2', '-fPIC', '-fexceptions', '-Wno-deprecated-declarations', '-Wno-unused-parameter', '-Winvalid-pch',
    ...defines, `-I${nodeInc}`, `-I${napiInc}`, `-I${nativeDir}`, ...torch.includes.map((i) => `-I${i}`), ...cudaInc.map((i) => `-I${i}`)];

  const objDir = path.join(torch.outDir, 'obj');
  if (clean) fs.rmSync(torch.outDir, { recursive: true, force: true });
  fs.mkdirSync(objDir, { recursive: true });
  // Flags are part of an object's identity: a changed define (e.g. ops_nn.cc appearing) rebuilds all.
  const flagFile = path.join(objDir, 'flags.txt');
  const flagStr = cflags.join(' ');
  const flagsChanged = !fs.existsSync(flagFile) || fs.readFileSync(flagFile, 'utf8') !== flagStr;
  const headerTime = Math.max(0, ...headers.map((h) => fs.statSync(h).mtimeMs));

  say(`libtorch: ${torch.label}, torch ${maj}.${min}, ${std}${hasNn ? '' : ', no ops_nn.cc yet (TT_NO_NN_OPS)'}; ${jobs} parallel job(s)`);
  if (!torch.libDir) say(dnnl ? 'oneDNN headers found: Winograd convolutions on' : 'oneDNN headers not found (apt-get install libdnnl-dev): building without Winograd convolutions');
  // A precompiled header of napi.h + ATen.h: parsing ATen dominates each file's compile time.
  const pchH = path.join(objDir, 'pch.h');
  const pchG = `${pchH}.gch`;
  const pchText = '#include <napi.h>\n#include <ATen/ATen.h>\n';
  if (flagsChanged || !fs.existsSync(pchG) || !fs.existsSync(pchH) || fs.readFileSync(pchH, 'utf8') !== pchText) {
    fs.writeFileSync(pchH, pchText);
    say('precompiling napi.h + ATen.h');
    if ((await run('g++', [...cflags, '-x', 'c++-header', pchH, '-o', `${pchG}.${process.pid}.tmp`])) !== 0) {
      console.error('[build-native] FAILED: precompiled header'); return 1;
    }
    fs.renameSync(`${pchG}.${process.pid}.tmp`, pchG);
  }
  const pchTime = fs.statSync(pchG).mtimeMs;
  const todo = sources.filter((f) => {
    const obj = path.join(objDir, f.replace(/\.cc$/, '.o'));
    if (flagsChanged || !fs.existsSync(obj)) return true;
    const t = fs.statSync(obj).mtimeMs;
    return t < fs.statSync(path.join(nativeDir, f)).mtimeMs || t < headerTime || t < pchTime;
  });
  const queue = [...todo];
  let failed = false;
  const t0 = Date.now();
  async function worker() {
    while (queue.length && !failed) {
      const f = queue.shift();
      const obj = path.join(objDir, f.replace(/\.cc$/, '.o'));
      const tmp = `${obj}.${process.pid}.tmp.o`; // concurrent builds must not share temp files
      say(`compiling ${f}`);
      const code = await run('g++', [...cflags, '-include', pchH, '-c', path.join(nativeDir, f), '-o', tmp]);
      if (code !== 0) { failed = true; console.error(`[build-native] FAILED: ${f}`); return; }
      fs.renameSync(tmp, obj);
    }
  }
  await Promise.all(Array.from({ length: jobs }, worker));
  if (failed) return 1;
  fs.writeFileSync(flagFile, flagStr);

  const out = path.join(torch.outDir, 'tfjs_backend_torch.node');
  const objs = sources.map((f) => path.join(objDir, f.replace(/\.cc$/, '.o')));
  const ldflags = ['-shared', '-o', `${out}.${process.pid}.tmp`, ...objs];
  if (torch.libDir) ldflags.push(`-L${torch.libDir}`, `-Wl,-rpath,${torch.libDir}`);
  // --no-as-needed: otherwise the linker drops libtorch_cuda.so (no direct symbol use) and CUDA
  // reports itself unavailable at runtime (pytorch#36437).
  ldflags.push('-Wl,--no-as-needed', ...torch.libs.map((l) => `-l${l}`), '-Wl,--as-needed');
  if (dnnl) ldflags.push('-ldnnl');
  const needLink = todo.length > 0 || !fs.existsSync(out);
  if (needLink) {
    say('linking');
    if ((await run('g++', ldflags)) !== 0) { console.error('[build-native] FAILED: link'); return 1; }
    fs.renameSync(`${out}.${process.pid}.tmp`, out); // atomic: a running process never sees a half-written addon
  }
  say(`${needLink ? 'built' : 'up to date:'} ${path.relative(pkgDir, out)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return 0;
}

main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
