/**
 * @module runtime/local/port
 * Free port allocation: bind port 0, read the port the kernel chose, close. The port is free at
 * that moment; another process could take it before the instance binds (rare on loopback).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** Returns a TCP port that was free on `host` (default `127.0.0.1`) a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
