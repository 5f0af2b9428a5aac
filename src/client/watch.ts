// Follow a daemon's registry over HTTP: its /v1/watch Server-Sent Events as
// an async iterator of events. A dropped connection is resumed with
// Last-Event-ID, so nothing the daemon still remembers is missed; when it no
// longer remembers, a "reset" event says the caller should reload.
import type { WatchEvent } from "../api/shapes.js";

export type { WatchEvent };
/** What the stream yields: registry events, plus "reset" when events were missed for good. */
export type WatchItem = WatchEvent | { event: "reset"; id: number };

export interface WatchOptions {
  /** The daemon's --http address, e.g. "http://127.0.0.1:8080". */
  url: string;
  /** Bearer token, when reads from here need it. */
  token?: string;
  /** Only this service type's instance and ring events (host events always come). */
  type?: string;
  /** Resume after this event id. */
  lastEventId?: number;
  signal?: AbortSignal;
  /** Wait before reconnecting, ms (default 1000). */
  retryMs?: number;
  /** Called each time the stream is (re)established. */
  onConnect?: () => void;
}

/** Parse one SSE frame ("id:", "event:", "data:" lines). */
function parseFrame(frame: string): { id?: number; event?: string; data?: string } {
  const out: { id?: number; event?: string; data?: string } = {};
  for (const line of frame.split("\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue; // a comment (keep-alive) or nothing
    const [field, value] = [line.slice(0, i), line.slice(i + 1).replace(/^ /, "")];
    if (field === "id") out.id = Number(value);
    else if (field === "event") out.event = value;
    else if (field === "data") out.data = out.data === undefined ? value : `${out.data}\n${value}`;
  }
  return out;
}

export async function* watch(options: WatchOptions): AsyncGenerator<WatchItem> {
  let last = options.lastEventId;
  for (;;) {
    const url = new URL("/v1/watch", options.url);
    if (options.type) url.searchParams.set("type", options.type);
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (last !== undefined) headers["last-event-id"] = String(last);
    try {
      const res = await fetch(url, { headers, ...(options.signal ? { signal: options.signal } : {}) });
      if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
      options.onConnect?.();
      const decoder = new TextDecoder();
      let buffered = "";
      for await (const chunk of res.body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const frame = parseFrame(buffered.slice(0, end));
          buffered = buffered.slice(end + 2);
          if (frame.id !== undefined) last = frame.id;
          if (frame.event === "reset") yield { event: "reset", id: frame.id ?? 0 };
          else if (frame.data !== undefined && frame.event !== "hello") yield JSON.parse(frame.data) as WatchEvent;
        }
      }
    } catch (e) {
      if (options.signal?.aborted) return;
      if (e instanceof Error && /HTTP 4\d\d/.test(e.message)) throw e; // refused: retrying will not help
    }
    if (options.signal?.aborted) return;
    await new Promise((r) => setTimeout(r, options.retryMs ?? 1000));
  }
}
