/**
 * @module router/problem
 * Error responses of the data plane: RFC 9457 problem details (`application/problem+json`)
 * for clients that accept JSON, a one-line text body otherwise. Each names the environment,
 * service and cause where known.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toProblem, type SwitchyardError } from '../errors/index.js';

export function wantsJson(accept: string | undefined): boolean {
  return accept !== undefined && (accept.includes('json') || accept.includes('*/*') && !accept.includes('text/html'));
}

/** The problem's body for a client with this `Accept`: RFC 9457 JSON, else one text line. */
export function problemBody(err: SwitchyardError, accept: string | undefined, url: string | undefined): { contentType: string; body: string } {
  const status = err.statusCode === 499 ? 400 : err.statusCode;
  return wantsJson(accept)
    ? { contentType: 'application/problem+json', body: JSON.stringify(toProblem(err, url)) }
    : { contentType: 'text/plain; charset=utf-8', body: `${status} ${err.code}: ${err.message}\n` };
}

export function sendProblem(req: IncomingMessage, res: ServerResponse, err: SwitchyardError, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) { res.destroy(); return; }
  const status = err.statusCode === 499 ? 400 : err.statusCode;
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...extraHeaders };
  const p = problemBody(err, req.headers.accept, req.url);
  headers['content-type'] = p.contentType;
  const body = p.body;
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
