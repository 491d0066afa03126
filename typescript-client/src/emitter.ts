// A small listener registry. A listener that throws must not break the
// client's message loop, nor be swallowed: its exception is rethrown in a
// fresh task, where the runtime reports it (window.onerror,
// process "uncaughtException") the way EventTarget reports listener errors.

/** Removes the listener it was returned for. */
export type Off = () => void;

type Listener = (...args: never[]) => void;

export class Listeners {
  private readonly map = new Map<string, Set<Listener>>();

  on(name: string, fn: Listener): Off {
    let set = this.map.get(name);
    if (!set) {
      set = new Set();
      this.map.set(name, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.map.get(name) === set) this.map.delete(name);
    };
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  emit(name: string, ...args: unknown[]): void {
    const set = this.map.get(name);
    if (!set) return;
    // A Set iterates live: a listener removed meanwhile is skipped, one
    // added is called too; no copy per event.
    for (const fn of set) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch (error) {
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }

  clear(): void {
    this.map.clear();
  }
}
