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
 */
import { RequestParser } from '../parser/request-parser.js';
import { HttpParseError } from '../parser/errors.js';
import type { HeaderList } from '../parser/headers.js';
import type { RequestHead } from '../parser/types.js';
import { BodyError, RequestBody, type BodyFeedControl } from './body.js';
import type { HttpClock, HttpTimer } from './clock.js';
import { reasonPhrase } from '../serializer/status.js';
import type { HttpHandler, HttpServerStats, ResolvedOptions } from './options.js';
import type { TokenBucketLimiter } from './rate-limit.js';
import { HttpRequest } from './request.js';
import { HttpResponse, type ResponseChannel } from './response.js';
import type { HttpTransportSocket } from './transport.js';

/** What a connection needs from its server. */
export interface ConnectionContext {
  readonly options: ResolvedOptions;
  readonly clock: HttpClock;
  readonly stats: HttpServerStats;
  readonly handler: HttpHandler;
  readonly limiter: TokenBucketLimiter | undefined;
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

/**
 * Serves one socket until it closes. Create it, then await {@link Connection.closed}.
 *
 * Invariants: responses leave in request order; at most `maxPipelined` requests are in flight; while a
 * body is unread beyond its high-water mark, or the pipeline is full, the socket is paused; every timer
 * is cancelled when the socket closes.
 */
export class Connection implements ResponseChannel {
  /** Resolves once the socket closed and everything was released. */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private readonly parser: RequestParser;
  /** Unanswered responses in request order; `[0]` is the active one. */
  private readonly queue: HttpResponse[] = [];
  private readonly closeMarked = new Set<HttpResponse>();
  private incoming: Incoming | undefined;
  private readonly remoteAddress: string;

  /** No further requests will be read. */
  private closing = false;
  /** The server sent its FIN (or is about to): reading only discards. */
  private lingering = false;
  private gone = false;
  private parserFailed = false;
  /** After a message the parser waits for `resume()`. */
  private awaitingNext = false;
  private bodyBlocked = false;
  private socketPaused = false;
  private writeBlocked = false;
  private drainWaiters: Array<() => void> = [];

  private headStartedAt = -1;
  private lastActivity: number;
  private lingerStartedAt = 0;
  private timer: HttpTimer | undefined;
  private timerDeadline = NO_DEADLINE;

  constructor(
    private readonly socket: HttpTransportSocket,
    private readonly ctx: ConnectionContext,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.remoteAddress = socket.remoteAddress ?? '';
    this.lastActivity = ctx.clock.now();
    this.parser = new RequestParser(ctx.options.limits, {
      onHead: (head) => this.onHead(head),
      onBody: (data) => this.onBody(data),
      onMessageComplete: (trailers) => this.onMessageComplete(trailers),
    });
    if (ctx.options.noDelay) socket.setNoDelay?.(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => {
      ctx.stats.socketErrors++;
    });
    socket.on('close', () => this.onClose());
    this.ensureTimer();
  }

  /** Server shutdown: finish what is in flight with `Connection: close`, close an idle connection now. */
  shutdown(): void {
    if (this.gone) return;
    this.closing = true;
    if (this.queue.length === 0 && this.incoming === undefined) this.startClose();
  }

  // ---- ResponseChannel ---------------------------------------------------------------------------

  /** @internal */
  transmit(data: Uint8Array): boolean {
    if (this.gone) return true;
    const ok = this.socket.write(data);
    if (!ok) this.writeBlocked = true;
    return ok;
  }

  /** @internal */
  get writable(): boolean {
    return !this.writeBlocked || this.gone;
  }

