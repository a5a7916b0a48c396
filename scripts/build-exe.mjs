// `npm run build:exe`: one file that runs kproxy with no Node.js and no node_modules on the
// machine, through Node's single executable applications (SEA): this Node binary with the CLI
// injected (postject). Everything the package loads at run time from node_modules (undici's
// pool, send, socks, re2-wasm) is bundled in, and RE2's WebAssembly travels as an SEA asset.
//
// Output: dist/sea/kproxy, or <dir>/kproxy with `--out <dir>` (the test builds into a temporary
// folder); same platform and Node version as the `node` that runs this script.

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { inject } from 'postject';
import { buildInfoDefine, root } from './build-info.mjs';

const path = (rel) => new URL(rel, root).pathname;
const outArg = process.argv.indexOf('--out');
const out = outArg === -1 ? path('dist/sea/') : resolve(process.argv[outArg + 1]) + '/';
const work = `${out}build/`;
mkdirSync(work, { recursive: true });

// What src/ loads with createRequire(import.meta.url): an SEA's require() knows only Node's
// built-in modules, so these are imported statically and handed out by a stand-in createRequire.
const RUNTIME_MODULES = [
  're2-wasm/build/wasm/re2.js',
  'undici/lib/dispatcher/pool.js',
  'undici/lib/dispatcher/client.js',
  'undici/lib/core/connect.js',
  'send',
  'socks',
];
const WASM_ASSET = 're2.wasm';

const seaModule = {
  name: 'kproxy-sea',
  setup(b) {
    b.onResolve({ filter: /^node:module$/ }, (args) =>
      args.importer.startsWith(path('dist/src/')) ? { path: 'sea-module', namespace: 'kproxy-sea' } : undefined,
    );
    b.onLoad({ filter: /^sea-module$/, namespace: 'kproxy-sea' }, () => ({
      resolveDir: path('.'),
      contents: [
        // require() calls, which esbuild bundles but evaluates only when called: each module
        // still loads on first use, as it does from node_modules.
        `const table = { ${RUNTIME_MODULES.map((m) => `${JSON.stringify(m)}: () => require(${JSON.stringify(m)})`).join(', ')} };`,
        'export function createRequire() {',
        '  return (id) => {',
        '    if (id in table) return table[id]();',
        '    throw new Error(`kproxy executable: module ${id} was not bundled (scripts/build-exe.mjs)`);',
        '  };',
        '}',
      ].join('\n'),
    }));
    // debug (under send) probes for this optional package; the SEA's require() would warn about it.
    b.onResolve({ filter: /^supports-color$/ }, () => ({ path: 'supports-color', namespace: 'kproxy-absent' }));
    b.onLoad({ filter: /.*/, namespace: 'kproxy-absent' }, () => ({ contents: "throw new Error('not bundled');" }));
    // Emscripten's loader reads re2.wasm beside re2.js; in the executable it is an asset.
    b.onLoad({ filter: /re2-wasm[\\/]build[\\/]wasm[\\/]re2\.js$/ }, (args) => {
      const js = readFileSync(args.path, 'utf8');
      const hook = "if (Module['wasmBinary']) wasmBinary = Module['wasmBinary'];";
      if (!js.includes(hook)) throw new Error(`re2-wasm changed: "${hook}" not found in ${args.path}`);
      return {
        contents: js.replace(hook, `wasmBinary = new Uint8Array(require('node:sea').getAsset(${JSON.stringify(WASM_ASSET)}));`),
        loader: 'js',
      };
    });
  },
};

await build({
  stdin: { contents: "import { main } from './dist/src/cli.js';\nmain(process.argv.slice(2));\n", resolveDir: path('.'), sourcefile: 'sea-main.js' },
  outfile: `${work}kproxy.cjs`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'error',
  plugins: [seaModule],
  define: buildInfoDefine(),
});

const config = {
  main: `${work}kproxy.cjs`,
  output: `${work}kproxy.blob`,
  disableExperimentalSEAWarning: true,
  // V8's compiled code goes into the blob too: faster start-up for a larger file.
  useCodeCache: true,
  assets: { [WASM_ASSET]: path('node_modules/re2-wasm/build/wasm/re2.wasm') },
};
writeFileSync(`${work}sea-config.json`, JSON.stringify(config, null, 2));
const blob = spawnSync(process.execPath, ['--experimental-sea-config', `${work}sea-config.json`], { encoding: 'utf8' });
if (blob.status !== 0) {
  process.stderr.write(blob.stdout + blob.stderr);
  process.exit(1);
}

const exe = `${out}kproxy`;
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
// postject warns about ELF note sections it does not need to find; nothing is wrong.
const warn = console.warn;
console.warn = (...args) => (String(args[0]).includes("Can't find string offset for section name") ? undefined : warn(...args));
try {
  await inject(exe, 'NODE_SEA_BLOB', readFileSync(config.output), { sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2' });
} finally {
  console.warn = warn;
}
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${exe} (${(statSync(exe).size / 1e6).toFixed(1)} MB, Node ${process.version} ${process.platform}-${process.arch})\n`);
