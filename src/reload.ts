// Live reload: SIGHUP, or a change of the --config file or of a kubeconfig file in use, re-reads
// the command line, the config file and the kubeconfig, and swaps in what serving.ts builds from
// them: new requests get the new rules, credentials and contexts; watches, log follows and exec
// sessions already open carry on with what they started with. A reload that fails (a broken
// file, a missing context) keeps the running configuration and says why in one line. Flags that
// need a new listener are not changed by a reload: a warning names them.

import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { oneLine } from './errors.js';
import * as log from './log.js';
import type { ProxyFlags } from './options.js';

/** Flags a reload cannot apply: they shape the listeners and what kproxy printed at start-up. */
const RESTART_ONLY: ReadonlyArray<[keyof ProxyFlags, string]> = [
  ['port', 'port'],
  ['address', 'address'],
  ['unixSocket', 'unix-socket'],
  ['apiPrefix', 'api-prefix'],
  ['www', 'www'],
  ['wwwPrefix', 'www-prefix'],
  ['authToken', 'auth-token'],
  ['adminAddress', 'admin-address'],
  ['accessLog', 'access-log'],
  ['accessLogFormat', 'access-log-format'],
  ['output', 'output'],
];

/** The restart-only flags whose value differs between the running and the reloaded flags. */
export function restartOnlyChanges(running: ProxyFlags, next: ProxyFlags): string[] {
  return RESTART_ONLY.filter(([k]) => JSON.stringify(running[k]) !== JSON.stringify(next[k])).map(([, name]) => name);
}

/** Waits this long after a file event for the rest of an editor's writes before reloading. */
export const SETTLE_MS = 100;

export interface ReloadTarget {
  /**
   * Reads the configuration with `parse`, builds it and swaps it in, returning the flags it
   * used; throws (and changes nothing) when it cannot.
   */
  reload(parse: () => ProxyFlags): Promise<ProxyFlags>;
  /** The kubeconfig files the running configuration reads (or would, once they exist). */
  files(): string[];
}

export interface Reloader {
  /** Reloads now (SIGHUP); resolves when done, whatever the outcome. */
  reload(reason: string): Promise<void>;
  close(): void;
}

/**
 * `parse` turns the original command line into flags again (reading the config file anew).
 * The files watched are the config file and the kubeconfig files of the running configuration.
 */
export function startReloader(initial: ProxyFlags, parse: () => ProxyFlags, target: ReloadTarget): Reloader {
  let running = initial;
  let busy: Promise<void> | undefined;
  let again: string | undefined;
  let closed = false;
  const watchers = new Map<string, FSWatcher>();
  /** What each watched file held at the last reload, so that a touch does not reload. */
  const contents = new Map<string, string | undefined>();
  let settle: NodeJS.Timeout | undefined;
  const changed = new Set<string>();

  const read = (file: string): string | undefined => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };

  const watchedFiles = (): string[] => {
    const files = target.files().map((f) => resolve(f));
    if (running.configFile !== '') files.push(resolve(running.configFile));
    return [...new Set(files)];
  };

  /**
   * Watches folders, not files: editors and `kubectl config` replace a file by renaming.
   * `before`: what the files held when the reload that just ended started reading them, so a
   * change written while it ran still differs from the snapshot and reloads once more.
   */
  const rewatch = (before?: ReadonlyMap<string, string | undefined>): void => {
    const files = watchedFiles();
    contents.clear();
    for (const f of files) contents.set(f, before?.has(f) ? before.get(f) : read(f));
    const dirs = new Set(files.map((f) => dirname(f)));
    for (const [d, w] of watchers) {
      if (dirs.has(d)) continue;
      w.close();
      watchers.delete(d);
    }
    for (const d of dirs) {
      if (watchers.has(d)) continue;
      try {
        const w = watch(d, { persistent: false }, (_event, name) => {
          const file = name === null ? undefined : resolve(d, name.toString());
          if (file === undefined || !contents.has(file)) return;
          changed.add(file);
          clearTimeout(settle);
          settle = setTimeout(onSettled, SETTLE_MS);
          settle.unref();
        });
        w.on('error', () => {
          w.close();
          watchers.delete(d);
        });
        watchers.set(d, w);
      } catch {
        // A folder that does not exist yet: SIGHUP still reloads.
      }
    }
  };

  const onSettled = (): void => {
    const really = [...changed].filter((f) => read(f) !== contents.get(f));
    changed.clear();
    if (really.length > 0) void reload(`${really.map((f) => basename(f)).join(', ')} changed`);
  };

  const once = async (reason: string): Promise<void> => {
    const before = new Map(watchedFiles().map((f) => [f, read(f)] as const));
    try {
      const next = await target.reload(parse);
      running = next;
      for (const name of restartOnlyChanges(initial, next)) log.warn(`Reload: --${name} changed; restart kproxy to apply it (still using the value it started with)`);
      log.info(0, `Reloaded the configuration (${reason})`);
    } catch (err) {
      log.error(`Reload failed (${reason}), still serving the previous configuration: ${oneLine((err as Error).message ?? String(err))}`);
    } finally {
      if (!closed) rewatch(before);
    }
  };

  const reload = (reason: string): Promise<void> => {
    if (busy) {
      again = reason;
      return busy;
    }
    busy = once(reason).then(async () => {
      while (again !== undefined && !closed) {
        const r = again;
        again = undefined;
        await once(r);
      }
      busy = undefined;
    });
    return busy;
  };

  rewatch();
  return {
    reload,
    close() {
      closed = true;
      clearTimeout(settle);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
