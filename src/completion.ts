// `kproxy completion bash|zsh|fish`: shell scripts that complete kproxy's flags, their
// enumerated values, file names where a flag names a file, and the kubeconfig's context,
// cluster and user names for --context, --cluster and --user. The names are asked of kproxy
// itself (`kproxy __complete contexts [--kubeconfig=F]`) each time, as kubectl's cobra scripts
// do, so they follow the kubeconfig as it changes. The flag list comes from the parser (cli.ts),
// so a new flag is completed without touching this file.

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export interface CompletionFlag {
  long: string;
  short?: string;
  takesValue: boolean;
  /** Every value an enumerated flag accepts. */
  values?: readonly string[];
}

/** Flags whose value is a file or folder name. */
const FILE_FLAGS = new Set(['--kubeconfig', '--certificate-authority', '--client-certificate', '--client-key', '--access-log', '--unix-socket', '--www']);
/** Flags whose value is a kubeconfig name, and the list `__complete` prints for them. */
export const NAME_FLAGS: Record<string, NameKind> = { '--context': 'contexts', '--cluster': 'clusters', '--user': 'users' };
export type NameKind = 'contexts' | 'clusters' | 'users';
export const COMPLETE_COMMAND = '__complete';

const SUBCOMMANDS = ['help', 'version', 'completion'];

