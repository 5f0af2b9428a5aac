// The last line between a bug and a dead daemon. Every entry point that the
// event loop calls (a timer, a socket's message or data event, an HTTP
// request, a store watch) goes through `guarded`: a throw or a rejected
// promise there is logged, counted as ringdns_internal_errors_total and the
// daemon goes on serving. test/architecture.test.ts keeps raw timers out of
// the daemon's code.

export type InternalErrorSink = (where: string, err: unknown) => void;

let count = 0;
let sink: InternalErrorSink = (where, err) => {
  // until the daemon installs its logger (tests, the library): stderr, never a throw
  try {
    process.stderr.write(
      `ringdns internal error in ${where}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  } catch {
    /* nothing left to tell */
  }
};

/** Where internal errors are reported (the daemon's logger). Returns the previous sink. */
export function onInternalError(next: InternalErrorSink): InternalErrorSink {
  const previous = sink;
  sink = next;
  return previous;
}

/** Internal errors caught since the process started. */
export function internalErrorCount(): number {
  return count;
}

/** Report a fault caught at an entry point: counted, then handed to the sink (which must not throw). */
export function reportInternalError(where: string, err: unknown): void {
  count++;
  try {
    sink(where, err);
  } catch {
    /* a broken sink must not turn a caught fault into a crash */
  }
}

/**
 * `fn` as an event-loop entry point: what it throws, or the promise it
 * returns rejects with, is reported as an internal error in `where` instead
 * of reaching the process.
 */
export function guarded<A extends unknown[]>(where: string, fn: (...args: A) => unknown): (...args: A) => void {
  return (...args: A) => {
    try {
      const r = fn(...args);
      if (r instanceof Promise) r.catch((err: unknown) => reportInternalError(where, err));
    } catch (err) {
      reportInternalError(where, err);
    }
  };
}

/** setTimeout whose callback is guarded; unref'd unless `keepAlive`, so a pending timer never holds the process. */
export function later(where: string, ms: number, fn: () => unknown, keepAlive = false): NodeJS.Timeout {
  const t = setTimeout(guarded(where, fn), ms);
  if (!keepAlive) t.unref();
  return t;
}

/** setInterval whose callback is guarded (unref'd unless `keepAlive`). */
export function every(where: string, ms: number, fn: () => unknown, keepAlive = false): NodeJS.Timeout {
  const t = setInterval(guarded(where, fn), ms);
  if (!keepAlive) t.unref();
  return t;
}

/** A promise that resolves after `ms` (unref'd): waiting, not an entry point. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
