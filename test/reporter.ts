// `npm test`'s reporter: quiet when everything passes. It prints each failure in full (and the
// stderr of files with a failure), one line per skipped test with its reason, and node:test's
// closing summary as the TAP reporter writes it (`# tests N`, `# pass N`, `# fail N`, ...), the
// lines CI reads. KPROXY_TEST_REPORTER=tap (or
// spec, dot) gives node's full report instead, e.g. `KPROXY_TEST_REPORTER=spec npm test`.

import { dot, spec, tap } from 'node:test/reporters';
import { relative } from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';

interface TestEventData {
  name: string;
  nesting: number;
  file?: string;
  message?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  details?: { error?: Error & { failureType?: string; cause?: unknown } };
}

type TestEvent = { type: string; data: TestEventData };

const FULL: Record<string, unknown> = { tap, dot };

/** Names of the suites and tests open in each file, by nesting level. */
const open = new Map<string, string[]>();

/** `file: suite > test` for a test event. */
function where(data: TestEventData): string {
  const path = [...(open.get(data.file ?? '') ?? []).slice(0, data.nesting), data.name].join(' > ');
  return data.file ? `${relative(process.cwd(), data.file)}: ${path}` : path;
}

function describeError(err: (Error & { failureType?: string; cause?: unknown }) | undefined): string {
  if (!err) return '';
  // node:test wraps what the test threw; the cause is the assertion with its diff and stack.
  const shown = err.failureType === 'testCodeFailure' && err.cause !== undefined ? err.cause : err;
  return inspect(shown, { depth: 4 })
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

const SUMMARY = /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [\d.]+$/;

async function* quiet(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const summary: string[] = [];
  // A file's stderr is shown only when one of its tests failed, after the failures.
  const stderr = new Map<string, string>();
  const failed = new Set<string>();
  for await (const { type, data } of source) {
    switch (type) {
      case 'test:start': {
        const names = open.get(data.file ?? '') ?? [];
        names.length = data.nesting;
        names.push(data.name);
        open.set(data.file ?? '', names);
        break;
      }
      case 'test:fail': {
        // A suite failing because a test inside it failed adds nothing to that test's report.
        if (data.details?.error?.failureType === 'subtestsFailed') break;
        failed.add(data.file ?? '');
        yield `not ok ${where(data)}\n${describeError(data.details?.error)}\n`;
        break;
      }
      case 'test:pass':
        if (data.skip !== undefined && data.skip !== false) yield `# skipped ${where(data)}${typeof data.skip === 'string' ? `: ${data.skip}` : ''}\n`;
        if (data.todo !== undefined && data.todo !== false) yield `# todo ${where(data)}${typeof data.todo === 'string' ? `: ${data.todo}` : ''}\n`;
        break;
      case 'test:diagnostic':
        // The run's closing counts; other diagnostics (tables, notes) are in the full report.
        if (data.nesting === 0 && SUMMARY.test(data.message ?? '')) summary.push(`# ${data.message}\n`);
        break;
      case 'test:stderr':
        stderr.set(data.file ?? '', (stderr.get(data.file ?? '') ?? '') + (data.message ?? ''));
        break;
    }
  }
  for (const file of failed) {
    const text = stderr.get(file);
    if (text) yield `# stderr of ${file ? relative(process.cwd(), file) : 'the run'}:\n${text}${text.endsWith('\n') ? '' : '\n'}`;
  }
  yield* summary;
}

/** An async generator function, so that node:test calls it rather than constructing it. */
export default async function* reporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const choice = process.env['KPROXY_TEST_REPORTER'];
  if (!choice) return yield* quiet(source);
  if (choice === 'tap' || choice === 'dot') return yield* (FULL[choice] as (s: AsyncIterable<TestEvent>) => AsyncGenerator<string>)(source);
  if (choice === 'spec') return yield* Readable.from(source).compose(new spec()) as AsyncIterable<string>;
  throw new Error(`KPROXY_TEST_REPORTER=${choice}: use tap, spec or dot`);
}
