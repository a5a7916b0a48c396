// `kproxy explain [flags] METHOD PATH [--host H] [--origin O]`: what the proxy started with the
// same flags would do with one request, and why, without listening or reading a kubeconfig.
// The decision is admit()'s own; the lines before it show each check's verdict on its own, so a
// refusal can be traced to the flag that caused it. Exit 0 when the request would be forwarded
// (or served from --www), 2 when kproxy would answer it itself, 1 for bad flags or rules.

import { admit, type AdmitOptions, type RequestHead } from './admit.js';
import { crossOriginRefusal } from './browser.js';
import { UserError } from './errors.js';
import { compileFilterRules, decide, extractHost, hostAccepted } from './filter/filter.js';
import { UsageError, type ProxyFlags } from './options.js';
import { parseTarget, route, type Routed } from './route.js';
import { requestInfo } from './requestinfo.js';
import { loadRules } from './rules/load.js';
import { checkRequest } from './rules/rules.js';

export const EXPLAIN_HELP = `Shows how kproxy, started with the same flags, would handle one request: the path as the API
server reads it (verb, API group, version, namespace, resource, subresource, name), the verdict
of each check, and the decision. Nothing is started and no kubeconfig or credential is read.

Usage:
  kproxy explain [flags] METHOD PATH [--host=HOST] [--origin=ORIGIN]

Examples:
  kproxy explain --read-only POST /api/v1/namespaces/default/pods/web/exec
  kproxy explain --allow 'get,list,watch pods -n default' GET '/api/v1/namespaces/default/pods?watch=1'

Exit status: 0 forwarded (or served from --www), 2 answered by kproxy itself (refused, 400,
404, redirect), 1 bad flags or rules.
`;

export interface ExplainRequest {
  method: string;
  /** The request target as a client would send it. */
  target: string;
  /** Host header; default localhost:PORT. */
  host: string;
  /** Origin header, if any. */
  origin?: string;
}

/** What every check line reads. */
interface Context {
  flags: ProxyFlags;
  opts: AdmitOptions;
  req: ExplainRequest;
  routed: Routed;
  host: string;
}

type Check = (c: Context) => [name: string, verdict: string];

function browserCheck(c: Context): [string, string] {
  const { opts, req } = c;
  if (!opts.browser) return ['browser', 'off (--disable-filter)'];
  if (req.origin === undefined) return ['browser', 'not a browser request (no Origin)'];
  const refusal = crossOriginRefusal(req.method, ['Origin', req.origin], c.routed.authority ?? req.host, opts.browser);
  return ['browser', refusal ? `reject (${refusal.rule})` : 'accept (same origin or --allow-origins)'];
}

function filterCheck(c: Context): [string, string] {
  const { opts, routed: r } = c;
  if (!opts.filter) return ['filter', 'off (--disable-filter)'];
  if (r.kind === 'static') return ['filter', hostAccepted(opts.filter, c.host) ? `accept (--accept-hosts matches ${c.host})` : 'reject (no --accept-hosts pattern matched)'];
  if (r.kind !== 'api') return ['filter', 'not reached'];
  const d = decide(opts.filter, c.req.method, r.path, c.host);
  return ['filter', `${d.accept ? 'accept' : 'reject'} (${d.rule})`];
}

function rulesCheck(c: Context): [string, string] {
  const { opts, routed: r } = c;
  if (!opts.rules) return ['rules', 'none set'];
  if (r.kind !== 'api') return ['rules', 'not reached'];
  const d = checkRequest(opts.rules, c.req.method, r.path, parseTarget(c.req.target)?.rawQuery ?? '');
  return ['rules', `${d.allow ? 'accept' : 'reject'} (${d.rule})`];
}

/** Admission's checks, in its order: a new check is one more entry. */
const CHECKS: Check[] = [browserCheck, filterCheck, rulesCheck];

function admitOptions(flags: ProxyFlags): AdmitOptions {
  return {
    mounts: { apiPrefix: flags.apiPrefix, staticPrefix: flags.www !== '' ? flags.wwwPrefix : undefined },
    filter: flags.disableFilter ? undefined : compileFilterRules(flags),
    browser: flags.disableFilter ? undefined : { allowOrigins: new Set(flags.allowOrigins) },
    rules: loadRules(flags),
  };
}

