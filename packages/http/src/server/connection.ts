/**
 * One HTTP/1.x connection: feeds the socket to the parser, runs the handler for each request, keeps
 * the answers in request order, enforces the timeouts and closes in the order the version asks for.
 *
 * Close order:
 * - the request is HTTP/1.0 without `keep-alive`, or any request says `Connection: close`, or the
 *   server decided to close (parse error, timeout, 417, shutdown): after that response the server sends
 *   its FIN first, keeps reading (and discarding) until the client closes, and destroys the socket
 *   after `lingerMs`;
 * - otherwise (persistent HTTP/1.1, or 1.0 with keep-alive) the server waits for the client's FIN and
 *   closes its side after the last answer; a connection idle for `idleTimeoutMs` is closed by the server.
 * A client FIN never stops the answers to requests already received (half-close): they go out, then
 * the server closes.
 *
 * A connection holds no worker of its own: each request whose head is complete is handed to the
 * server's pool ({@link ConnectionContext.submitRequest}); 417, 501, 429 and the pool's 503 are answered
 * here without one.
 *
 * Deadlines (all on the server's clock): the head's grows with the bytes received (`headerTimeoutMs`
 * plus one second per `headerMinRate` bytes, at most `headerMaxTimeoutMs`); the body's, started when a
 * worker takes the request, likewise with `bodyMinRate` (time held back by an unread body excluded);
 * the idle deadline is `idleTimeoutMs` after the last activity.
 */
import { RequestParser } from '../parser/request-parser.js';
import { HttpParseError } from '../parser/errors.js';
import type { HeaderList } from '../parser/headers.js';
import type { RequestHead } from '../parser/types.js';
import { BodyError, RequestBody, type BodyFeedControl } from './body.js';
import type { HttpClock } from './clock.js';
import type { DeadlineQueue, Deadlined } from './deadlines.js';
import { reasonPhrase } from '../serializer/status.js';
import type { HttpHandler, HttpServerStats, ResolvedOptions } from './options.js';
import type { TokenBucketLimiter } from './rate-limit.js';
import type { ClientTally, OpenEntry } from './open-connections.js';
import { HttpRequest } from './request.js';
import { HttpResponse, type ResponseChannel, type ResponseContext } from './response.js';
import { SpareStack } from './spare-stack.js';
import type { HttpTransportSocket } from './transport.js';

/** A complete request head waiting for (or served by) a worker of the pool. */
export interface RequestJob {
  /** Runs the handler; the job ends (the server's {@link ConnectionContext.requestEnded}) once the response is ended or abandoned. */
  run(): void;
  /** The pool stopped before a worker took the job: answer it without the handler. */
  cancel(): void;
}

/** Most {@link PendingRequest}s kept for reuse. */
const SPARE_JOBS = 64;
/** Jobs whose request ended, ready for the next one (no object per request). */
const spareJobs = new SpareStack<PendingRequest>(SPARE_JOBS);

/**
 * The {@link RequestJob} of one request: the connection, the request and its response. Reused: taken
 * from {@link spareJobs} for a request and put back when the job ends, with its `done` made once per
 * object (no closure per request).
 */
class PendingRequest implements RequestJob {
  private connection: Connection | undefined = undefined;
  private req: HttpRequest | undefined = undefined;
  private res: HttpResponse | undefined = undefined;
  /** Ends the job: registered with the response's settle (called once per response), or called at once. */
  private readonly done = (): void => {
    const connection = this.connection!;
    this.release();
    connection.requestEnded();
  };

  /** A job for `req` (answered by `res`) on `connection`: a spare one when there is one. */
  static take(connection: Connection, req: HttpRequest, res: HttpResponse): PendingRequest {
    const job = spareJobs.take() ?? new PendingRequest();
    job.connection = connection;
    job.req = req;
    job.res = res;
    return job;
  }

  run(): void {
    this.connection!.runHandler(this.req!, this.res!, this.done);
  }

  cancel(): void {
    const connection = this.connection!;
    const res = this.res!;
    this.release();
    connection.cancelRequest(res);
  }

  /** Forgets the request and goes back to the spares (the job ended, or the pool refused it). */
  release(): void {
    this.connection = undefined;
    this.req = undefined;
    this.res = undefined;
    spareJobs.put(this);
  }
}

