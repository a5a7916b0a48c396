// The shape of src/ (ARCHITECTURE.md): no import cycles, and no module past ~450 lines. Read
// from the TypeScript sources, so a cycle through a type-only import counts too.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const MAX_LINES = 450;
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) deps.push(relative(SRC, normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts')))));
    g.set(relative(SRC, file), deps);
  }
  return g;
}

/** Every cycle found by a depth-first walk, as `a -> b -> a`. */
export function cycles(g: Map<string, string[]>): string[] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const found: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const m of g.get(n) ?? []) {
      if (state.get(m) === 1) found.push([...stack.slice(stack.indexOf(m)), m].join(' -> '));
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...g.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

test('architecture: the cycle finder finds a cycle', () => {
  const g = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  assert.deepEqual(cycles(g), ['a.ts -> b.ts -> c.ts -> a.ts']);
});

test('architecture: src/ has no import cycles', () => {
  const g = graph();
  assert.ok(g.size > 20, `read ${g.size} modules from ${SRC}`);
  assert.ok(g.get('cli.ts')!.includes('proxy.ts'), 'the import scan sees cli.ts -> proxy.ts');
  assert.deepEqual(cycles(g), []);
});

test(`architecture: no module in src/ is over ${MAX_LINES} lines`, () => {
  const long = sources(SRC)
    .map((f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length - 1] as const)
    .filter(([, n]) => n > MAX_LINES);
  assert.deepEqual(long, []);
});

test('architecture: every module src/ loads at run time is bundled into the single executable', () => {
  const exeScript = readFileSync(join(SRC, '..', 'scripts', 'build-exe.mjs'), 'utf8');
  const loaded = new Set<string>();
  for (const file of sources(SRC)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/createRequire\(import\.meta\.url\)\('([^']+)'\)/g)) loaded.add(m[1]!);
  }
  assert.ok(loaded.has('send'), 'the scan finds the createRequire calls');
  assert.deepEqual([...loaded].filter((id) => !exeScript.includes(`'${id}'`)), []);
});
