// Command line: kubectl proxy's flags, defaults, help and messages, and process control.
// Parsing produces a plain options object (ProxyFlags); main() sets the process-wide tuning,
// hands the flags to createProxy (proxy.ts), and owns signals and exit codes.

import { setDefaultHighWaterMark } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError, Option } from 'commander';
import { parseAdminAddress } from './admin.js';
import { parseContextList } from './cluster-path.js';
import { clustersKubeconfig, runCommand } from './command-mode.js';
import { applyConfigFile, flagKinds, loadConfigFile, type ConfigFile } from './config-file.js';
import { parseAllowOrigins } from './browser.js';
import { UserError } from './errors.js';
import { HELP } from './help.js';
import { DEFAULT_HOST_ACCEPT_RE, DEFAULT_METHOD_REJECT_RE, DEFAULT_PATH_ACCEPT_RE, DEFAULT_PATH_REJECT_RE } from './filter/filter.js';
import * as log from './log.js';
import {
  DEFAULT_ADDRESS,
  DEFAULT_API_PREFIX,
  DEFAULT_PORT,
  DEFAULT_STATIC_PREFIX,
  normalizePrefix,
  parseGoBool,
  parseGoDuration,
  parsePort,
  parseRequestTimeout,
  UsageError,
  type ProxyFlags,
} from './options.js';
import { explainMain } from './explain.js';
import { createProxy, startupLine, type Running } from './proxy.js';
import { startReloader } from './reload.js';
import { STREAM_HWM } from './upstream.js';
import { isSubcommand, runSubcommand } from './subcommands.js';
import type { CompletionFlag } from './completion.js';
import { versionLine } from './version.js';


const BOOL_FLAGS = new Set(['--disable-filter', '--append-server-path', '--insecure-skip-tls-verify', '--disable-compression', '--upstream-http2', '--read-only', '--all-contexts']);

/** pflag spellings commander does not know: `-p=80` and `--bool=false`. */
export function normalizeArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const short = /^-([A-Za-z])=(.*)$/s.exec(a);
    if (short) {
      out.push('-' + short[1], short[2]!);
      continue;
    }
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && BOOL_FLAGS.has(a.slice(0, eq))) {
      if (parseGoBool(a.slice(0, eq), a.slice(eq + 1))) out.push(a.slice(0, eq));
      // The one flag whose default is true.
      else if (a.slice(0, eq) === '--upstream-http2') out.push('--no-upstream-http2');
      continue;
    }
    out.push(a);
  }
  return out;
}

/** `--bool=false` spellings, which normalizeArgv drops: the command line still gave them. */
function givenFalse(argv: string[]): Set<string> {
  const out = new Set<string>();
  for (const a of argv) {
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && BOOL_FLAGS.has(a.slice(0, eq)) && !parseGoBool(a.slice(0, eq), a.slice(eq + 1))) out.add(a.slice(2, eq));
  }
  return out;
}

function buildCommand(): Command {
  const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];
  return new Command('kproxy')
    .helpOption(false)
    .allowExcessArguments(true)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} })
    .option('-h, --help')
    .option('--version')
    .option('-p, --port <port>', '', String(DEFAULT_PORT))
    .option('--address <address>', '', DEFAULT_ADDRESS)
    .option('--accept-hosts <regexes>', '', DEFAULT_HOST_ACCEPT_RE)
    .option('--accept-paths <regexes>', '', DEFAULT_PATH_ACCEPT_RE)
    .option('--reject-paths <regexes>', '', DEFAULT_PATH_REJECT_RE)
    .option('--reject-methods <regexes>', '', DEFAULT_METHOD_REJECT_RE)
    .option('--api-prefix <prefix>', '', DEFAULT_API_PREFIX)
    .option('-w, --www <dir>', '', '')
    .option('-P, --www-prefix <prefix>', '', DEFAULT_STATIC_PREFIX)
    .option('-u, --unix-socket <path>', '', '')
    .option('--disable-filter')
    .option('--keepalive <duration>', '', '0s')
    .option('--append-server-path')
    .option('--kubeconfig <path>')
    .option('--context <name>')
    .option('--cluster <name>')
    .option('--user <name>')
    .option('-s, --server <url>')
    .option('--token <token>')
    .option('--certificate-authority <path>')
    .option('--client-certificate <path>')
    .option('--client-key <path>')
    .option('--insecure-skip-tls-verify')
    .option('--tls-server-name <name>')
    .option('--username <name>')
    .option('--password <password>')
    .option('--as <user>')
    .option('--as-group <group>', '', collect)
    .option('--as-uid <uid>')
    .option('--disable-compression')
    .option('--request-timeout <duration>', '', '0')
    .addOption(new Option('-n, --namespace <ns>').hideHelp())
    .option('-o, --output <format>', '', 'text')
    .option('--access-log <file>', '', '')
    .option('--access-log-format <format>', '', 'text')
    .option('--upstream-http2')
    // Its default is true: --upstream-http2=false arrives as this (normalizeArgv).
    .addOption(new Option('--no-upstream-http2').hideHelp())
    .option('--allow-origins <origins>', '', '')
    .option('--auth-token <auto|file>', '', '')
    .option('--read-only')
    .option('--allow <rule>', '', collect)
    .option('--deny <rule>', '', collect)
    .option('--rules-file <file>', '', '')
    .option('-v, --v <level>', '', '0')
    // ---- several clusters, the admin listener, the config file ----
    .option('--contexts <names>', '', '')
    .option('--all-contexts')
    .option('--admin-address <host:port>', '', '')
    .option('--config <file>', '', '');
}