/** What a connection needs from its server. */
export interface ConnectionContext {
  readonly options: ResolvedOptions;
  readonly clock: HttpClock;
  /** The server's connection deadlines (one clock timer for all connections). */
  readonly deadlines: DeadlineQueue;
  readonly stats: HttpServerStats;
  readonly handler: HttpHandler;
  readonly limiter: TokenBucketLimiter | undefined;
  /** `Retry-After` seconds of a 503 for a full pool. */
  readonly retryAfterSeconds: number;
  /** Hands a request to the worker pool; false when the pool's queue is full (the connection answers 503). */
  submitRequest(job: RequestJob): boolean;
  /** A request's job ended (its response ended or was abandoned): its worker goes back to the pool. Once per job run. */
  requestEnded(): void;
  /**
   * Brackets one socket event: requests submitted between the two are served when the second is
   * called (before the event returns, so their answers leave in the same run), not in a microtask.
   */
  holdStarts(): void;
  /** Ends {@link ConnectionContext.holdStarts}: serves the requests submitted meanwhile. */
  releaseStarts(): void;
  /** Parsers of closed connections kept for new ones (the connection takes one, and puts it back when it closes). */
  readonly spareParsers: SpareStack<RequestParser>;
  /** The connection's socket closed and everything was released (called once). */
  connectionClosed(connection: Connection): void;
  /** The `Date` header value now, or undefined without a wall clock. */
  dateValue(): string | undefined;
}

/** The request whose body is being received. */
interface Incoming {
  readonly req: HttpRequest;
  readonly res: HttpResponse;
  /** The response finished first: body bytes are dropped as they arrive. */
  discarding: boolean;
}

const NO_DEADLINE = Number.POSITIVE_INFINITY;
// The bits of Connection.bits.
/** No further requests will be read. */
const CLOSING = 1;
/** The server sent its FIN (or is about to): reading only discards. */
const LINGERING = 2;
/** The socket closed: everything was released. */
const GONE = 4;
/** The parser stopped for good (an error, or the client's FIN). */
const PARSER_FAILED = 8;
/** After a message the parser waits for `resume()`. */
const AWAITING_NEXT = 16;
/** An unread body holds the parser back. */
const BODY_BLOCKED = 32;
/** The socket is paused. */
const SOCKET_PAUSED = 64;
/** A write had to wait for `'drain'`. */
const WRITE_BLOCKED = 128;
/** The `'drain'` listener is attached (on the first write that had to wait). */
const DRAIN_LISTENING = 256;
/** The socket is corked until the end of this turn (see Connection.corkForClose). */
const CORKED = 512;

/** The eight possible {@link ResponseContext}s, shared (immutable), indexed by {@link responseContext}. */
const RESPONSE_CONTEXTS: readonly ResponseContext[] = Array.from({ length: 8 }, (_, bits) =>
  Object.freeze({ isHead: (bits & 1) !== 0, http10: (bits & 2) !== 0, keepAlive: (bits & 4) !== 0 }),
);

/** The shared {@link ResponseContext} with these facts (no object per request). */
function responseContext(isHead: boolean, http10: boolean, keepAlive: boolean): ResponseContext {
  return RESPONSE_CONTEXTS[(isHead ? 1 : 0) | (http10 ? 2 : 0) | (keepAlive ? 4 : 0)]!;
}

/**
 * The connection serving a socket, kept on the socket itself so that one set of listener functions
 * serves every connection (no closures per connection; the way Node's own `http` keeps its parser on
 * the socket).
 */
const CONNECTION = Symbol('postern.http.connection');

type ServedSocket = HttpTransportSocket & { [CONNECTION]: Connection };

function onSocketData(this: ServedSocket, chunk: Uint8Array): void {
  this[CONNECTION].onData(chunk);
}
function onSocketEnd(this: ServedSocket): void {
  this[CONNECTION].onEnd();
}
function onSocketDrain(this: ServedSocket): void {
  this[CONNECTION].onDrain();
}
function onSocketError(this: ServedSocket): void {
  this[CONNECTION].onError();
}
function onSocketClose(this: ServedSocket): void {
  this[CONNECTION].onClose();
}

/** The method {@link isKnownMethod} found last, in the set {@link lastKnownSet}. */
let lastKnownMethod = '';
let lastKnownSet: ReadonlySet<string> | undefined;

/**
 * `known.has(method)`, remembering the last method found: requests mostly repeat one method (and a
 * repeated head gives the very same string), and a string compare costs less than a set lookup.
 */
function isKnownMethod(known: ReadonlySet<string>, method: string): boolean {
  if (method === lastKnownMethod && known === lastKnownSet) return true;
  if (!known.has(method)) return false;
  lastKnownMethod = method;
  lastKnownSet = known;
  return true;
}

