/**
 * @module router/http1/listener
 * A listening socket of the router: plain TCP or TLS, each accepted connection served by the
 * HTTP/1.1 engine ({@link Http1Connection}) — or by `node:http2` when the client speaks HTTP/2:
 * by ALPN `h2` on TLS, or by the HTTP/2 connection preface on a plain port (prior knowledge,
 * RFC 9113 §3.3). One sweep every 250 ms applies the connections' deadlines (head 408,
 * keep-alive idle). `close()` drains: no new connections, idle ones closed, busy ones closed
 * after their response, everything destroyed after the grace period.
 */
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { createServer as createH2Server, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import { Http1Connection, type ExchangeHandler, type Http1Limits } from './server.js';

export interface ListenerOptions {
  limits: Http1Limits;
  /** Requests from HTTP/2 clients (node:http2's compat API); without it HTTP/2 is not offered. */
  h2Handler?: (req: Http2ServerRequest, res: Http2ServerResponse) => void;
  /** TLS: certificates by SNI, ALPN `h2` / `http/1.1`. */
  tls?: TlsOptions;
  /** Told of requests refused by the engine itself (malformed, too large, too slow). */
  onRefused?: (remoteAddress: string, status: number, reason: string) => void;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Whether `bytes` open with the HTTP/2 client preface (undefined: a prefix of it so far). */
function isPreface(bytes: Buffer): boolean | undefined {
  const n = Math.min(bytes.length, PREFACE.length);
  if (bytes.compare(PREFACE, 0, n, 0, n) !== 0) return false;
  return bytes.length < PREFACE.length ? undefined : true;
}

export class Http1Listener {
  readonly server: NetServer;
  readonly #conns = new Set<Http1Connection>();
  readonly #h2: Http2Server | undefined;
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #sweep: ReturnType<typeof setInterval>;
  readonly https: boolean;

  constructor(handler: ExchangeHandler, readonly options: ListenerOptions) {
    this.https = options.tls !== undefined;
    if (options.h2Handler !== undefined) {
      // Cleartext HTTP/2 server: fed sockets (TCP after the preface, or TLS after ALPN h2) by hand.
      this.#h2 = createH2Server({}, options.h2Handler);
      this.#h2.on('session', (s) => { this.#sessions.add(s); s.once('close', () => this.#sessions.delete(s)); });
    }
    const onGone = (c: Http1Connection) => this.#conns.delete(c);
    // Paused before the bytes go back: a flowing socket would emit them to no listener.
    const preface = this.#h2 !== undefined && !this.https ? { check: isPreface, take: (socket: Socket, bytes: Buffer) => { socket.pause(); socket.unshift(bytes); this.#toH2(socket); } } : undefined;
    const accept = (socket: Socket) => {
      const c = new Http1Connection(socket, this.https, options.limits, handler, onGone, preface);
      if (options.onRefused !== undefined) { const f = options.onRefused; c.onRefused = (conn, status, reason) => f(conn.remoteAddress, status, reason); }
      this.#conns.add(c);
    };
    if (options.tls !== undefined) {
      const alpn = this.#h2 !== undefined ? ['h2', 'http/1.1'] : ['http/1.1'];
      this.server = createTlsServer({ ...options.tls, ALPNProtocols: alpn, allowHalfOpen: true } as TlsOptions);
      this.server.on('secureConnection', (socket: TLSSocket) => {
        if (socket.alpnProtocol === 'h2' && this.#h2 !== undefined) this.#toH2(socket);
        else accept(socket);
      });
      this.server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
    } else {
      this.server = createNetServer({ allowHalfOpen: true, noDelay: true }, accept);
    }
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (const c of this.#conns) c.sweep(now);
    }, 250);
    this.#sweep.unref();
  }

  /**
   * Hands a socket to node:http2. Our listeners accept half-open sockets (the HTTP/1.1 engine
   * decides what a client's FIN means); node:http2 expects a socket that closes when the client
   * does, so a FIN from an HTTP/2 client ends our side too — else the session, its streams and
   * their upstream requests would wait forever on a socket in CLOSE_WAIT.
   */
  #toH2(socket: Socket): void {
    socket.once('end', () => { if (!socket.destroyed) socket.end(); });
    this.#h2!.emit('connection', socket);
  }

  /** Binds; resolves with the port. */
  listen(port: number, host: string): Promise<number> {
    const server = this.server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve((server.address() as AddressInfo).port); });
    });
  }

  /** Open HTTP/1.1 connections. */
  get connections(): number { return this.#conns.size; }

  /**
   * Stops accepting and drains: idle connections close now, busy ones after their response,
   * HTTP/2 sessions get GOAWAY; after `drainMs` everything left is destroyed.
   */
  async close(drainMs: number): Promise<void> {
    clearInterval(this.#sweep);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const c of this.#conns) c.drain();
    for (const s of this.#sessions) s.close();
    const timer = setTimeout(() => {
      for (const c of this.#conns) c.destroy();
      for (const s of this.#sessions) s.destroy();
    }, drainMs);
    await closed;
    clearTimeout(timer);
  }
}
