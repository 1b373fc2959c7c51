/**
 * The transport the server runs on, as minimal structural interfaces. Node's `net.Server` / `net.Socket`
 * fit them, and so does any `net`-compatible face (Postern's socket library): the server never imports a
 * transport, it only listens for `'connection'` and talks to the Duplex it is handed.
 */

/**
 * One accepted connection: a byte Duplex with the few `net.Socket` extras the server uses.
 *
 * Contract the server relies on: `'data'` delivers received bytes in order; `'end'` means the peer sent
 * its FIN (the socket stays writable); `'close'` comes once, after which nothing else is emitted;
 * `write` returns false when the send buffer is above its high-water mark and `'drain'` follows;
 * `pause`/`resume` stop and restart `'data'`.
 */
export interface HttpTransportSocket {
  /** The peer's address (used for rate limiting and `req.remoteAddress`); may be undefined once closed. */
  readonly remoteAddress?: string | undefined;
  /** The peer's port, if known. */
  readonly remotePort?: number | undefined;
  /** True once the socket was destroyed. */
  readonly destroyed?: boolean;
  /** Queues bytes for sending; false means "wait for `'drain'`". */
  write(chunk: Uint8Array | string): boolean;
  /**
   * True when the socket copies what it sends: a chunk whose `write` returned true, or whose `'drain'`
   * followed, is no longer referenced and may be reused by the writer. Absent/false: the socket may
   * keep the chunk until it is on the wire (as Node's sockets do).
   */
  readonly copiesWrites?: boolean;
  /** Sends FIN after the queued bytes; the socket stays readable. */
  end(): unknown;
  /** Closes at once, dropping queued bytes. */
  destroy(error?: Error): unknown;
  /** Stops `'data'` events. */
  pause(): unknown;
  /** Restarts `'data'` events. */
  resume(): unknown;
  /** Disables Nagle's algorithm (optional). */
  setNoDelay?(noDelay?: boolean): unknown;
  /** Batches the writes that follow until {@link HttpTransportSocket.uncork} (optional). */
  cork?(): void;
  /** Flushes writes batched since {@link HttpTransportSocket.cork} (optional). */
  uncork?(): void;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end' | 'close' | 'drain', listener: () => void): unknown;
}

/** A listener: Node's `net.Server` or any object that emits `'connection'` with a {@link HttpTransportSocket}. */
export interface HttpTransportServer {
  on(event: 'connection', listener: (socket: HttpTransportSocket) => void): unknown;
  /** Removes a listener added with `on` (so the HTTP server can detach). */
  off?(event: 'connection', listener: (socket: HttpTransportSocket) => void): unknown;
}