/** Settled once: `RESOLVED.then(fn)` runs `fn` in a microtask (no async resource, unlike `queueMicrotask`). */
const RESOLVED = Promise.resolve();
/**
 * Sockets corked for an answer that closes the connection and goes on after this turn, uncorked
 * together in one microtask: the first {@link corkedCount} slots. Two arrays swapped per batch, their
 * slots cleared but their storage kept (a batch allocates no array).
 */
let corkedSockets: (ServedSocket | undefined)[] = [];
let corkedSpare: (ServedSocket | undefined)[] = [];
let corkedCount = 0;

/** The microtask of {@link Connection.corkForClose}: uncorks every socket corked since. */
function uncorkAll(): void {
  const batch = corkedSockets;
  const n = corkedCount;
  corkedSockets = corkedSpare;
  corkedSpare = batch;
  corkedCount = 0;
  try {
    for (let i = 0; i < n; i++) batch[i]![CONNECTION].uncorkSocket();
  } finally {
    for (let i = 0; i < n; i++) batch[i] = undefined;
  }
}

/**
 * Serves one socket until it closes. Create it; the context hears when it closed
 * ({@link ConnectionContext.connectionClosed}, or {@link Connection.whenClosed}).
 *
 * Invariants: responses leave in request order; at most `maxPipelined` requests are in flight; while a
 * body is unread beyond its high-water mark, or the pipeline is full, the socket is paused; every timer
 * is dropped when the socket closes (the connection leaves the server's deadline queue).
 */
export class Connection implements ResponseChannel, Deadlined, OpenEntry<Connection> {
  /** Callers of {@link Connection.whenClosed} waiting for the close (made on first use). */
  private closeWaiters: Array<() => void> | undefined;
  private readonly parser: RequestParser;
  /** The oldest unanswered response (the active one), or undefined. */
  private active: HttpResponse | undefined;
  /** Unanswered responses behind {@link Connection.active}, in request order (made when a request is pipelined). */
  private behind: HttpResponse[] | undefined;
  private incoming: Incoming | undefined;
  /** The client's address as the transport reported it at accept (`''` when unknown). */
  readonly remoteAddress: string;

  /** The connection's yes/no states ({@link CLOSING}, {@link GONE} ...), one bit each: one field, not ten. */
  private bits = 0;
  /** Writers waiting for `'drain'` (made on first use). */
  private drainWaiters: Array<() => void> | undefined;

  // The times below are whole milliseconds of the server's clock, rounded up ({@link Connection.tick}):
  // small integers, stored in the object itself, where a fractional reading would take a heap number
  // of its own per field (and per deadline worked out from it). Rounding up only moves a deadline later,
  // by less than a millisecond.
  private headStartedAt = -1;
  /** Bytes received since the current head started (they extend its deadline). */
  private headBytes = 0;
  /** When the body deadline started (a worker took the request), or -1. */
  private bodyStartedAt = -1;
  /** Body bytes of the current request received so far (read or discarded). */
  private bodyBytes = 0;
  /** When the unread body started holding the socket back, or -1. */
  private bodyHeldSince = -1;
  // The two times below start as numbers (not undefined) so that V8 keeps them as double fields: a
  // field declared without a value is first undefined, becomes tagged, and then every store of a
  // fractional time makes a new heap number (one or two per request).
  private lastActivity = 0;
  /** Last time anything arrived or an answer completed (for choosing which idle connection to close). */
  private lastSeenAt = 0;
  private lingerStartedAt = 0;
  /** @internal {@link Deadlined}: when the queued deadline is due. */
  deadlineAt = NO_DEADLINE;
  /** @internal {@link Deadlined}: written by the server's {@link DeadlineQueue} only. */
  deadlineSlot = -1;
  /** @internal {@link Deadlined}: written by the server's {@link DeadlineQueue} only. */
  deadlineSeq = 0;
  /** @internal {@link OpenEntry}: written by the server's open-connection list only. */
  openTally: ClientTally | undefined = undefined;
  /** @internal {@link OpenEntry}: written by the server's open-connection list only. */
  openPrev: Connection | undefined = undefined;
  /** @internal {@link OpenEntry}: written by the server's open-connection list only. */
  openNext: Connection | undefined = undefined;