function describeRoute(r: Routed): string {
  switch (r.kind) {
    case 'api':
      return `API, path ${JSON.stringify(r.path)}, sent upstream as ${r.target}`;
    case 'static':
      return `static file ${r.path}`;
    case 'redirect':
      return `redirect to ${r.location}`;
    case 'bad-request':
      return `400: ${r.reason}`;
    default:
      return r.kind;
  }
}

export function explain(flags: ProxyFlags, req: ExplainRequest): { text: string; code: number } {
  const opts = admitOptions(flags);
  const rawHeaders = ['Host', req.host, ...(req.origin !== undefined ? ['Origin', req.origin] : [])];
  const head: RequestHead = { method: req.method, url: req.target, rawHeaders, httpVersion: '1.1' };
  const routed = route(req.method, req.target, opts.mounts);
  const lines: Array<[string, string]> = [
    ['request', `${req.method} ${req.target}`],
    ['host', req.host],
    ['origin', req.origin ?? '(none)'],
    ['route', describeRoute(routed)],
  ];
  if (routed.kind === 'api') {
    const info = requestInfo(req.method, routed.path, parseTarget(req.target)?.rawQuery ?? '');
    lines.push(['reads as', info.isResourceRequest ? 'resource request' : `non-resource URL ${info.path}`]);
    const field = (k: string, v: string) => lines.push([`  ${k}`, v === '' ? '-' : v]);
    field('verb', info.verb);
    if (info.isResourceRequest) {
      field('apiGroup', info.apiGroup === '' ? '"" (core)' : info.apiGroup);
      field('apiVersion', info.apiVersion);
      field('namespace', info.namespace);
      field('resource', info.resource);
      field('subresource', info.subresource);
      field('name', info.name);
      if (info.fieldSelector !== '') field('fieldSelector', info.fieldSelector);
    }
    if (info.error !== undefined) field('error', info.error);
  }
  const ctx: Context = { flags, opts, req, routed, host: extractHost(routed.authority ?? req.host) };
  for (const check of CHECKS) lines.push(check(ctx));
  const a = admit(head, opts);
  const forwarded = a.kind !== 'answer';
  const outcome = a.kind === 'answer' ? `answered by kproxy: ${a.answer.status}` : a.kind === 'static' ? `served from --www: ${a.path}` : `forwarded as ${a.target}`;
  lines.push(['decision', `${outcome} (${a.verdict.decision}: ${a.verdict.rule})`]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  return { text: lines.map(([k, v]) => `${(k + ':').padEnd(width)}${v}\n`).join(''), code: forwarded ? 0 : 2 };
}

/** Takes --host and --origin (explain's own flags) out of argv. */
export function takeExplainFlags(argv: string[]): { rest: string[]; host?: string; origin?: string } {
  const rest: string[] = [];
  const found: { host?: string; origin?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const m = /^--(host|origin)(?:=(.*))?$/s.exec(argv[i]!);
    if (!m) {
      rest.push(argv[i]!);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`flag needs an argument: --${m[1]}`);
    found[m[1] as 'host' | 'origin'] = value;
  }
  return { rest, ...found };
}

type ParseArgs = (argv: string[]) => { kind: 'help' } | { kind: 'version' } | { kind: 'run'; flags: ProxyFlags; ignored: string[] };

/** The `explain` command; `parseArgs` is cli.ts's, handed in so that the import graph stays one-way. */
export function explainMain(argv: string[], parseArgs: ParseArgs): void {
  try {
    const { rest, host, origin } = takeExplainFlags(argv);
    const parsed = parseArgs(rest);
    if (parsed.kind !== 'run') {
      process.stdout.write(EXPLAIN_HELP);
      return;
    }
    const [method, target, ...extra] = parsed.ignored;
    if (method === undefined || target === undefined || extra.length > 0 || parsed.flags.command.length > 0) {
      throw new UsageError("explain takes METHOD PATH, such as: kproxy explain GET /api/v1/pods (see 'kproxy explain --help')");
    }
    const r = explain(parsed.flags, { method: method.toUpperCase(), target, host: host ?? `localhost:${parsed.flags.port}`, origin });
    process.stdout.write(r.text);
    process.exitCode = r.code;
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 1;
  }
}