/** Flags that take one of a fixed set of values (checked in parseArgs, listed in help and completion). */
const CHOICES = { '--output': ['text', 'json'], '--access-log-format': ['text', 'json'] } as const;

/** Every visible flag, for `kproxy completion`. */
function completionFlags(): CompletionFlag[] {
  return buildCommand()
    .options.filter((o) => !o.hidden && o.long !== undefined)
    .map((o) => ({
      long: o.long!,
      ...(o.short ? { short: o.short } : {}),
      takesValue: o.required || o.optional,
      ...(o.long! in CHOICES ? { values: CHOICES[o.long as keyof typeof CHOICES] } : {}),
    }));
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`invalid ${flag} "${value}": must be one of ${allowed.join(', ')}`);
}

export type ParseResult = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; flags: ProxyFlags; ignored: string[] };

export function parseArgs(argv: string[]): ParseResult {
  const dd = argv.indexOf('--');
  const own = dd === -1 ? argv : argv.slice(0, dd);
  const command = dd === -1 ? [] : argv.slice(dd + 1);
  if (dd !== -1 && command.length === 0) throw new UsageError("no command after --: use kproxy [flags] -- COMMAND [ARGS...] (see 'kproxy --help')");
  const cmd = buildCommand();
  try {
    cmd.parse(normalizeArgv(own), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      throw new UsageError(err.message.replace(/^error: /, '') + " (see 'kproxy --help')");
    }
    throw err;
  }
  const o = cmd.opts<Record<string, string | boolean | string[] | undefined>>();
  if (o.help) return { kind: 'help' };
  if (o.version) return { kind: 'version' };
  // ---- --config (config-file.ts): the file fills in what the command line did not give ----
  let file: ConfigFile | undefined;
  if (o.config) {
    file = loadConfigFile(o.config as string, flagKinds(cmd, new Set(['as-group', 'allow', 'deny'])));
    applyConfigFile(cmd, file, givenFalse(own));
    Object.assign(o, cmd.opts());
  }
  const str = (k: string) => o[k] as string | undefined;
  const verbosity = Number(str('v'));
  if (!Number.isInteger(verbosity) || verbosity < 0) throw new UsageError(`invalid argument "${str('v')}" for "-v, --v" flag: must be a whole number`);
  const flags: ProxyFlags = {
    port: parsePort(str('port')!),
    address: str('address')!,
    acceptHosts: str('acceptHosts')!,
    acceptPaths: str('acceptPaths')!,
    rejectPaths: str('rejectPaths')!,
    rejectMethods: str('rejectMethods')!,
    apiPrefix: normalizePrefix('--api-prefix', str('apiPrefix')!),
    www: str('www')!,
    wwwPrefix: normalizePrefix('--www-prefix', str('wwwPrefix')!),
    unixSocket: str('unixSocket')!,
    disableFilter: o.disableFilter === true,
    keepaliveMs: parseGoDuration('--keepalive', str('keepalive')!),
    appendServerPath: o.appendServerPath === true,
    requestTimeoutMs: parseRequestTimeout(str('requestTimeout')!),
    verbosity,
    output: oneOf('--output', str('output')!, CHOICES['--output']),
    accessLog: str('accessLog')!,
    accessLogFormat: oneOf('--access-log-format', str('accessLogFormat')!, CHOICES['--access-log-format']),
    upstreamHttp2: o.upstreamHttp2 !== false,
    allowOrigins: [...parseAllowOrigins(str('allowOrigins')!).allowOrigins],
    authToken: str('authToken')!,
    readOnly: o.readOnly === true,
    allow: (o.allow as string[] | undefined) ?? [],
    deny: (o.deny as string[] | undefined) ?? [],
    rulesFile: str('rulesFile')!,
    portGiven: cmd.getOptionValueSource('port') === 'cli' || cmd.getOptionValueSource('port') === 'config',
    config: {
      kubeconfig: str('kubeconfig'),
      context: str('context'),
      cluster: str('cluster'),
      user: str('user'),
      server: str('server'),
      token: str('token'),
      certificateAuthority: str('certificateAuthority'),
      clientCertificate: str('clientCertificate'),
      clientKey: str('clientKey'),
      insecureSkipTLSVerify: o.insecureSkipTlsVerify === true ? true : undefined,
      tlsServerName: str('tlsServerName'),
      username: str('username'),
      password: str('password'),
      as: str('as'),
      asGroups: o.asGroup as string[] | undefined,
      asUid: str('asUid'),
      disableCompression: o.disableCompression === true ? true : undefined,
    },
    command,
    contexts: fileContexts(cmd, file) ?? parseContextList(str('contexts')!),
    allContexts: o.allContexts === true,
    contextRules: file?.contexts?.rules ?? {},
    adminAddress: str('adminAddress')!,
    configFile: str('config')!,
  };
  if (flags.adminAddress !== '') parseAdminAddress(flags.adminAddress);
  // Command mode wants a free port unless one was asked for.
  if (command.length > 0 && !flags.portGiven && flags.unixSocket === '') flags.port = 0;
  // kubectl compares with the default, not with "was the flag given".
  if (flags.unixSocket !== '' && flags.port !== DEFAULT_PORT) throw new UsageError('cannot set --unix-socket and --port at the same time');
  if (flags.www !== '' && flags.wwwPrefix === flags.apiPrefix) {
    throw new UsageError(`--www-prefix and --api-prefix are both "${flags.apiPrefix}": static files and the API need different prefixes`);
  }
  return { kind: 'run', flags, ignored: cmd.args };
}

