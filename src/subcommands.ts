// kproxy's few subcommands besides the proxy itself: `help`, `version` and `completion`. They
// must be recognised as the first argument only, so that a `--` command named "version" still
// runs as a command.

import { homedir } from 'node:os';
import { COMPLETE_COMMAND, completionScript, SHELLS, type CompletionFlag, type NameKind, type Shell } from './completion.js';
import { loadKubeconfig } from './kubeconfig/load.js';
import { UsageError } from './options.js';
import { versionReport, type VersionFormat } from './version.js';

export const SUBCOMMANDS = ['help', 'version', 'completion', COMPLETE_COMMAND] as const;

export function isSubcommand(arg: string | undefined): boolean {
  return (SUBCOMMANDS as readonly string[]).includes(arg ?? '');
}

/**
 * The hidden `__complete contexts|clusters|users [--kubeconfig=F]` the completion scripts call:
 * names one per line, nothing at all when the kubeconfig cannot be read (a completion must
 * never print an error into the command line being typed).
 */
function kubeconfigNames(args: string[], env: NodeJS.ProcessEnv): string {
  const what = args[0] as NameKind;
  if (!['contexts', 'clusters', 'users'].includes(what)) return '';
  const explicit = args.find((a) => a.startsWith('--kubeconfig='))?.slice('--kubeconfig='.length);
  try {
    const { merged } = loadKubeconfig({ ...(explicit ? { explicitPath: explicit } : {}), env, home: homedir() });
    const names = [...merged[what].keys()].sort();
    return names.length > 0 ? names.join('\n') + '\n' : '';
  } catch {
    return '';
  }
}

const VERSION_FORMATS: readonly VersionFormat[] = ['text', 'json', 'yaml'];

function versionFormat(args: string[]): VersionFormat {
  let format = 'text';
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^(?:-o|--output)(?:=(.*))?$/s.exec(a);
    if (m) {
      format = m[1] ?? args[++i] ?? '';
    } else if (/^-o./s.test(a)) {
      format = a.slice(2);
    } else if (a !== '--client') {
      // --client is accepted for scripts written against `kubectl version --client`.
      throw new UsageError(`unknown argument "${a}" for "kproxy version" (usage: kproxy version [--output=json|yaml])`);
    }
  }
  if (!(VERSION_FORMATS as readonly string[]).includes(format)) throw new UsageError(`invalid --output "${format}": must be one of json, yaml`);
  return format as VersionFormat;
}

/** Runs `argv` (which starts with a subcommand) and returns what goes to stdout. */
export function runSubcommand(argv: string[], ctx: { help: string; flags: CompletionFlag[]; env: NodeJS.ProcessEnv }): string {
  const [name, ...args] = argv;
  switch (name) {
    case 'help':
      return ctx.help;
    case COMPLETE_COMMAND:
      return kubeconfigNames(args, ctx.env);
    case 'version':
      return versionReport(versionFormat(args));
    default: {
      const shell = args[0];
      if (args.length !== 1 || !(SHELLS as readonly string[]).includes(shell!)) {
        throw new UsageError(`usage: kproxy completion ${SHELLS.join('|')}`);
      }
      return completionScript(shell as Shell, ctx.flags);
    }
  }
}
