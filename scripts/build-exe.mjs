// `npm run build:exe`: one file that runs kproxy with no Node.js and no node_modules on the
// machine, through Node's single executable applications (SEA): this Node binary with the CLI
// injected (postject). Everything the package loads at run time from node_modules (undici's
// pool, send, socks, re2-wasm) is bundled in, and RE2's WebAssembly travels as an SEA asset.
//
// Output: dist/sea/kproxy (same platform and Node version as the `node` that runs this script).

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { inject } from 'postject';
import { buildInfoDefine, root } from './build-info.mjs';

const path = (rel) => new URL(rel, root).pathname;
const out = path('dist/sea/');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// What src/ loads with createRequire(import.meta.url): an SEA's require() knows only Node's
// built-in modules, so these are imported statically and handed out by a stand-in createRequire.
const RUNTIME_MODULES = ['re2-wasm/build/wasm/re2.js', 'undici/lib/dispatcher/pool.js', 'send', 'socks'];
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
        ...RUNTIME_MODULES.map((m, i) => `import * as m${i} from ${JSON.stringify(m)};`),
        `const table = { ${RUNTIME_MODULES.map((m, i) => `${JSON.stringify(m)}: m${i}.default ?? m${i}`).join(', ')} };`,
        'export function createRequire() {',
        '  return (id) => {',
        '    if (id in table) return table[id];',
        '    throw new Error(`kproxy executable: module ${id} was not bundled (scripts/build-exe.mjs)`);',
        '  };',
        '}',
      ].join('\n'),
    }));
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
  outfile: path('dist/sea/kproxy.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'error',
  plugins: [seaModule],
  define: buildInfoDefine(),
});

const config = {
  main: path('dist/sea/kproxy.cjs'),
  output: path('dist/sea/kproxy.blob'),
  disableExperimentalSEAWarning: true,
  // V8's compiled code goes into the blob too: faster start-up for a larger file.
  useCodeCache: true,
  assets: { [WASM_ASSET]: path('node_modules/re2-wasm/build/wasm/re2.wasm') },
};
writeFileSync(path('dist/sea/sea-config.json'), JSON.stringify(config, null, 2));
execFileSync(process.execPath, ['--experimental-sea-config', path('dist/sea/sea-config.json')], { stdio: ['ignore', 'ignore', 'inherit'] });

const exe = path('dist/sea/kproxy');
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
await inject(exe, 'NODE_SEA_BLOB', readFileSync(config.output), { sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2' });
rmSync(config.output);
process.stdout.write(`${exe} (${(statSync(exe).size / 1e6).toFixed(1)} MB, Node ${process.version} ${process.platform}-${process.arch})\n`);