  /**
   * @param remoteAddress the client's address when the caller read it already (a transport may build
   *   the string anew at each read); by default read from the socket
   */
  constructor(
    private readonly socket: HttpTransportSocket,
    private readonly ctx: ConnectionContext,
    remoteAddress: string = socket.remoteAddress ?? '',
  ) {
    this.remoteAddress = remoteAddress;
    this.lastActivity = this.tick();
    this.lastSeenAt = this.lastActivity;
    const spare = ctx.spareParsers.take();
    if (spare !== undefined) spare.reuse(this);
    this.parser = spare ?? new RequestParser(ctx.options.limits, this);
    if (ctx.options.noDelay) socket.setNoDelay?.(true);
    (socket as ServedSocket)[CONNECTION] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    this.ensureTimer();
  }

  /** The server's clock now, rounded up to a whole millisecond (what the connection's time fields hold). */
  private tick(): number {
    // `+ 0` turns a -0 (a reading in (-1, 0]) into 0, so the result is a plain small integer.
    return Math.ceil(this.ctx.clock.now()) + 0;
  }

  /** Resolves once the socket closed and everything was released (at once if it already did). */
  whenClosed(): Promise<void> {
    if ((this.bits & GONE) !== 0) return Promise.resolve();
    return new Promise((resolve) => (this.closeWaiters ??= []).push(resolve));
  }

  /** True while no request is in progress (reading a head, or waiting for one) and the connection is not closing. */
  get idle(): boolean {
    return (
      (this.bits & GONE) === 0 &&
      (this.bits & LINGERING) === 0 &&
      this.active === undefined &&
      this.incoming === undefined
    );
  }

  /** The clock time anything last arrived or an answer last completed. */
  get lastSeen(): number {
    return this.lastSeenAt;
  }

  /** Makes room at a connection cap: the server closes this idle connection now (FIN, then linger). */
  evict(): void {
    if (!this.idle) return;
    this.bits |= CLOSING;
    this.startClose();
  }

  /** Server shutdown: finish what is in flight with `Connection: close`, close an idle connection now. */
  shutdown(): void {
    if ((this.bits & GONE) !== 0) return;
    this.bits |= CLOSING;
    if (this.active === undefined && this.incoming === undefined) this.startClose();
  }

  // ---- ResponseChannel ---------------------------------------------------------------------------

  /** @internal */
  transmit(data: Uint8Array): boolean {
    if ((this.bits & GONE) !== 0) return true;
    const ok = this.socket.write(data);
    if (!ok) this.blockWrites();
    return ok;
  }

  /** The socket asked to wait: listen for its `'drain'` (from the first time on; most connections never wait). */
  private blockWrites(): void {
    this.bits |= WRITE_BLOCKED;
    if ((this.bits & DRAIN_LISTENING) !== 0) return;
    this.bits |= DRAIN_LISTENING;
    this.socket.on('drain', onSocketDrain);
  }

  /** @internal */
  get writable(): boolean {
    return (this.bits & WRITE_BLOCKED) === 0 || (this.bits & GONE) !== 0;
  }

  /** @internal */
  get copiesWrites(): boolean {
    return this.socket.copiesWrites === true;
  }