function kind(f: CompletionFlag): 'file' | 'name' | 'values' | 'any' | 'none' {
  if (!f.takesValue) return 'none';
  if (f.values) return 'values';
  if (FILE_FLAGS.has(f.long)) return 'file';
  if (NAME_FLAGS[f.long]) return 'name';
  return 'any';
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(flags: CompletionFlag[]): string {
  const all = flags.flatMap((f) => [f.long, ...(f.short ? [f.short] : [])]);
  const valueCases = flags
    .filter((f) => f.takesValue)
    .map((f) => {
      const pat = [f.long, ...(f.short ? [f.short] : [])].join('|');
      switch (kind(f)) {
        case 'values':
          return `    ${pat}) COMPREPLY=($(compgen -W ${q(f.values!.join(' '))} -- "$cur")); return 0 ;;`;
        case 'file':
          return `    ${pat}) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;`;
        case 'name':
          return `    ${pat}) COMPREPLY=($(compgen -W "$("\${COMP_WORDS[0]}" ${COMPLETE_COMMAND} ${NAME_FLAGS[f.long]} "\${kc[@]}" 2>/dev/null)" -- "$cur")); return 0 ;;`;
        default:
          return `    ${pat}) return 0 ;;`;
      }
    })
    .join('\n');
  return `# bash completion for kproxy: source <(kproxy completion bash)
_kproxy() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" i flag kc=()
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # After --, the words belong to the command kproxy runs.
  for (( i = 1; i < COMP_CWORD; i++ )); do
    if [[ "\${COMP_WORDS[i]}" == "--" ]]; then
      COMPREPLY=($(compgen -c -- "$cur")); return 0
    fi
  done
  if (( COMP_CWORD == 1 )) && [[ "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W ${q(SUBCOMMANDS.join(' '))} -- "$cur")); return 0
  fi
  if [[ "\${COMP_WORDS[1]}" == completion ]] && (( COMP_CWORD == 2 )); then
    COMPREPLY=($(compgen -W ${q(SHELLS.join(' '))} -- "$cur")); return 0
  fi
  # The kubeconfig on the command line so far decides which names exist.
  for (( i = 1; i < COMP_CWORD; i++ )); do
    case "\${COMP_WORDS[i]}" in
      --kubeconfig) [[ "\${COMP_WORDS[i+1]}" == "=" ]] && kc=("--kubeconfig=\${COMP_WORDS[i+2]}") || kc=("--kubeconfig=\${COMP_WORDS[i+1]}") ;;
      --kubeconfig=*) kc=("\${COMP_WORDS[i]}") ;;
    esac
  done
  # bash splits --flag=value at "=" (COMP_WORDBREAKS): the flag is then one or two words back.
  flag=""
  if [[ "$cur" == "=" ]]; then flag="$prev"; cur=""
  elif [[ "$prev" == "=" ]] && (( COMP_CWORD > 1 )); then flag="\${COMP_WORDS[COMP_CWORD-2]}"
  elif [[ "$cur" == --*=* ]]; then flag="\${cur%%=*}"; cur="\${cur#*=}"
  elif [[ "$prev" == -* ]]; then flag="$prev"
  fi
  case "$flag" in
${valueCases}
  esac
  if [[ "$cur" == -* || -z "$cur" ]]; then
    COMPREPLY=($(compgen -W ${q(all.join(' '))} -- "$cur"))
  fi
  return 0
}
complete -F _kproxy kproxy
`;
}

function zsh(flags: CompletionFlag[]): string {
  const specs = flags.map((f) => {
    const names = f.short ? `{${f.short},${f.long}}` : f.long;
    if (!f.takesValue) return `    ${f.short ? `'(${f.short} ${f.long})'${names}` : names}'[${f.long.slice(2)}]'`;
    const action =
      kind(f) === 'values' ? `(${f.values!.join(' ')})` : kind(f) === 'file' ? '_files' : kind(f) === 'name' ? `{_kproxy_names ${NAME_FLAGS[f.long]}}` : ' ';
    const opt = f.short ? `'(${f.short} ${f.long})'{${f.short},${f.long}=}` : `'${f.long}='`;
    return `    ${opt}'[${f.long.slice(2)}]:${f.long.slice(2)}:${action}'`;
  });
  return `#compdef kproxy
# zsh completion for kproxy: source <(kproxy completion zsh), or save as _kproxy in $fpath.
_kproxy_names() {
  local -a kc names
  kc=(\${(M)words:#--kubeconfig=*})
  names=(\${(f)"$(\${words[1]} ${COMPLETE_COMMAND} $1 $kc 2>/dev/null)"})
  compadd -a names
}
_kproxy() {
  if (( CURRENT == 2 )) && [[ $PREFIX != -* ]]; then
    compadd ${SUBCOMMANDS.join(' ')}
    return
  fi
  if [[ $words[2] == completion ]]; then
    compadd ${SHELLS.join(' ')}
    return
  fi
  _arguments -s -S \\
${specs.join(' \\\n')} \\
    '*::command:_normal'
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _kproxy "$@"; else compdef _kproxy kproxy; fi
`;
}

function fish(flags: CompletionFlag[]): string {
  const lines = flags.map((f) => {
    const opts = [`-l ${f.long.slice(2)}`, ...(f.short ? [`-s ${f.short.slice(1)}`] : [])].join(' ');
    switch (kind(f)) {
      case 'none':
        return `complete -c kproxy -n __kproxy_flags ${opts}`;
      case 'values':
        return `complete -c kproxy -n __kproxy_flags ${opts} -x -a ${q(f.values!.join(' '))}`;
      case 'file':
        return `complete -c kproxy -n __kproxy_flags ${opts} -r -F`;
      case 'name':
        return `complete -c kproxy -n __kproxy_flags ${opts} -x -a '(__kproxy_names ${NAME_FLAGS[f.long]})'`;
      default:
        return `complete -c kproxy -n __kproxy_flags ${opts} -x`;
    }
  });
  return `# fish completion for kproxy: kproxy completion fish | source
function __kproxy_flags
  not contains -- -- (commandline -opc)
end
function __kproxy_names
  set -l words (commandline -opc)
  set -l kc
  for w in $words
    string match -q -- '--kubeconfig=*' $w; and set kc $w
  end
  $words[1] ${COMPLETE_COMMAND} $argv[1] $kc 2>/dev/null
end
complete -c kproxy -f
complete -c kproxy -n __fish_use_subcommand -a ${q(SUBCOMMANDS.join(' '))}
complete -c kproxy -n '__fish_seen_subcommand_from completion' -a ${q(SHELLS.join(' '))}
${lines.join('\n')}
`;
}

export function completionScript(shell: Shell, flags: CompletionFlag[]): string {
  return shell === 'bash' ? bash(flags) : shell === 'zsh' ? zsh(flags) : fish(flags);
}
