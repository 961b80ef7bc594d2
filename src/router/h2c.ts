/**
 * @module router/h2c
 * HTTP/2 cleartext with prior knowledge (RFC 9113 §3.3) on a plain-HTTP listener that keeps
 * serving HTTP/1.1: each new connection's first bytes are peeked once; a connection that opens
 * with the HTTP/2 client preface goes to an `http2.createServer()`, any other to the node:http
 * server as usual. The peeked bytes are put back (`unshift`), so neither server misses them.
 */
import type { Server } from 'node:http';
import { createServer as createH2Server, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** A connection that sends nothing for this long is closed before it reaches either server. */
const FIRST_BYTES_MS = 60_000;

export interface H2cFront {
  readonly h2: Http2Server;
  /** Closes the h2c sessions (GOAWAY; in-flight streams finish) and connections still being peeked. */
  close(): void;
  /** Destroys every h2c session. */
  destroy(): void;
}

/**
 * Makes `server` (not yet listening) hand HTTP/2 prior-knowledge connections to a new cleartext
 * HTTP/2 server whose requests go to `handler` (the compat API, as for the HTTPS listener).
 */
export function attachH2c(server: Server, handler: (req: never, res: never) => void): H2cFront {
  const h2 = createH2Server({}, handler as never);
  const sessions = new Set<ServerHttp2Session>();
  const peeking = new Set<Socket>();
  h2.on('session', (s) => { sessions.add(s); s.once('close', () => sessions.delete(s)); });
  // node:http's own connection handling; it gets the sockets that are not HTTP/2.
  const h1 = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    peeking.add(socket);
    let buf: Buffer | undefined;
    const done = (toH2: boolean) => {
      socket.off('data', onData);
      socket.off('error', onGone);
      socket.off('close', onGone);
      socket.off('timeout', onGone);
      socket.setTimeout(0);
      peeking.delete(socket);
      socket.pause();
      if (buf !== undefined) socket.unshift(buf);
      if (toH2) h2.emit('connection', socket);
      else {
        for (const l of h1) l.call(server, socket);
        // node:http reads further bytes from the handle itself; the peeked ones flow as 'data'.
        socket.resume();
      }
    };
    const onData = (chunk: Buffer) => {
      buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
      const n = Math.min(buf.length, PREFACE.length);
      if (buf.compare(PREFACE, 0, n, 0, n) !== 0) done(false);
      else if (buf.length >= PREFACE.length) done(true);
      // else: a prefix of the preface so far; wait for more
    };
    const onGone = () => { peeking.delete(socket); socket.destroy(); };
    socket.on('data', onData);
    socket.on('error', onGone);
    socket.on('close', onGone);
    socket.on('timeout', onGone);
    socket.setTimeout(FIRST_BYTES_MS);
  });
  return {
    h2,
    close() {
      for (const s of peeking) s.destroy();
      peeking.clear();
      for (const s of sessions) s.close();
    },
    destroy() { for (const s of sessions) s.destroy(); },
  };
}
