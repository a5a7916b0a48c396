// `kproxy --help`: kubectl proxy's help text, flag for flag, then kproxy's own options, rules,
// -- mode, exit codes and commands. Kept apart from the parser so cli.ts reads as code; the
// tests check that every flag the parser knows is documented here.

export const HELP = `Creates a proxy server or application-level gateway between localhost and the Kubernetes API server. It also allows serving static content over specified HTTP path. All incoming data enters through one port and gets forwarded to the remote Kubernetes API server port, except for the path matching the static content path.

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
    -o, --output=text|json    Start-up line: text is kubectl's "Starting to serve on ADDRESS"; json
                              is one object (address, host, port, url, pid; socket for a unix socket).
    --access-log=FILE|-       One line per request (- is stderr); off by default.
    --access-log-format=text|json
                              text: time method "path" status bytes duration decision "rule";
                              json: the same fields as one object per line.
    --upstream-http2=true     HTTP/2 to an https API server that offers it (ALPN), as kubectl:
                              watches and log follows share multiplexed connections. false (or
                              DISABLE_HTTP2=1) forces HTTP/1.1. HTTP2_READ_IDLE_TIMEOUT_SECONDS
                              (30, 0 = off) and HTTP2_PING_TIMEOUT_SECONDS (15) find dead ones.
    --allow-origins=ORIGINS   Comma-separated origins (http://localhost:3000) whose web pages may
                              use the proxy. Browser requests from any other origin (WebSockets,
                              form posts, fetches) are refused with 403; non-browser clients and
                              pasted links are not affected. --disable-filter turns the check off.
    --auth-token=auto|FILE    Every client must send Authorization: Bearer <token> (checked, then
                              replaced by the kubeconfig credential; client Impersonate-* headers
                              are dropped). auto makes one and prints it; FILE holds one. -- mode
                              passes it to the command in its KUBECONFIG and KPROXY_TOKEN.
    -- COMMAND [ARGS...]      Run COMMAND with KPROXY_URL and a KUBECONFIG that point at the
                              proxy; exit with its status.
    --contexts=A,B            Serve these kubeconfig contexts at once, each under
                              /clusters/<context>/ (the name URL-escaped) with its own server,
                              credentials and pool; GET /clusters lists them. -- mode gets one
                              context per served cluster.
    --all-contexts=false      If true, serve every context of the kubeconfig that way.
    --admin-address=HOST:PORT Serve /healthz, /readyz and /metrics (Prometheus) there; off by
                              default.
    --config=FILE             kproxy's YAML configuration: any flag by its long name, contexts
                              with their own rules. Flags given on the command line win. SIGHUP
                              or a change of FILE or of the kubeconfig reloads it.

Rules, on the request as the API server reads it (beside the regular expressions above; a
request must pass both; 403 when refused):
    --read-only=false         If true, only get, list and watch; never exec, attach,
                              portforward or proxy (pods, services, nodes), whatever the method.
    --allow='RULE'            Repeatable; with any allow rule, a request must match one (the
                              discovery URLs stay readable). RULE is
                              VERBS RESOURCES [NAMES] [-n NAMESPACES], each a comma list:
                              'get,list,watch pods,deployments.apps -n default',
                              'get pods/log', 'get /healthz,/version'; ';' separates rules.
    --deny='RULE'             Repeatable; wins over every allow rule: '* secrets'.
    --rules-file=FILE         allow: and deny: lists of RBAC-style rules (verbs, apiGroups,
                              resources, resourceNames, namespaces, nonResourceURLs), in YAML.
    Names and namespaces are globs (picomatch). 'kproxy explain --help' shows how a request
    would be decided.

Running a command (kproxy [options] -- COMMAND [ARGS...]):
    The proxy listens on a free port (unless --port or --unix-socket is given); once it accepts
    connections, COMMAND runs with:
      KPROXY_URL    the proxy's URL, with the --api-prefix (e.g. http://127.0.0.1:41234)
      KUBECONFIG    a temporary kubeconfig whose only context, "kproxy", talks to the proxy
                    (removed when COMMAND ends); its only credential is --auth-token's token
      KPROXY_TOKEN  with --auth-token: the token
    stdout belongs to COMMAND: the start-up line goes to stderr, and only with -v=1 or
    --output=json. SIGINT and SIGTERM go to COMMAND first; the proxy stops when COMMAND ends.
    Every input is checked before COMMAND starts.

Exit status:
    0         stopped by SIGINT or SIGTERM, after draining
    1         a bad flag, regex, kubeconfig, certificate, key, file or folder, or the port in
              use: one "error:" line on stderr, before any start line
    N         in -- mode, COMMAND's status; 128+N when signal N ended it; 127 when it cannot
              be found, 126 when it cannot be run
    130, 143  a second SIGINT or SIGTERM while draining

Other commands:
    kproxy help                            This help.
    kproxy version [--output=json|yaml]    kproxy's version, git commit and Node.js version.
    kproxy completion bash|zsh|fish        A shell completion script (flags, values, and the
                                           kubeconfig's context, cluster and user names).
    kproxy explain [flags] METHOD PATH     How a request would be decided (see explain --help).

Usage:
  kproxy [--port=PORT] [--www=static-dir] [--www-prefix=prefix] [--api-prefix=prefix] [options]
  kproxy [options] -- COMMAND [ARGS...]
  kproxy explain [flags] METHOD PATH [--host=HOST] [--origin=ORIGIN]
  kproxy help | version | completion SHELL
  kproxy --help | --version
`;
