// Command line: kubectl proxy's flags, defaults, help and messages, and process control.
// Parsing produces a plain options object (ProxyFlags); main() sets the process-wide tuning,
// hands the flags to createProxy (proxy.ts), and owns signals and exit codes.

import { setDefaultHighWaterMark } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError, Option } from 'commander';
import { runCommand } from './command-mode.js';
import { UserError } from './errors.js';
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
import { createProxy, startupLine, type Running } from './proxy.js';
import { STREAM_HWM } from './upstream.js';
import { VERSION } from './version.js';

const HELP = `Creates a proxy server or application-level gateway between localhost and the Kubernetes API server. It also allows serving static content over specified HTTP path. All incoming data enters through one port and gets forwarded to the remote Kubernetes API server port, except for the path matching the static content path.

Examples:
  # To proxy all of the Kubernetes API and nothing else
  kproxy --api-prefix=/
  
  # To proxy only part of the Kubernetes API and also some static files
  # You can get pods info with 'curl localhost:8001/api/v1/pods'
  kproxy --www=/my/files --www-prefix=/static/ --api-prefix=/api/
  
  # To proxy the entire Kubernetes API at a different root
  # You can get pods info with 'curl localhost:8001/custom/api/v1/pods'
  kproxy --api-prefix=/custom/
  
  # Run a proxy to the Kubernetes API server on port 8011, serving static content from ./local/www/
  kproxy --port=8011 --www=./local/www/
  
  # Run a proxy to the Kubernetes API server on an arbitrary local port
  # The chosen port for the server will be output to stdout
  kproxy --port=0
  
  # Run a proxy to the Kubernetes API server, changing the API prefix to k8s-api
  # This makes e.g. the pods API available at localhost:8001/k8s-api/v1/pods/
  kproxy --api-prefix=/k8s-api

Options:
    --accept-hosts='^localhost$,^127\\.0\\.0\\.1$,^\\[::1\\]$':
	Regular expression for hosts that the proxy should accept. An IPv6 Host with a port, such as [::1]:8001, is matched with and without its brackets.

    --accept-paths='^.*':
	Regular expression for paths that the proxy should accept.

    --address='127.0.0.1':
	The IP address on which to serve on. IPv6 addresses may be given with or without brackets.

    --api-prefix='/':
	Prefix to serve the proxied API under.

    --append-server-path=false:
	If true, enables automatic path appending of the kube context server path to each request.

    --disable-filter=false:
	If true, disable request filtering in the proxy. This is dangerous, and can leave you vulnerable to XSRF attacks, when used with an accessible port.

    --keepalive=0s:
	keepalive specifies the keep-alive period for an active network connection. 0 means the default (15s); a negative value disables keepalive.

    -p, --port=8001:
	The port on which to run the proxy. Set to 0 to pick a random port.

    --reject-methods='^$':
	Regular expression for HTTP methods that the proxy should reject (example --reject-methods='POST,PUT,PATCH'). 

    --reject-paths='^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach':
	Regular expression for paths that the proxy should reject. Paths specified here will be rejected even accepted by --accept-paths.

    -u, --unix-socket='':
	Unix socket on which to run the proxy.

    -w, --www='':
	Also serve static files from the given directory under the specified prefix.

    -P, --www-prefix='/static/':
	Prefix to serve static files under, if static file directory is specified.

Kubeconfig and connection options (as in kubectl):
    --kubeconfig, --context, --cluster, --user, -s/--server, --token,
    --certificate-authority, --client-certificate, --client-key, --insecure-skip-tls-verify,
    --tls-server-name, --username, --password, --as, --as-group (repeatable), --as-uid,
    --disable-compression, --request-timeout (accepted; as in kubectl it does not limit proxied
    requests), -v/--v (3: log every filter decision).

    A client's own Authorization or Impersonate-User header is forwarded as sent and replaces
    the kubeconfig credential or impersonation for that request, as with kubectl proxy.

kproxy's own options:
    -o, --output=text|json    Start-up line: kubectl's text, or one JSON object (address, port or
                              socket, url, pid).
    --access-log=FILE|-       One line per request (- is stderr); off by default.
    --access-log-format=text|json
    --upstream-http2=true     HTTP/2 to an https API server that offers it (ALPN), as kubectl:
                              watches and log follows share multiplexed connections. false (or
                              DISABLE_HTTP2=1) forces HTTP/1.1. HTTP2_READ_IDLE_TIMEOUT_SECONDS
                              (30, 0 = off) and HTTP2_PING_TIMEOUT_SECONDS (15) find dead ones.
    -- COMMAND [ARGS...]      Run COMMAND with KPROXY_URL and a KUBECONFIG that point at the
                              proxy; exit with its status.

Usage:
  kproxy [--port=PORT] [--www=static-dir] [--www-prefix=prefix] [--api-prefix=prefix] [options]
  kproxy --version
`;

const BOOL_FLAGS = new Set(['--disable-filter', '--append-server-path', '--insecure-skip-tls-verify', '--disable-compression', '--upstream-http2']);

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
    .option('--no-upstream-http2')
    .option('-v, --v <level>', '', '0');
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
    output: oneOf('--output', str('output')!, ['text', 'json'] as const),
    accessLog: str('accessLog')!,
    accessLogFormat: oneOf('--access-log-format', str('accessLogFormat')!, ['text', 'json'] as const),
    upstreamHttp2: o.upstreamHttp2 !== false,
    portGiven: cmd.getOptionValueSource('port') === 'cli',
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
  };
  // Command mode wants a free port unless one was asked for.
  if (command.length > 0 && !flags.portGiven && flags.unixSocket === '') flags.port = 0;
  // kubectl compares with the default, not with "was the flag given".
  if (flags.unixSocket !== '' && flags.port !== DEFAULT_PORT) throw new UsageError('cannot set --unix-socket and --port at the same time');
  if (flags.www !== '' && flags.wwwPrefix === flags.apiPrefix) {
    throw new UsageError(`--www-prefix and --api-prefix are both "${flags.apiPrefix}": static files and the API need different prefixes`);
  }
  return { kind: 'run', flags, ignored: cmd.args };
}

function fail(message: string): never {
  // kubectl prints its configuration errors without the `error: ` prefix.
  process.stderr.write(message.startsWith('Error in configuration:') ? `${message}\n` : `error: ${message}\n`);
  process.exit(1);
}

export async function main(argv: string[]): Promise<void> {
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
    process.stdout.write(`kproxy v${VERSION}\n`);
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
    const { status } = await runCommand(flags.command, running.url, process.env);
    await running.close(0);
    process.exit(status);
  }
  process.stdout.write(startupLine(running, flags.output));
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(signal === 'SIGINT' ? 130 : 143);
    stopping = true;
    running.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