  /** @internal */
  waitDrain(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve));
  }

  /** @internal */
  dateValue(): string | undefined {
    return this.ctx.dateValue();
  }

  /** @internal */
  closesAfter(res: HttpResponse, endsNow: boolean): boolean {
    const incoming = this.incoming;
    const unreadExpectedBody =
      incoming !== undefined && incoming.res === res && incoming.req.head.expect100 && !incoming.req.body.touched;
    const lastBeforeClose =
      (this.bits & CLOSING) !== 0 && this.lastResponse() === res && (incoming === undefined || incoming.res === res);
    const close = !res.context.keepAlive || res.closeDelimited || lastBeforeClose || unreadExpectedBody;
    if (close) {
      res.closesConnection = true;
      this.corkForClose(endsNow && this.active === res);
    }
    return close;
  }

  /**
   * The answer after which the server closes is about to be written: the socket is corked so that an
   * answer ended at once and the FIN that `end()` queues right after it leave together (one segment
   * with the data and the FIN, as a C stack sends it). An answer that ends in this very call
   * (`endsNow`, and it is the active one: {@link Connection.responseDone} follows at once) is uncorked
   * right after that `end()` (no microtask); any other is uncorked at the end of this turn, so one that
   * goes on in a later turn streams as usual.
   */
  private corkForClose(endsNow: boolean): void {
    if ((this.bits & CORKED) !== 0 || (this.bits & GONE) !== 0 || this.socket.cork === undefined) return;
    this.bits |= CORKED;
    this.socket.cork();
    if (endsNow) return;
    corkedSockets[corkedCount++] = this.socket as ServedSocket;
    if (corkedCount === 1) void RESOLVED.then(uncorkAll);
  }

  /** @internal Undoes {@link Connection.corkForClose} (its microtask). */
  uncorkSocket(): void {
    if ((this.bits & CORKED) === 0) return;
    this.bits &= ~CORKED;
    this.socket.uncork?.();
  }

  /** @internal */
  responseDone(res: HttpResponse): void {
    if (this.active !== res) return;
    this.active = this.nextBehind();
    const stats = this.ctx.stats;
    stats.responses[res.statusCode] = (stats.responses[res.statusCode] ?? 0) + 1;
    const incoming = this.incoming;
    if (incoming !== undefined && incoming.res === res && !incoming.discarding) {
      // The handler is done without the rest of the body: drop it as it arrives (a body sent with
      // `Expect: 100-continue` and never asked for was answered with `Connection: close` instead).
      incoming.discarding = true;
      incoming.req.body.discard();
    }
    if (res.framingBroken) {
      this.destroy();
      return;
    }
    if (res.closesConnection) {
      this.bits |= CLOSING;
      this.startClose();
      // The FIN is queued behind the answer: a cork for it ends here (see corkForClose).
      this.uncorkSocket();
      return;
    }
    const next = this.active;
    if (next !== undefined) {
      next.activate();
      return;
    }
    if ((this.bits & CLOSING) !== 0 && this.incoming === undefined) {
      this.startClose();
      return;
    }
    this.lastActivity = this.tick();
    this.lastSeenAt = this.lastActivity;
    this.maybeResume();
    this.ensureTimer();
  }

  // ---- the answers in request order --------------------------------------------------------------

  /** Queues `res` behind the unanswered ones; it becomes active at once when there are none. */
  private enqueue(res: HttpResponse): void {
    if (this.active === undefined) {
      this.active = res;
      res.activate();
    } else {
      (this.behind ??= []).push(res);
    }
  }

  /** Takes the oldest response behind the active one out (undefined when none waits). */
  private nextBehind(): HttpResponse | undefined {
    const behind = this.behind;
    if (behind === undefined) return undefined;
    const next = behind.shift();
    if (behind.length === 0) this.behind = undefined;
    return next;
  }

  /** The newest unanswered response, or undefined. */
  private lastResponse(): HttpResponse | undefined {
    const behind = this.behind;
    return behind !== undefined && behind.length > 0 ? behind[behind.length - 1] : this.active;
  }

  /** How many responses are unanswered. */
  private unanswered(): number {
    return (this.active === undefined ? 0 : 1) + (this.behind?.length ?? 0);
  }

  // ---- parser callbacks ------------------------------------------------------------------------------

  /** @internal Parser callback: a request head is complete. */
  onHead(head: RequestHead): void {
    const ctx = this.ctx;
    ctx.stats.requests++;
    this.headStartedAt = -1;
    this.headBytes = 0;
    const framing = head.framing;
    const hasBody = framing.kind === 'chunked' || (framing.kind === 'length' && framing.length > 0);
    const res = new HttpResponse(
      this,
      responseContext(head.method === 'HEAD', head.versionMinor === 0, head.keepAlive),
    );
    // Without a body the request makes its empty one only if the handler reads it.
    const body = hasBody ? new RequestBody(this.bodyControl(head, res), ctx.options.bodyHighWaterBytes) : undefined;
    const req = new HttpRequest(head, body, this.remoteAddress);
    if (!head.keepAlive) this.bits |= CLOSING;
    if (hasBody) {
      this.incoming = { req, res, discarding: false };
      this.bodyStartedAt = -1;
      this.bodyHeldSince = -1;
      this.bodyBytes = 0;
      this.lastActivity = this.tick();
    }
    this.enqueue(res);
    this.dispatch(req, res);
    // No ensureTimer here: from now until this answer is done the connection has no deadline of its
    // own (a body's starts when a worker takes the request, see startBodyClock), and the one queued
    // stays (a deadline reached early re-checks), so the call could only find nothing to arm.
  }

  /** How the body of the request `head` (answered by `res`) talks back to the connection. */
  private bodyControl(head: RequestHead, res: HttpResponse): BodyFeedControl {
    return {
      firstRead: () => {
        if (head.expect100) res.writeContinue();
      },
      resume: () => {
        this.unblockBody();
        this.maybeResume();
      },
    };
  }

  /** @internal Parser callback: body bytes. */
  onBody(data: Uint8Array): void {
    this.bodyBytes += data.length;
    const incoming = this.incoming;
    if (incoming === undefined || incoming.discarding) return;
    if (!incoming.req.body.push(data)) {
      this.bits |= BODY_BLOCKED;
      if (this.bodyHeldSince < 0) this.bodyHeldSince = this.tick();
      this.parser.pause();
    }
  }

  /** @internal Parser callback: the request (body and trailers) is complete. */
  onMessageComplete(_trailers: HeaderList | null): void {
    const incoming = this.incoming;
    if (incoming !== undefined) {
      incoming.req.body.finish();
      this.incoming = undefined;
      this.unblockBody();
    }
    this.bits |= AWAITING_NEXT;
    if ((this.bits & CLOSING) !== 0 && this.active === undefined) {
      this.startClose();
      return;
    }
    this.maybeResume();
  }

  // ---- dispatch ----------------------------------------------------------------------------------------

  private dispatch(req: HttpRequest, res: HttpResponse): void {
    const ctx = this.ctx;
    const head = req.head;
    if (head.expectOther !== null) {
      this.bits |= CLOSING;
      this.answer(res, 417);
      return;
    }
    if (!isKnownMethod(ctx.options.knownMethods, head.method)) {
      this.answer(res, 501);
      return;
    }
    if (ctx.limiter !== undefined) {
      const wait = ctx.limiter.take(this.remoteAddress, ctx.clock.now());
      if (wait > 0) {
        ctx.stats.rateLimited++;
        res.setHeader('Retry-After', wait);
        this.answer(res, 429);
        return;
      }
    }
    const job = PendingRequest.take(this, req, res);
    if (!ctx.submitRequest(job)) {
      job.release();
      ctx.stats.requestsRejected++;
      this.bits |= CLOSING;
      res.setHeader('Retry-After', ctx.retryAfterSeconds);
      this.answer(res, 503);
    }
  }

  /** @internal On a worker: runs the handler; calls `done` (once) when the response is ended or abandoned. */
  runHandler(req: HttpRequest, res: HttpResponse, done: () => void): void {
    if (res.aborted || res.finished) {
      done();
      return;
    }
    res.onSettled(done);
    this.startBodyClock(res);
    try {
      const result = this.ctx.handler(req, res);
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
        this.watchHandler(result as Promise<void>, req, res);
      }
    } catch (error) {
      this.handlerFailed(req, res, error);
    }
  }

  /**
   * Hears a failure of the promise an async handler returned. A function of its own: a closure over
   * `req` and `res` inside {@link Connection.runHandler} would make that call allocate a context for
   * them on every request, async handler or not.
   */
  private watchHandler(result: Promise<void>, req: HttpRequest, res: HttpResponse): void {
    result.then(undefined, (error: unknown) => this.handlerFailed(req, res, error));
  }

  /** @internal A request's job ended: its worker goes back to the server's pool. */
  requestEnded(): void {
    this.ctx.requestEnded();
  }

  /** @internal The pool stopped before a worker took the request: answer 503 without the handler. */
  cancelRequest(res: HttpResponse): void {
    if (res.finished || res.aborted) return;
    this.bits |= CLOSING;
    this.answer(res, 503);
  }

  /** Starts the body deadline of `res`'s request (when a worker takes it, or it is answered without one). */
  private startBodyClock(res: HttpResponse): void {
    if (this.incoming?.res !== res || this.bodyStartedAt >= 0) return;
    this.bodyStartedAt = this.tick();
    if (this.bodyHeldSince >= 0) this.bodyHeldSince = this.bodyStartedAt;
    this.ensureTimer();
  }

  /** The reader took the body below its high-water mark: the time it was held back does not count against the body deadline. */
  private unblockBody(): void {
    this.bits &= ~BODY_BLOCKED;
    if (this.bodyHeldSince >= 0) {
      if (this.bodyStartedAt >= 0) this.bodyStartedAt += this.tick() - this.bodyHeldSince;
      this.bodyHeldSince = -1;
    }
  }

  private handlerFailed(req: HttpRequest, res: HttpResponse, error: unknown): void {
    this.ctx.stats.handlerErrors++;
    this.ctx.options.onHandlerError?.(error, req);
    if (res.finished || res.aborted) return;
    if (res.resetForError(500)) this.answer(res, 500);
    else this.destroy();
  }

  /** Sends a short plain-text error answer with `status` on `res`. */
  private answer(res: HttpResponse, status: number): void {
    this.startBodyClock(res);
    res.status(status).setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(`${status} ${reasonPhrase(status)}\n`);
  }

  /** The connection cannot go on reading: answer `status` (if the answer can still be given) and close. */
  private fail(status: number, bodyError: BodyError | undefined): void {
    this.bits |= CLOSING;
    this.bits |= PARSER_FAILED;
    const incoming = this.incoming;
    this.incoming = undefined;
    this.unblockBody();
    if (incoming !== undefined) {
      if (bodyError !== undefined) incoming.req.body.fail(bodyError);
      const res = incoming.res;
      if (!res.finished) {
        if (res.resetForError(status)) {
          this.answer(res, status);
        } else {
          this.destroy();
        }
        return;
      }
      if (this.active === undefined) this.startClose();
      return;
    }
    const res = new HttpResponse(this, { isHead: false, http10: false, keepAlive: false });
    this.enqueue(res);
    this.answer(res, status);
  }

  private parseFailed(error: unknown): void {
    if ((this.bits & PARSER_FAILED) !== 0 || (this.bits & GONE) !== 0) return;
    this.ctx.stats.parseErrors++;
    const status = error instanceof HttpParseError ? error.status : 400;
    const code = error instanceof HttpParseError && error.code === 'BODY_TOO_LARGE' ? 'too-large' : 'malformed';
    this.fail(status, new BodyError(code, error instanceof Error ? error.message : 'malformed request'));
  }

  // ---- socket events -------------------------------------------------------------------------------------

  /** @internal Socket `'data'`. */
  onData(chunk: Uint8Array): void {
    if ((this.bits & LINGERING) !== 0 || (this.bits & PARSER_FAILED) !== 0 || (this.bits & GONE) !== 0) return;
    const now = this.tick();
    this.lastSeenAt = now;
    if (this.incoming === undefined) {
      if (this.headStartedAt < 0 && (this.bits & AWAITING_NEXT) === 0) {
        this.headStartedAt = now;
        this.headBytes = 0;
      }
      this.headBytes += chunk.length;
    } else {
      this.lastActivity = now;
    }
    // The requests this chunk completes are served before this event returns (their answers leave
    // in this run), and before the flow is synced: a request answered at once never pauses the socket.
    const ctx = this.ctx;
    ctx.holdStarts();
    try {
      this.parser.execute(chunk);
    } catch (error) {
      this.parseFailed(error);
      return;
    } finally {
      ctx.releaseStarts();
    }
    this.syncFlow();
    this.ensureTimer();
  }

  /** @internal Socket `'end'`: the client's FIN. */
  onEnd(): void {
    if ((this.bits & GONE) !== 0) return;
    if ((this.bits & LINGERING) === 0 && (this.bits & PARSER_FAILED) === 0) {
      try {
        this.parser.finish();
      } catch {
        // The client half-closed mid-request: nothing more will come, there is nobody left to answer.
        const incoming = this.incoming;
        this.incoming = undefined;
        incoming?.req.body.fail(new BodyError('aborted', 'the client closed before the body was complete'));
      }
    }
    this.bits |= CLOSING;
    this.bits |= PARSER_FAILED;
    if (this.active === undefined) this.startClose();
  }

  /** @internal Socket `'drain'`. */
  onDrain(): void {
    this.bits &= ~WRITE_BLOCKED;
    const waiters = this.drainWaiters;
    if (waiters === undefined) return;
    this.drainWaiters = undefined;
    for (const resolve of waiters) resolve();
  }

  /** @internal Socket `'error'` (the `'close'` that follows does the rest). */
  onError(): void {
    this.ctx.stats.socketErrors++;
  }

  /** @internal Socket `'close'`. */
  onClose(): void {
    if ((this.bits & GONE) !== 0) return;
    this.bits |= GONE;
    this.ctx.deadlines.remove(this);
    const incoming = this.incoming;
    this.incoming = undefined;
    incoming?.req.body.fail(new BodyError('aborted', 'the connection closed'));
    const active = this.active;
    const behind = this.behind;
    this.active = undefined;
    this.behind = undefined;
    active?.abandon();
    if (behind !== undefined) for (const res of behind) res.abandon();
    this.onDrain();
    // The parser serves a later connection (unless this close came from inside one of its callbacks),
    // emptied now so that a spare holds no chunk of this one.
    const spares = this.ctx.spareParsers;
    if (!this.parser.busy && spares.size < spares.capacity) {
      this.parser.reset();
      spares.put(this.parser);
    }
    this.ctx.connectionClosed(this);
    const waiters = this.closeWaiters;
    this.closeWaiters = undefined;
    if (waiters !== undefined) for (const resolve of waiters) resolve();
  }

  // ---- flow control ---------------------------------------------------------------------------------------

  /** Lets the parser go on when nothing holds it: the body is read, the pipeline has room, no close is due. */
  private maybeResume(): void {
    if (
      (this.bits & GONE) !== 0 ||
      (this.bits & PARSER_FAILED) !== 0 ||
      (this.bits & LINGERING) !== 0 ||
      (this.bits & BODY_BLOCKED) !== 0
    )
      return;
    if ((this.bits & AWAITING_NEXT) !== 0) {
      if ((this.bits & CLOSING) !== 0 || this.unanswered() >= this.ctx.options.maxPipelined) {
        this.syncFlow();
        return;
      }
      this.bits &= ~AWAITING_NEXT;
      if (this.headStartedAt >= 0) this.headStartedAt = this.tick();
    }
    try {
      if (this.parser.paused) this.parser.resume();
    } catch (error) {
      this.parseFailed(error);
      return;
    }
    this.syncFlow();
  }

  /** Pauses the socket while the parser cannot take input, resumes it otherwise. */
  private syncFlow(): void {
    if ((this.bits & GONE) !== 0) return;
    const hold = (this.bits & LINGERING) === 0 && (this.parser.paused || (this.bits & BODY_BLOCKED) !== 0);
    if (hold && (this.bits & SOCKET_PAUSED) === 0) {
      this.bits |= SOCKET_PAUSED;
      this.socket.pause();
    } else if (!hold && (this.bits & SOCKET_PAUSED) !== 0) {
      this.bits &= ~SOCKET_PAUSED;
      this.socket.resume();
    }
  }

  /** The server closes first: FIN after the queued bytes, then discard input until the client closes. */
  private startClose(): void {
    if ((this.bits & LINGERING) !== 0 || (this.bits & GONE) !== 0) return;
    this.bits |= LINGERING;
    this.bits |= CLOSING;
    this.lingerStartedAt = this.tick();
    this.socket.end();
    this.syncFlow();
    this.ensureTimer();
  }

  private destroy(): void {
    if ((this.bits & GONE) !== 0) return;
    this.ctx.stats.destroyed++;
    this.socket.destroy();
  }

  // ---- timers ----------------------------------------------------------------------------------------------

  /** The earliest deadline that applies in the current state, and what happens at it. */
  private nextDeadline(): number {
    const o = this.ctx.options;
    if ((this.bits & LINGERING) !== 0) return this.lingerStartedAt + o.lingerMs;
    if (this.incoming !== undefined) {
      if ((this.bits & BODY_BLOCKED) !== 0 || this.bodyStartedAt < 0) return NO_DEADLINE;
      return this.bodyStartedAt + o.bodyTimeoutMs + (this.bodyBytes * 1000) / o.bodyMinRate;
    }
    if (this.headStartedAt >= 0 && (this.bits & AWAITING_NEXT) === 0) {
      const grown = o.headerTimeoutMs + (this.headBytes * 1000) / o.headerMinRate;
      return this.headStartedAt + Math.min(grown, o.headerMaxTimeoutMs);
    }
    if (this.active === undefined && (this.bits & PARSER_FAILED) === 0) return this.lastActivity + o.idleTimeoutMs;
    return NO_DEADLINE;
  }

  /**
   * Makes sure the connection is queued for no later than the current deadline (an earlier queued one
   * re-checks when it is reached, so a deadline that moves later costs nothing now).
   */
  private ensureTimer(): void {
    if ((this.bits & GONE) !== 0) return;
    const deadline = this.nextDeadline();
    if (deadline === NO_DEADLINE || (this.deadlineSlot >= 0 && this.deadlineAt <= deadline)) return;
    this.ctx.deadlines.arm(this, deadline);
  }

  /** @internal {@link Deadlined}: the queued deadline was reached (the connection is out of the queue). */
  deadlineReached(): void {
    if ((this.bits & GONE) !== 0) return;
    const deadline = this.nextDeadline();
    if (deadline === NO_DEADLINE) return;
    if (this.ctx.clock.now() < deadline) {
      this.ctx.deadlines.arm(this, deadline);
      return;
    }
    this.expire();
  }

  private expire(): void {
    const stats = this.ctx.stats;
    if ((this.bits & LINGERING) !== 0) {
      this.destroy();
      return;
    }
    if (this.incoming !== undefined) {
      stats.bodyTimeouts++;
      this.fail(408, new BodyError('timeout', 'the request body stalled'));
      return;
    }
    if (this.headStartedAt >= 0 && (this.bits & AWAITING_NEXT) === 0) {
      stats.headerTimeouts++;
      this.fail(408, undefined);
      return;
    }
    stats.idleTimeouts++;
    this.bits |= CLOSING;
    this.startClose();
  }
}
