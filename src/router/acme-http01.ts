/**
 * @module router/acme-http01
 * The HTTP-01 challenge responder (RFC 8555 §8.3) on the router's plain HTTP listener: the key
 * authorization for a token under `/.well-known/acme-challenge/`, from the challenge store the
 * control plane's ACME client fills.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChallengeStore } from '../edge/acme.js';

export const ACME_PREFIX = '/.well-known/acme-challenge/';

/** RFC 8555 §8.3: the key authorization for the token, as the ACME server fetches it over HTTP. */
export function answerChallenge(store: ChallengeStore, req: IncomingMessage, res: ServerResponse, path: string): void {
  const token = path.slice(ACME_PREFIX.length).split('?')[0]!;
  const send = (status: number, body: string) => res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' }).end(body);
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) { send(404, 'not found\n'); return; }
  store.get(token).then((ka) => (ka ? send(200, ka) : send(404, 'no such challenge\n')), () => send(503, 'challenge store unavailable\n'));
}
