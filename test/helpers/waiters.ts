// Waits that resolve from the code that changes the state (a fixture calls `poke()` after every
// change), never by polling; the timeout is a safety net whose message says what was seen.

interface Waiter {
  check: () => boolean;
  resolve: () => void;
}

export class Waiters {
  private readonly waiting = new Set<Waiter>();

  /** `name` prefixes timeout messages; `seen` describes the recorded state for them. */
  constructor(
    private readonly name: string,
    private readonly seen: () => string,
  ) {}

  poke(): void {
    for (const w of this.waiting) {
      if (w.check()) {
        this.waiting.delete(w);
        w.resolve();
      }
    }
  }

  until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(w);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}; recorded requests:\n${this.seen() || '  (none)'}`));
      }, timeoutMs);
      timer.unref();
      const w: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiting.add(w);
    });
  }
}