/** The config file's `contexts` names, unless the command line chose the contexts itself. */
function fileContexts(cmd: Command, file: ConfigFile | undefined): string[] | undefined {
  if (!file?.contexts) return undefined;
  if (cmd.getOptionValueSource('contexts') === 'cli' || cmd.getOptionValueSource('allContexts') === 'cli') return undefined;
  return file.contexts.names;
}

/** The command line read again for a reload: the config file is read anew. */
function reparse(argv: string[]): ProxyFlags {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new UsageError('the command line no longer starts a proxy');
  return r.flags;
}

function fail(message: string): never {
  // kubectl prints its configuration errors without the `error: ` prefix.
  process.stderr.write(message.startsWith('Error in configuration:') ? `${message}\n` : `error: ${message}\n`);
  process.exit(1);
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'explain') return explainMain(argv.slice(1), parseArgs);
  if (isSubcommand(argv[0])) {
    try {
      process.stdout.write(runSubcommand(argv, { help: HELP, flags: completionFlags(), env: process.env }));
    } catch (err) {
      if (err instanceof UserError) fail(err.message);
      throw err;
    }
    return;
  }
  let parsed: ParseResult;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    if (err instanceof UserError) fail(err.message);
    throw err;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(versionLine());
    return;
  }
  if (parsed.ignored.length > 0) log.warn(`ignoring arguments: ${parsed.ignored.join(' ')} (use -- before a command)`);
  // WebAssembly (undici's HTTP parser, RE2) stays on V8's baseline compiler. The optimising
  // tier compiles llhttp on a worker thread with ~35 MB of scratch memory, of which glibc keeps
  // ~10 MB resident for good; `npm run bench` measured no throughput difference.
  setFlagsFromString('--liftoff-only');
  // The young generation stays at its initial size instead of doubling under load (to 3 x 16 MB,
  // which V8 keeps once grown): after storms of dropped watches RSS stayed ~20 MB lower, for a
  // few more scavenges (BENCHMARKS.md). Read by V8 each time it would grow the space.
  setFlagsFromString('--semi-space-growth-factor=1');
  // Client sockets and responses get the larger buffers too: fewer pause/resume turns per MiB.
  setDefaultHighWaterMark(false, STREAM_HWM);
  let running: Running;
  try {
    running = await createProxy(parsed.flags);
  } catch (err) {
    if (err instanceof UserError) fail(err.message);
    throw err;
  }
  const flags = parsed.flags;
  setImmediate(() => running.warm());
  if (flags.command.length > 0) {
    // The command owns stdout; the start-up line would end up in its output.
    if (flags.output === 'json') process.stderr.write(startupLine(running, 'json'));
    log.info(1, `Starting to serve on ${running.address}`);
    const served = running.served();
    const kubeconfig = served.clusters && running.url !== undefined ? clustersKubeconfig(running.url, running.token?.value, [...served.clusters.keys()], served.currentContext) : undefined;
    const { status } = await runCommand(flags.command, running.url, process.env, running.token?.value, kubeconfig);
    await running.close(0);
    process.exit(status);
  }
  process.stdout.write(startupLine(running, flags.output));
  // ---- --config: live reload (reload.ts) on SIGHUP and on changes of the files in use ----
  const reloader = flags.configFile !== '' ? startReloader(flags, () => reparse(argv), { reload: (parse) => running.reload(parse), files: () => running.served().files }) : undefined;
  if (reloader) process.on('SIGHUP', () => void reloader.reload('SIGHUP'));
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(signal === 'SIGINT' ? 130 : 143);
    stopping = true;
    reloader?.close();
    running.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
