// klog-shaped stderr logging: kubectl users grep for these prefixes, and `-v` levels mean what
// they mean in kubectl (3: one line per filter decision, 6+: upstream request detail).
// Nothing here ever receives a credential: callers pass paths, methods and hosts only.

let verbosity = 0;
let sink: (line: string) => void = (line) => process.stderr.write(line);

export function setVerbosity(level: number): void {
  verbosity = level;
}

export function enabled(level: number): boolean {
  return verbosity >= level;
}

/** Tests capture output without touching process.stderr. */
export function setSink(fn: (line: string) => void): void {
  sink = fn;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function prefix(severity: 'I' | 'W' | 'E'): string {
  const d = new Date();
  const micros = pad(d.getMilliseconds(), 3) + '000';
  return `${severity}${pad(d.getMonth() + 1)}${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(
    d.getSeconds(),
  )}.${micros} ${String(process.pid).padStart(7)} kproxy] `;
}

export function info(level: number, msg: string): void {
  if (verbosity >= level) sink(prefix('I') + msg + '\n');
}

export function warn(msg: string): void {
  sink(prefix('W') + msg + '\n');
}

export function error(msg: string): void {
  sink(prefix('E') + msg + '\n');
}