  /** @internal */
  waitDrain(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** @internal */
  dateValue(): string | undefined {
    return this.ctx.dateValue();
  }

  /** @internal */
  closesAfter(res: HttpResponse): boolean {
    const incoming = this.incoming;
    const unreadExpectedBody =
      incoming !== undefined && incoming.res === res && incoming.req.head.expect100 && !incoming.req.body.touched;
    const lastBeforeClose =
      this.closing && this.queue[this.queue.length - 1] === res && (incoming === undefined || incoming.res === res);
    const close = !res.context.keepAlive || res.closeDelimited || lastBeforeClose || unreadExpectedBody;
    if (close) this.closeMarked.add(res);
    return close;
  }

  /** @internal */
  responseDone(res: HttpResponse): void {
    if (this.queue[0] !== res) return;
    this.queue.shift();
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
    if (this.closeMarked.has(res)) {
      this.closeMarked.delete(res);
      this.closing = true;
      this.startClose();
      return;
    }
    const next = this.queue[0];
    if (next !== undefined) {
      next.activate();
      return;
    }
    if (this.closing && this.incoming === undefined) {
      this.startClose();
      return;
    }
    this.lastActivity = this.ctx.clock.now();
    this.maybeResume();
    this.ensureTimer();
  }

  // ---- parser callbacks ------------------------------------------------------------------------------

  private onHead(head: RequestHead): void {
    const ctx = this.ctx;
    ctx.stats.requests++;
    this.headStartedAt = -1;
    const framing = head.framing;
    const hasBody = framing.kind === 'chunked' || (framing.kind === 'length' && framing.length > 0);
    const res = new HttpResponse(this, { isHead: head.method === 'HEAD', http10: head.versionMinor === 0, keepAlive: head.keepAlive });
    const control: BodyFeedControl = {
      firstRead: () => {
        if (head.expect100) res.writeContinue();
      },
      resume: () => {
        this.bodyBlocked = false;
        this.maybeResume();
      },
    };
    const body = hasBody ? new RequestBody(control, ctx.options.bodyHighWaterBytes) : RequestBody.empty();
    const req = new HttpRequest(head, body, this.remoteAddress);
    if (!head.keepAlive) this.closing = true;
    if (hasBody) {
      this.incoming = { req, res, discarding: false };
      this.lastActivity = ctx.clock.now();
    }
    this.queue.push(res);
    if (this.queue.length === 1) res.activate();
    this.dispatch(req, res);
    this.ensureTimer();
  }

  private onBody(data: Uint8Array): void {
    const incoming = this.incoming;
    if (incoming === undefined || incoming.discarding) return;
    if (!incoming.req.body.push(data)) {
      this.bodyBlocked = true;
      this.parser.pause();
    }
  }

  private onMessageComplete(_trailers: HeaderList | null): void {
    const incoming = this.incoming;
    if (incoming !== undefined) {
      incoming.req.body.finish();
      this.incoming = undefined;
      this.bodyBlocked = false;
    }
    this.awaitingNext = true;
    if (this.closing && this.queue.length === 0) {
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
      this.closing = true;
      this.answer(res, 417);
      return;
    }
    if (!ctx.options.knownMethods.has(head.method)) {
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
    try {
      const result = ctx.handler(req, res);
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
        (result as Promise<void>).then(undefined, (error: unknown) => this.handlerFailed(req, res, error));
      }
    } catch (error) {
      this.handlerFailed(req, res, error);
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
    res.status(status).setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(`${status} ${reasonPhrase(status)}\n`);
  }

  /** The connection cannot go on reading: answer `status` (if the answer can still be given) and close. */
  private fail(status: number, bodyError: BodyError | undefined): void {
    this.closing = true;
    this.parserFailed = true;
    const incoming = this.incoming;
    this.incoming = undefined;
    this.bodyBlocked = false;
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
      if (this.queue.length === 0) this.startClose();
      return;
    }
    const res = new HttpResponse(this, { isHead: false, http10: false, keepAlive: false });
    this.queue.push(res);
    if (this.queue.length === 1) res.activate();
    this.answer(res, status);
  }

  private parseFailed(error: unknown): void {
    if (this.parserFailed || this.gone) return;
    this.ctx.stats.parseErrors++;
    const status = error instanceof HttpParseError ? error.status : 400;
    const code = error instanceof HttpParseError && error.code === 'BODY_TOO_LARGE' ? 'too-large' : 'malformed';
    this.fail(status, new BodyError(code, error instanceof Error ? error.message : 'malformed request'));
  }

  // ---- socket events -------------------------------------------------------------------------------------

  private onData(chunk: Uint8Array): void {
    if (this.lingering || this.parserFailed) return;
    if (this.incoming === undefined && this.headStartedAt < 0 && !this.awaitingNext) {
      this.headStartedAt = this.ctx.clock.now();
    } else if (this.incoming !== undefined) {
      this.lastActivity = this.ctx.clock.now();
    }
    try {
      this.parser.execute(chunk);
    } catch (error) {
      this.parseFailed(error);
      return;
    }
    this.syncFlow();
    this.ensureTimer();
  }

  private onEnd(): void {
    if (this.gone) return;
    if (!this.lingering && !this.parserFailed) {
      try {
        this.parser.finish();
      } catch {
        // The client half-closed mid-request: nothing more will come, there is nobody left to answer.
        const incoming = this.incoming;
        this.incoming = undefined;
        incoming?.req.body.fail(new BodyError('aborted', 'the client closed before the body was complete'));
      }
    }
    this.closing = true;
    this.parserFailed = true;
    if (this.queue.length === 0) this.startClose();
  }

  private onDrain(): void {
    this.writeBlocked = false;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private onClose(): void {
    if (this.gone) return;
    this.gone = true;
    this.timer?.cancel();
    this.timer = undefined;
    const incoming = this.incoming;
    this.incoming = undefined;
    incoming?.req.body.fail(new BodyError('aborted', 'the connection closed'));
    for (const res of this.queue) res.abandon();
    this.queue.length = 0;
    this.onDrain();
    this.resolveClosed();
  }

  // ---- flow control ---------------------------------------------------------------------------------------

  /** Lets the parser go on when nothing holds it: the body is read, the pipeline has room, no close is due. */
  private maybeResume(): void {
    if (this.gone || this.parserFailed || this.lingering || this.bodyBlocked) return;
    if (this.awaitingNext) {
      if (this.closing || this.queue.length >= this.ctx.options.maxPipelined) {
        this.syncFlow();
        return;
      }
      this.awaitingNext = false;
      if (this.headStartedAt >= 0) this.headStartedAt = this.ctx.clock.now();
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
    if (this.gone) return;
    const hold = !this.lingering && (this.parser.paused || this.bodyBlocked);
    if (hold && !this.socketPaused) {
      this.socketPaused = true;
      this.socket.pause();
    } else if (!hold && this.socketPaused) {
      this.socketPaused = false;
      this.socket.resume();
    }
  }

  /** The server closes first: FIN after the queued bytes, then discard input until the client closes. */
  private startClose(): void {
    if (this.lingering || this.gone) return;
    this.lingering = true;
    this.closing = true;
    this.lingerStartedAt = this.ctx.clock.now();
    this.socket.end();
    this.syncFlow();
    this.ensureTimer();
  }

  private destroy(): void {
    if (this.gone) return;
    this.ctx.stats.destroyed++;
    this.socket.destroy();
  }

  // ---- timers ----------------------------------------------------------------------------------------------

  /** The earliest deadline that applies in the current state, and what happens at it. */
  private nextDeadline(): number {
    const o = this.ctx.options;
    if (this.lingering) return this.lingerStartedAt + o.lingerMs;
    if (this.incoming !== undefined) return this.bodyBlocked ? NO_DEADLINE : this.lastActivity + o.bodyTimeoutMs;
    if (this.headStartedAt >= 0 && !this.awaitingNext) return this.headStartedAt + o.headerTimeoutMs;
    if (this.queue.length === 0 && !this.parserFailed) return this.lastActivity + o.idleTimeoutMs;
    return NO_DEADLINE;
  }

  /** Makes sure a timer is armed no later than the current deadline (a later one re-checks when it fires). */
  private ensureTimer(): void {
    if (this.gone) return;
    const deadline = this.nextDeadline();
    if (deadline === NO_DEADLINE || (this.timer !== undefined && this.timerDeadline <= deadline)) return;
    this.timer?.cancel();
    this.armTimer(deadline);
  }

  private armTimer(deadline: number): void {
    this.timerDeadline = deadline;
    this.timer = this.ctx.clock.setTimer(Math.max(0, deadline - this.ctx.clock.now()), this.onTimer);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDeadline = NO_DEADLINE;
    if (this.gone) return;
    const deadline = this.nextDeadline();
    if (deadline === NO_DEADLINE) return;
    if (this.ctx.clock.now() < deadline) {
      this.armTimer(deadline);
      return;
    }
    this.expire();
  };

  private expire(): void {
    const stats = this.ctx.stats;
    if (this.lingering) {
      this.destroy();
      return;
    }
    if (this.incoming !== undefined) {
      stats.bodyTimeouts++;
      this.fail(408, new BodyError('timeout', 'the request body stalled'));
      return;
    }
    if (this.headStartedAt >= 0 && !this.awaitingNext) {
      stats.headerTimeouts++;
      this.fail(408, undefined);
      return;
    }
    stats.idleTimeouts++;
    this.closing = true;
    this.startClose();
  }
}
