/**
 * Differential test of the strict HTTP/1.1 request parser (src/router/http1/parse.ts and
 * chunked.ts) against Node's own llhttp, run through a real `node:http` server with default
 * options: fast-check generates request heads and bodies, valid and mutated, sends each as raw
 * bytes on its own connection, and compares the two verdicts.
 *
 * - Both accept: method, target, version, raw fields (names and values), body framing (kind and
 *   Content-Length), upgrade, and the decoded body must be equal.
 * - We refuse what llhttp accepts: allowed only when the sample matches one of the named
 *   {@link STRICTER} entries (a predicate on the generated sample, and the reason we gave), each
 *   with its RFC reason; docs/http1.md lists the same entries.
 * - llhttp refuses what we accept: always a failure (a bug in our parser).
 *
 * Deterministic under CI=true (fixed seed); otherwise the seed is printed, and HTTP1_DIFF_SEED /
 * HTTP1_DIFF_RUNS replay or widen a run.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BodyKind, ParseError } from '../../../src/router/http1/fields.js';
import { parseRequestHead, type RequestHead } from '../../../src/router/http1/parse.js';
import { ChunkedDecoder } from '../../../src/router/http1/chunked.js';

// ---------------------------------------------------------------------------------------------
// The sample model: a request as its parts, so the allowlist predicates can read what was sent.

interface Field {
  name: string;
  /** ":" or a mutation (" :", "\t:"). */
  colon: string;
  /** The value as sent, including any OWS. */
  value: string;
  /** "\r\n" or a mutation ("\n"). */
  eol: string;
  /** An obs-fold continuation line sent after this one ("" for none). */
  fold: string;
}

interface Chunk { size: string; ext: string; sizeEol: string; data: string; dataEol: string }

interface ChunkedModel { chunks: Chunk[]; lastSize: string; lastExt: string; lastEol: string; trailers: string[]; finalEol: string }

interface Sample {
  /** Bytes before the request line ("", "\r\n", …). */
  lead: string;
  method: string;
  sp1: string;
  target: string;
  sp2: string;
  version: string;
  lineEol: string;
  fields: Field[];
  endEol: string;
  /** The bytes after the head. */
  body: string;
  /** How `body` was built, when it is a chunked body. */
  chunked: ChunkedModel | undefined;
}

function render(s: Sample): Buffer {
  let h = `${s.lead}${s.method}${s.sp1}${s.target}${s.sp2}${s.version}${s.lineEol}`;
  for (const f of s.fields) h += `${f.name}${f.colon}${f.value}${f.eol}${f.fold}`;
  return Buffer.from(`${h}${s.endEol}${s.body}`, 'latin1');
}

function renderChunked(m: ChunkedModel): string {
  let out = '';
  for (const c of m.chunks) out += `${c.size}${c.ext}${c.sizeEol}${c.data}${c.dataEol}`;
  out += `${m.lastSize}${m.lastExt}${m.lastEol}`;
  for (const t of m.trailers) out += `${t}\r\n`;
  return out + m.finalEol;
}

const trimOws = (v: string): string => v.replace(/^[ \t]+|[ \t]+$/g, '');
const fieldsNamed = (s: Sample, name: string): Field[] => s.fields.filter((f) => f.name.toLowerCase() === name);
/** A field's value as a parser reads it: everything after the first colon, without OWS. */
const valueOf = (f: Field): string => trimOws(f.colon.slice(f.colon.indexOf(':') + 1) + f.value);

// ---------------------------------------------------------------------------------------------
// Where we are deliberately stricter than llhttp. Each entry: a predicate on the sample, the
// reason our parser (or chunked decoder) gives, and why (docs/http1.md has the same list).

interface Stricter { name: string; rfc: string; applies: (s: Sample) => boolean; reason: RegExp }

const HOSTCH = /^[-._~!$&'()*+,;=%[\]:0-9A-Za-z]*$/;

function absoluteAuthority(target: string): string | undefined {
  const m = /^https?:\/\/([^/?#]*)/i.exec(target);
  return m ? m[1] : undefined;
}

export const STRICTER: Stricter[] = [
  {
    name: 'duplicateHost',
    rfc: 'RFC 9112 §3.2: a server MUST answer 400 to a request with more than one Host field (llhttp keeps both; which one routes is ambiguous)',
    applies: (s) => fieldsNamed(s, 'host').length > 1,
    reason: /more than one Host/,
  },
  {
    name: 'missingHost',
    rfc: 'RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host; llhttp never checks, node:http does only for requests it does not hand to an upgrade listener',
    applies: (s) => s.version === 'HTTP/1.1' && fieldsNamed(s, 'host').length === 0,
    reason: /without a Host field/,
  },
  {
    name: 'invalidHostValue',
    rfc: 'RFC 9110 §7.2, RFC 3986 §3.2.2: Host is uri-host [":" port]; spaces, "@", "/" or non-ASCII in it would route on a name no backend agrees on',
    applies: (s) => fieldsNamed(s, 'host').some((f) => !HOSTCH.test(valueOf(f))),
    reason: /invalid Host/,
  },
  {
    name: 'absoluteFormAuthorityMismatch',
    rfc: 'RFC 9112 §3.2.2: with an absolute-form target the server must ignore Host; a proxy that routes on Host while the upstream reads the target would disagree, so the two must match (case-insensitively)',
    applies: (s) => {
      const a = absoluteAuthority(s.target);
      const hosts = fieldsNamed(s, 'host');
      return a !== undefined && !a.includes('@') && a !== '' && (hosts.length !== 1 || valueOf(hosts[0]!).toLowerCase() !== a.toLowerCase());
    },
    reason: /disagrees with Host/,
  },
  {
    name: 'fragmentInTarget',
    rfc: 'RFC 9112 §3.2 / RFC 9110 §4.2.5: a request target has no fragment (a client keeps it); llhttp parses and passes one on',
    applies: (s) => s.target.includes('#'),
    reason: /invalid byte 0x23 in the request target/,
  },
  {
    name: 'absoluteFormNotHttp',
    rfc: 'RFC 9112 §3.2.2 / RFC 9110 §4.2.4: absolute-form is an http(s) URI; userinfo in it is deprecated and SHOULD be treated as an error; other schemes are not ours to serve',
    applies: (s) => s.target !== '*' && !s.target.startsWith('/') && (absoluteAuthority(s.target) === undefined || absoluteAuthority(s.target)!.includes('@') || absoluteAuthority(s.target) === ''),
    reason: /not in origin, absolute or asterisk form/,
  },
  {
    name: 'asteriskFormNotOptions',
    rfc: 'RFC 9112 §3.2.4: the asterisk-form is only used for a server-wide OPTIONS request',
    applies: (s) => s.target === '*' && s.method !== 'OPTIONS',
    reason: /OPTIONS only/,
  },
  {
    name: 'connectMethod',
    rfc: 'RFC 9110 §9.3.6: CONNECT asks for a tunnel; switchyard is not a forward proxy (405)',
    applies: (s) => s.method === 'CONNECT',
    reason: /CONNECT is not supported/,
  },
  {
    name: 'httpVersionNot1x',
    rfc: 'RFC 9112 §2.3: this syntax frames HTTP/1.0 and HTTP/1.1 only; llhttp also takes "HTTP/0.9" and "HTTP/2.0" request lines (505)',
    applies: (s) => s.version === 'HTTP/0.9' || s.version === 'HTTP/2.0',
    reason: /is not supported on this connection/,
  },
  {
    name: 'requestLineWhitespace',
    rfc: 'RFC 9112 §3: method SP request-target SP HTTP-version with single spaces; lenient whitespace parsing is a desync vector (§3, §11.2) and llhttp accepts extra spaces',
    applies: (s) => s.sp1 !== ' ' || s.sp2 !== ' ',
    reason: /malformed request line/,
  },
  {
    name: 'bareLfBeforeRequestLine',
    rfc: 'RFC 9112 §2.2: a recipient MAY take a bare LF as a line end; we never do (a bare LF read two ways is a desync vector); llhttp skips a bare LF before the request line',
    applies: (s) => /(^|[^\r])\n/.test(s.lead),
    reason: /bare LF before the request line/,
  },
  {
    name: 'moreThanOneLeadingEmptyLine',
    rfc: 'RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line; we ignore exactly one, more is junk between messages',
    applies: (s) => /^(\r\n){2,}/.test(s.lead),
    reason: /malformed request line/,
  },
  {
    name: 'transferEncodingNotExactlyChunked',
    rfc: 'RFC 9112 §6.1: we decode only chunked and forward bodies unchanged; other codings (llhttp takes "gzip, chunked" and joins several Transfer-Encoding fields) are 501/400',
    applies: (s) => {
      const te = fieldsNamed(s, 'transfer-encoding');
      return te.length > 1 || te.some((f) => valueOf(f).toLowerCase() !== 'chunked');
    },
    reason: /unsupported transfer coding|more than one Transfer-Encoding|does not end in chunked|applies chunked more than once/,
  },
  {
    name: 'contentLengthWithTransferEncoding',
    rfc: 'RFC 9112 §6.1, §11.2: a server MAY reject a request with both; llhttp ignores an empty Transfer-Encoding and frames by Content-Length, a classic smuggling split, so any pair is 400',
    applies: (s) => fieldsNamed(s, 'transfer-encoding').length > 0 && fieldsNamed(s, 'content-length').length > 0,
    reason: /Content-Length together with Transfer-Encoding/,
  },
  {
    name: 'transferEncodingInHttp10',
    rfc: 'RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message MUST be treated as faulty framing',
    applies: (s) => s.version === 'HTTP/1.0' && fieldsNamed(s, 'transfer-encoding').length > 0,
    reason: /Transfer-Encoding in an HTTP\/1\.0 request/,
  },
  {
    name: 'contentLengthOver15Digits',
    rfc: 'RFC 9110 §8.6 allows any 1*DIGIT; we cap the field at 15 characters (leading zeros included) so the value stays exact in a JS number',
    applies: (s) => fieldsNamed(s, 'content-length').some((f) => /^[0-9]{16,}$/.test(valueOf(f))),
    reason: /invalid Content-Length/,
  },
  {
    name: 'htabInFramingField',
    rfc: 'RFC 9110 §5.5 allows HTAB as OWS, but llhttp refuses it after a Content-Length/Transfer-Encoding value (not before) and does not see "upgrade<HTAB>" in Connection as upgrade; we refuse HTAB in all three (they decide where a message ends)',
    applies: (s) => ['content-length', 'transfer-encoding', 'connection'].some((n) => fieldsNamed(s, n).some((f) => f.value.includes('\t'))),
    reason: /HTAB in the (Content-Length|Transfer-Encoding|Connection)/,
  },
  {
    name: 'expectationNotExactly100Continue',
    rfc: 'RFC 9110 §10.1.1: a server MAY answer 417 to an expectation it does not meet; Node takes any list containing 100-continue and ignores Expect in HTTP/1.0, we take exactly one "100-continue"',
    applies: (s) => {
      const ex = fieldsNamed(s, 'expect');
      return ex.length > 0 && ex.map((f) => valueOf(f)).join(', ').toLowerCase() !== '100-continue';
    },
    reason: /unsupported expectation/,
  },
  {
    name: 'chunkSizeOver12HexDigits',
    rfc: 'RFC 9112 §7.1 allows any 1*HEXDIG; we cap chunk-size at 12 digits (leading zeros included) so it stays exact, and a size line is bounded',
    applies: (s) => s.chunked !== undefined && [...s.chunked.chunks.map((c) => c.size), s.chunked.lastSize].some((z) => /^[0-9a-fA-F]{13,}$/.test(z)),
    reason: /chunk size too large/,
  },
  {
    name: 'connectionNamesFramingField',
    rfc: 'RFC 9110 §7.6.1: Connection lists hop-by-hop fields; naming Content-Length, Transfer-Encoding or Host would have a hop remove the framing (or routing) of an end-to-end message and forward its body as the next request; llhttp accepts it',
    applies: (s) => fieldsNamed(s, 'connection').some((f) => /(^|,)\s*(content-length|transfer-encoding|host)\s*(,|$)/i.test(valueOf(f))),
    reason: /a framing or routing field that cannot be hop-by-hop/,
  },
  {
    name: 'framingFieldInTrailer',
    rfc: 'RFC 9110 §6.5.1: framing and routing fields (Content-Length, Transfer-Encoding, Host, Connection…) cannot be processed in a trailer section; a next hop that merged them into the header section would frame or route differently',
    applies: (s) => s.chunked !== undefined && s.chunked.trailers.some((t) => /^(content-length|transfer-encoding|host|trailer|connection|keep-alive|upgrade|te):/i.test(t)),
    reason: /is not allowed in a trailer section/,
  },
  {
    name: 'chunkExtensionEmptyName',
    rfc: 'RFC 9112 §7.1.1: chunk-ext-name is a token (1*tchar); llhttp accepts ";=value"',
    applies: (s) => s.chunked !== undefined && [...s.chunked.chunks.map((c) => c.ext), s.chunked.lastExt].some((e) => /(^|;)=/.test(e)),
    reason: /start of a chunk extension name/,
  },
];

/** Where llhttp is stricter and we are sure our acceptance is right: none. */
const LLHTTP_STRICTER: Stricter[] = [];

// ---------------------------------------------------------------------------------------------
// Our verdict.

interface Verdict {
  ok: boolean;
  /** The refusal (status and reason), or why the message is incomplete. */
  why?: string;
  method?: string;
  target?: string;
  version?: string;
  raw?: string[];
  kind?: BodyKind;
  contentLength?: number;
  upgrade?: boolean;
  /** The connection may carry another request (not for upgrades). */
  keepAlive?: boolean;
  body?: string;
}

function ours(buf: Buffer): Verdict {
  const h = parseRequestHead(buf, 0, buf.length);
  if (h === undefined) return { ok: false, why: 'incomplete head' };
  if (h instanceof ParseError) return { ok: false, why: `${h.status} ${h.reason}` };
  const head = headOf(h);
  if (h.upgrade) return { ...head, ok: true };
  head.keepAlive = h.keepAlive;
  const at = h.length;
  if (h.body === BodyKind.Length) {
    if (buf.length - at < h.contentLength) return { ...head, ok: false, why: 'incomplete body' };
    return { ...head, ok: true, body: buf.toString('latin1', at, at + h.contentLength) };
  }
  if (h.body === BodyKind.Chunked) {
    const d = new ChunkedDecoder();
    let body = '';
    d.feed(buf, at, buf.length, (b, s, e) => { body += Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1', s, e); });
    if (d.error !== undefined) return { ...head, ok: false, why: `chunked: ${d.error}` };
    if (!d.done) return { ...head, ok: false, why: 'incomplete chunked body' };
    return { ...head, ok: true, body };
  }
  return { ...head, ok: true, body: '' };
}

function headOf(h: RequestHead): Verdict {
  return {
    ok: true, method: h.method, target: h.target, version: `1.${h.versionMinor}`, raw: h.raw,
    kind: h.body, contentLength: h.contentLength, upgrade: h.upgrade,
  };
}

// ---------------------------------------------------------------------------------------------
// llhttp's verdict, through a node:http server with default options.

interface NodeSlot { req?: http.IncomingMessage; keepAlive?: boolean; body: Buffer[]; outcome: string; error?: string; closed: Promise<void> }

interface LlhttpServer { send(buf: Buffer): Promise<Verdict>; close(): Promise<void> }

async function startLlhttp(): Promise<LlhttpServer> {
  const slots = new Map<number, NodeSlot>();
  const server = http.createServer();
  const slotOf = (sock: net.Socket): NodeSlot | undefined => slots.get(sock.remotePort!);
  server.on('connection', (sock) => {
    let closed!: () => void;
    const slot: NodeSlot = { body: [], outcome: 'none', closed: new Promise<void>((r) => { closed = r; }) };
    slots.set(sock.remotePort!, slot);
    sock.on('close', () => closed());
  });
  server.on('request', (req, res) => {
    const slot = slotOf(req.socket);
    if (!slot || slot.req) { res.destroy(); return; } // only the first request of a sample counts
    slot.req = req;
    slot.outcome = 'request';
    slot.keepAlive = res.shouldKeepAlive; // llhttp's should_keep_alive, before our Connection: close
    req.on('data', (c: Buffer) => slot.body.push(c));
    req.on('error', () => {});
    req.on('end', () => { res.setHeader('connection', 'close'); res.end(); });
  });
  server.on('checkExpectation', (req, res) => {
    const slot = slotOf(req.socket);
    if (slot && !slot.req) { slot.outcome = 'expectation-failed'; slot.error = `417 ${req.headers.expect}`; }
    res.writeHead(417, { connection: 'close' }).end();
  });
  for (const event of ['upgrade', 'connect'] as const) {
    server.on(event, (req: http.IncomingMessage, sock: net.Socket) => {
      const slot = slotOf(sock);
      if (slot && !slot.req) { slot.req = req; slot.outcome = event; }
      sock.destroy();
    });
  }
  server.on('clientError', (err: NodeJS.ErrnoException, sock: net.Socket) => {
    const slot = slotOf(sock);
    if (slot && slot.error === undefined) slot.error = err.code ?? err.message;
    sock.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  async function send(buf: Buffer): Promise<Verdict> {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((r, j) => { sock.once('connect', r); sock.once('error', j); });
    const lport = sock.localPort!;
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('error', () => {});
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.end(buf);
    const timer = setTimeout(() => sock.destroy(), 5000);
    await closed;
    clearTimeout(timer);
    let slot = slots.get(lport);
    for (let i = 0; !slot && i < 200; i++) { await new Promise((r) => setTimeout(r, 1)); slot = slots.get(lport); }
    if (!slot) throw new Error('the node:http server never saw the connection');
    await slot.closed;
    slots.delete(lport);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(got).toString('latin1'))?.[1];
    const req = slot.req;
    if (!req || slot.outcome === 'expectation-failed') return { ok: false, why: slot.error ?? `status ${status ?? 'none'}` };
    const te = req.headers['transfer-encoding'];
    const cl = req.headers['content-length'];
    // llhttp ignores an empty Transfer-Encoding field.
    const kind = te !== undefined && te !== '' ? BodyKind.Chunked : cl !== undefined && Number(cl) > 0 ? BodyKind.Length : BodyKind.None;
    const head: Verdict = {
      ok: true, method: req.method, target: req.url, version: req.httpVersion, raw: req.rawHeaders,
      kind, contentLength: kind === BodyKind.Length ? Number(cl) : 0, upgrade: slot.outcome === 'upgrade',
    };
    if (slot.outcome === 'upgrade' || slot.outcome === 'connect') return head;
    head.keepAlive = slot.keepAlive;
    // `complete` is set synchronously when llhttp finishes the message, before any later error.
    if (!req.complete) return { ...head, ok: false, why: slot.error ?? 'incomplete' };
    return { ...head, body: Buffer.concat(slot.body).toString('latin1') };
  }

  return {
    send,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

// ---------------------------------------------------------------------------------------------
// The comparison.

type Outcome = 'both-accept' | 'both-reject' | `stricter:${string}`;

function compare(s: Sample, o: Verdict, n: Verdict): Outcome {
  const show = () => `\n  sample: ${JSON.stringify(render(s).toString('latin1'))}\n  ours:   ${JSON.stringify(o)}\n  llhttp: ${JSON.stringify(n)}`;
  if (o.ok && n.ok) {
    const fields = ['method', 'target', 'version', 'raw', 'kind', 'contentLength', 'upgrade', 'keepAlive', 'body'] as const;
    for (const k of fields) {
      if (k === 'body' && o.upgrade) continue;
      if (JSON.stringify(o[k]) !== JSON.stringify(n[k])) throw new Error(`both accept but ${k} differs:${show()}`);
    }
    return 'both-accept';
  }
  if (!o.ok && !n.ok) return 'both-reject';
  if (!o.ok) {
    const entry = STRICTER.find((e) => e.applies(s) && e.reason.test(o.why ?? ''));
    if (entry) return `stricter:${entry.name}`;
    throw new Error(`we refuse what llhttp accepts, and no STRICTER entry explains it:${show()}`);
  }
  const entry = LLHTTP_STRICTER.find((e) => e.applies(s));
  if (entry) return `stricter:llhttp:${entry.name}`;
  throw new Error(`llhttp refuses what we accept (a bug in our parser):${show()}`);
}

// ---------------------------------------------------------------------------------------------
// Generators.

/** Picks mostly the first (valid) arbitrary, sometimes a mutation. */
function mostly<T>(valid: fc.Arbitrary<T>, mutated: fc.Arbitrary<T>, validWeight = 12): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: valid, weight: validWeight }, { arbitrary: mutated, weight: 1 });
}

const HOSTS = ['a.example', 'a.example:8080', 'localhost', '127.0.0.1:3000', '[::1]:8080', 'xn--bcher-kva.example', ''];

const methodArb = mostly(
  fc.constantFrom('GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'HEAD', 'OPTIONS', 'DELETE', 'PATCH', 'QUERY', 'M-SEARCH', 'PROPFIND'),
  fc.constantFrom('get', 'Post', 'BREW', 'DESCRIBE', 'PRI', 'CONNECT', 'G@T', 'GE T', ''),
  12,
);

const pathChars = [...'abcxyz019-._~!$&\'()*+,;=:@%/', '"', '<', '>', '\\', '^', '`', '{', '|', '}', '#'];
const pathArb = fc.string({ unit: fc.constantFrom(...pathChars), maxLength: 12 }).map((p) => `/${p}`);
const queryArb = fc.option(fc.string({ unit: fc.constantFrom(...'abc=&%20?/'), maxLength: 8 }).map((q) => `?${q}`), { nil: '' });
const originArb = fc.tuple(pathArb, queryArb).map(([p, q]) => p + q);

/** A target; `{authority}` / `{AUTHORITY}` stand for the Host value, resolved when assembling. */
const targetArb = fc.oneof(
  { arbitrary: originArb, weight: 12 },
  {
    arbitrary: fc.tuple(
      fc.constantFrom('http', 'https', 'HTTP', 'http', 'ftp'),
      fc.oneof({ arbitrary: fc.constant(''), weight: 8 }, { arbitrary: fc.constant('u@'), weight: 1 }),
      fc.constantFrom('{authority}', '{authority}', '{AUTHORITY}', 'b.example', 'a.example:81', ''),
      fc.oneof(originArb, fc.constant(''), fc.constant('?q')),
    ).map(([scheme, user, auth, rest]) => `${scheme}://${user}${auth}${rest}`),
    weight: 3,
  },
  { arbitrary: fc.constant('*'), weight: 1 },
  {
    arbitrary: fc.tuple(originArb, fc.constantFrom('\0', '\t', '\x01', '\x0c', '\x7f', '\x80', '\xe9', '\xff', '\r'), fc.nat()).map(([t, c, k]) => {
      const i = 1 + (k % t.length);
      return t.slice(0, i) + c + t.slice(i);
    }),
    weight: 1,
  },
  { arbitrary: fc.constantFrom('foo', '?a', 'http:/a/', 'a.example:443', '//x', '*x'), weight: 1 },
);

const versionArb = mostly(
  fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'),
  fc.constantFrom('HTTP/1.2', 'HTTP/1.9', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/3.0', 'http/1.1', 'HTTP/1.10', 'HTTP/1.1 ', 'HTTP/1', 'HTTP/11'),
  16,
);

const eolArb = mostly(fc.constant('\r\n'), fc.constantFrom('\n', '\r\r\n'), 40);
const colonArb = mostly(fc.constant(':'), fc.constantFrom(' :', '\t:', '::'), 40);
const foldArb = mostly(fc.constant(''), fc.constantFrom(' folded\r\n', '\tfolded\r\n'), 60);
const owsArb = mostly(fc.constantFrom(' ', ' ', '', '  '), fc.constantFrom('\t', ' \t'), 24);

function field(name: fc.Arbitrary<string>, value: fc.Arbitrary<string>): fc.Arbitrary<Field> {
  return fc.record({ name, colon: colonArb, value: fc.tuple(owsArb, value, owsArb).map(([a, v, b]) => a + v + b), eol: eolArb, fold: foldArb });
}

const hostNameArb = fc.constantFrom('Host', 'Host', 'host', 'HOST');
const hostFieldsArb: fc.Arbitrary<Field[]> = fc.oneof(
  { arbitrary: field(hostNameArb, fc.constantFrom(...HOSTS)).map((f) => [f]), weight: 20 },
  { arbitrary: fc.constant<Field[]>([]), weight: 1 },
  { arbitrary: fc.tuple(field(hostNameArb, fc.constantFrom(...HOSTS)), field(hostNameArb, fc.constantFrom(...HOSTS))).map((p) => [...p]), weight: 1 },
  { arbitrary: field(hostNameArb, fc.constantFrom('a b', 'u@a', 'a/b', 'caf\xe9.example', 'a\tb')).map((f) => [f]), weight: 1 },
);

const otherNameArb = mostly(
  fc.constantFrom('X-Custom', 'Accept', 'user-agent', 'x-a', "!#$%&'*+-.^_`|~09", 'Cookie', 'X-Forwarded-For'),
  fc.constantFrom('X\0', 'X\xe9', 'X@Y', 'X(Y)', 'X"', '', 'X Y', 'X\x7f'),
  20,
);
const otherValueArb = mostly(
  fc.constantFrom('', 'text/html', 'a b', 'a\tb', 'caf\xe9', '\xff\x80', 'x=1; y=2', '*/*', '"quoted"'),
  fc.constantFrom('a\0b', 'a\x01', 'a\x7f', 'a\x0bb', 'a\rb', 'a\x1f'),
  20,
);
const otherFieldsArb = fc.array(field(otherNameArb, otherValueArb), { maxLength: 4 });

const connFieldsArb: fc.Arbitrary<Field[]> = fc.oneof(
  { arbitrary: fc.constant<Field[]>([]), weight: 10 },
  { arbitrary: field(fc.constant('Connection'), fc.constantFrom('close', 'keep-alive', 'Keep-Alive, foo', 'close', 'keep-alive', 'content-length', 'Transfer-Encoding, close')).map((f) => [f]), weight: 3 },
  {
    arbitrary: fc.tuple(field(fc.constant('Connection'), fc.constantFrom('upgrade', 'keep-alive, Upgrade')), field(fc.constant('Upgrade'), fc.constant('websocket'))).map((p) => [...p]),
    weight: 1,
  },
  { arbitrary: field(fc.constant('Upgrade'), fc.constant('websocket')).map((f) => [f]), weight: 1 },
  { arbitrary: field(fc.constant('Expect'), fc.constantFrom('100-continue', '100-Continue', 'foo', '100-continue, foo', '')).map((f) => [f]), weight: 2 },
  { arbitrary: fc.tuple(field(fc.constant('Expect'), fc.constant('100-continue')), field(fc.constant('Expect'), fc.constant('100-continue'))).map((p) => [...p]), weight: 1 },
);

const bodyDataArb = fc.string({ unit: fc.constantFrom(...'abcXYZ019 \r\n\0\xe9\xff'), maxLength: 16 });

type ClForm = 'plain' | 'ows' | 'plus' | 'list' | 'tab-before' | 'tab-after' | 'zeros' | 'zeros16' | 'huge' | 'empty' | 'minus' | 'hex' | 'two';
function clValue(form: ClForm, n: number): string {
  switch (form) {
    case 'plain': return `${n}`;
    case 'ows': return ` ${n} `;
    case 'plus': return `+${n}`;
    case 'list': return `${n},${n}`;
    case 'tab-before': return `\t${n}`;
    case 'tab-after': return `${n}\t`;
    case 'zeros': return `00${n}`;
    case 'zeros16': return `${n}`.padStart(16, '0');
    case 'huge': return '99999999999999999999';
    case 'empty': return '';
    case 'minus': return `-${n}`;
    case 'hex': return `0x${n.toString(16)}`;
    case 'two': return `${n} ${n}`;
  }
}
const clFormArb: fc.Arbitrary<ClForm> = mostly(
  fc.constantFrom<ClForm>('plain', 'plain', 'plain', 'ows', 'zeros'),
  fc.constantFrom<ClForm>('plus', 'list', 'tab-before', 'tab-after', 'zeros16', 'huge', 'empty', 'minus', 'hex', 'two'),
  6,
);
const deltaArb = mostly(fc.constant(0), fc.constantFrom(-1, 1, 2), 8);

const clField = (value: string): Field => ({ name: 'Content-Length', colon: ':', value, eol: '\r\n', fold: '' });
const teField = (value: string): Field => ({ name: 'Transfer-Encoding', colon: ':', value, eol: '\r\n', fold: '' });

type SizeForm = 'hex' | 'HEX' | 'zeros' | 'zeros13' | 'bad' | 'plus1' | 'minus1' | 'space' | 'empty';
function sizeString(form: SizeForm, n: number): string {
  switch (form) {
    case 'hex': return n.toString(16);
    case 'HEX': return n.toString(16).toUpperCase();
    case 'zeros': return n.toString(16).padStart(4, '0');
    case 'zeros13': return n.toString(16).padStart(13, '0');
    case 'bad': return 'g';
    case 'plus1': return (n + 1).toString(16);
    case 'minus1': return Math.max(0, n - 1).toString(16);
    case 'space': return `${n.toString(16)} `;
    case 'empty': return '';
  }
}
const sizeFormArb: fc.Arbitrary<SizeForm> = mostly(fc.constantFrom<SizeForm>('hex', 'hex', 'HEX', 'zeros'), fc.constantFrom<SizeForm>('zeros13', 'bad', 'plus1', 'minus1', 'space', 'empty'), 20);
const extArb = mostly(
  fc.constantFrom('', '', '', '', ';a', ';a=b', ';a="b c"', ';a=', ';a=""', ';a;b', ';n="q\\"x\xe9"'),
  fc.constantFrom(' ', ' ;a', ';', ';;', ';=b', ';a b', ';a=b=c', ';\xe9', ';a="x', ';a="b"c', ';a="\x01"', '\t;a'),
  20,
);
const trailerArb = mostly(
  fc.constantFrom('X-T: v', 'X-E:', 'x-o: caf\xe9', 'X-Sum:\t1 2 ', 'X-T: v', 'X-E:', 'Content-Length: 5', 'host: a', 'Transfer-Encoding: chunked'),
  fc.constantFrom('garbage', 'X : v', ': v', 'X: a\0', ' folded', 'X: \x7f'),
  10,
);
const chunkedArb: fc.Arbitrary<ChunkedModel> = fc.record({
  chunks: fc.array(
    fc.tuple(fc.string({ unit: fc.constantFrom(...'abc\r\n\0\xe9'), minLength: 1, maxLength: 12 }), sizeFormArb, extArb, eolArb, mostly(fc.constant('\r\n'), fc.constantFrom('\n', '', 'X', '\r'), 30))
      .map(([data, form, ext, sizeEol, dataEol]): Chunk => ({ size: sizeString(form, data.length), ext, sizeEol, data, dataEol })),
    { maxLength: 3 },
  ),
  lastSize: mostly(fc.constantFrom('0', '0', '000'), fc.constantFrom('0000000000000', '00000000000000000', ''), 30),
  lastExt: extArb,
  lastEol: eolArb,
  trailers: fc.oneof({ arbitrary: fc.constant<string[]>([]), weight: 4 }, { arbitrary: fc.array(trailerArb, { minLength: 1, maxLength: 2 }), weight: 1 }),
  finalEol: mostly(fc.constant('\r\n'), fc.constantFrom('\n', '', '\r'), 30),
});

interface Framing { fields: Field[]; body: string; chunked: ChunkedModel | undefined }

const framingArb: fc.Arbitrary<Framing> = fc.oneof(
  { arbitrary: fc.constant<Framing>({ fields: [], body: '', chunked: undefined }), weight: 6 },
  {
    // Content-Length (once, or twice)
    arbitrary: fc.tuple(bodyDataArb, clFormArb, deltaArb, mostly(fc.constant<ClForm | undefined>(undefined), fc.constantFrom<ClForm | undefined>('plain', 'ows'), 12), fc.boolean())
      .map(([data, form, delta, second, secondSame]): Framing => {
        const n = Math.max(0, data.length + delta);
        const fields = [clField(clValue(form, n))];
        if (second) fields.push(clField(clValue(second, secondSame ? n : n + 1)));
        return { fields, body: data, chunked: undefined };
      }),
    weight: 5,
  },
  {
    // Transfer-Encoding (with a chunked body, maybe mutated), sometimes with Content-Length too
    arbitrary: fc.tuple(
      mostly(
        mostly<string>(fc.constantFrom('chunked', 'chunked', 'Chunked'), fc.constantFrom('gzip, chunked', 'chunked, gzip', 'identity', 'chunked, chunked', '', 'xchunked', 'chunked\t', '\tchunked', 'gzip,\tchunked'), 8).map((v) => [v]),
        fc.constantFrom<string[]>(['chunked', 'chunked'], ['gzip', 'chunked'], ['chunked', 'gzip'], ['identity', 'chunked']),
        10,
      ),
      chunkedArb,
      mostly(fc.constant<string | undefined>(undefined), fc.constantFrom('0', '5', '3'), 12),
      mostly(fc.constant(0), fc.integer({ min: 1, max: 6 }), 16),
    ).map(([tes, model, cl, cut]): Framing => {
      const fields = tes.map(teField);
      if (cl !== undefined) fields.push(clField(cl));
      const body = renderChunked(model);
      return { fields, body: cut > 0 ? body.slice(0, Math.max(0, body.length - cut)) : body, chunked: model };
    }),
    weight: 5,
  },
);

const sampleArb: fc.Arbitrary<Sample> = fc.record({
  lead: mostly(fc.constant(''), fc.constantFrom('\r\n', '\r\n\r\n', '\n', ' '), 16),
  method: methodArb,
  sp1: mostly(fc.constant(' '), fc.constantFrom('  ', '\t'), 40),
  target: targetArb,
  sp2: mostly(fc.constant(' '), fc.constantFrom('  ', '\t'), 40),
  version: versionArb,
  lineEol: eolArb,
  host: hostFieldsArb,
  framing: framingArb,
  others: otherFieldsArb,
  conn: connFieldsArb,
  rotate: fc.nat(),
  endEol: eolArb,
}).map((r): Sample => {
  const all = [...r.host, ...r.framing.fields, ...r.others, ...r.conn];
  const k = all.length === 0 ? 0 : r.rotate % all.length;
  const fields = [...all.slice(k), ...all.slice(0, k)];
  const hostValue = r.host.length > 0 ? trimOws(r.host[0]!.value) : 'a.example';
  const target = r.target.replace('{authority}', hostValue).replace('{AUTHORITY}', hostValue.toUpperCase());
  return {
    lead: r.lead, method: r.method, sp1: r.sp1, target, sp2: r.sp2, version: r.version, lineEol: r.lineEol,
    fields, endEol: r.endEol, body: r.framing.body, chunked: r.framing.chunked,
  };
});

// ---------------------------------------------------------------------------------------------

const CI = process.env.CI === 'true';
const RUNS = Number(process.env.HTTP1_DIFF_RUNS) || 4000;
const SEED = Number(process.env.HTTP1_DIFF_SEED) || (CI ? 0x5317c4 : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0);

/** A sample with defaults, for the pinned examples. */
function sample(over: Partial<Sample> & { head?: string[] }): Sample {
  const fields = (over.head ?? ['Host: a.example']).map((line): Field => {
    const i = line.indexOf(':');
    return { name: line.slice(0, i), colon: ':', value: line.slice(i + 1), eol: '\r\n', fold: '' };
  });
  return { lead: '', method: 'GET', sp1: ' ', target: '/', sp2: ' ', version: 'HTTP/1.1', lineEol: '\r\n', fields, endEol: '\r\n', body: '', chunked: undefined, ...over };
}
const chunkedSample = (model: Partial<ChunkedModel>): Sample => {
  const m: ChunkedModel = { chunks: [{ size: '3', ext: '', sizeEol: '\r\n', data: 'abc', dataEol: '\r\n' }], lastSize: '0', lastExt: '', lastEol: '\r\n', trailers: [], finalEol: '\r\n', ...model };
  return sample({ method: 'POST', head: ['Host: a.example', 'Transfer-Encoding: chunked'], body: renderChunked(m), chunked: m });
};

/** One example per STRICTER entry: llhttp accepts it, we refuse it for that entry's reason. */
const EXAMPLES: Record<string, Sample> = {
  duplicateHost: sample({ head: ['Host: a.example', 'host: a.example'] }),
  invalidHostValue: sample({ head: ['Host: a b'] }),
  missingHost: sample({ head: ['Connection: upgrade', 'Upgrade: websocket'] }),
  absoluteFormAuthorityMismatch: sample({ target: 'http://b.example/x' }),
  absoluteFormNotHttp: sample({ target: 'http://u@a.example/' }),
  asteriskFormNotOptions: sample({ method: 'M-SEARCH', target: '*' }),
  fragmentInTarget: sample({ target: '/a#frag' }),
  connectMethod: sample({ method: 'CONNECT', target: 'a.example:443', head: ['Host: a.example:443'] }),
  httpVersionNot1x: sample({ version: 'HTTP/2.0' }),
  requestLineWhitespace: sample({ sp1: '  ' }),
  moreThanOneLeadingEmptyLine: sample({ lead: '\r\n\r\n' }),
  bareLfBeforeRequestLine: sample({ lead: '\n' }),
  transferEncodingNotExactlyChunked: sample({ method: 'POST', head: ['Host: a.example', 'Transfer-Encoding: gzip, chunked'], body: '0\r\n\r\n' }),
  contentLengthWithTransferEncoding: sample({ method: 'POST', head: ['Host: a.example', 'Transfer-Encoding:', 'Content-Length: 0'] }),
  transferEncodingInHttp10: sample({ method: 'POST', version: 'HTTP/1.0', head: ['Transfer-Encoding: chunked'], body: '0\r\n\r\n' }),
  contentLengthOver15Digits: sample({ method: 'POST', head: ['Host: a.example', 'Content-Length: 0000000000000003'], body: 'abc' }),
  htabInFramingField: sample({ method: 'POST', head: ['Host: a.example', 'Content-Length:\t3'], body: 'abc' }),
  expectationNotExactly100Continue: sample({ head: ['Host: a.example', 'Expect: 100-continue, foo'] }),
  chunkSizeOver12HexDigits: chunkedSample({ chunks: [{ size: '0000000000003', ext: '', sizeEol: '\r\n', data: 'abc', dataEol: '\r\n' }] }),
  chunkExtensionEmptyName: chunkedSample({ lastExt: ';=b' }),
  framingFieldInTrailer: chunkedSample({ trailers: ['host: a'] }),
  connectionNamesFramingField: sample({ method: 'POST', head: ['Host: a.example', 'Connection: content-length', 'Content-Length: 3'], body: 'abc' }),
};

describe('differential: our HTTP/1.1 parser vs llhttp (node:http, default options)', () => {
  let node: LlhttpServer;
  beforeAll(async () => { node = await startLlhttp(); });
  afterAll(async () => { await node?.close(); });

  test('every STRICTER entry has an example that llhttp accepts and we refuse for that reason', async () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(STRICTER.map((e) => e.name).sort());
    for (const entry of STRICTER) {
      const s = EXAMPLES[entry.name]!;
      const buf = render(s);
      const o = ours(buf);
      const n = await node.send(buf);
      const ctx = `${entry.name}: ${JSON.stringify(buf.toString('latin1'))} ours=${JSON.stringify(o)} llhttp=${JSON.stringify(n)}`;
      expect(n.ok, ctx).toBe(true);
      expect(o.ok, ctx).toBe(false);
      expect(o.why, ctx).toMatch(entry.reason);
      expect(entry.applies(s), ctx).toBe(true);
      expect(compare(s, o, n)).toBe(`stricter:${entry.name}`);
    }
  });

  test('hand-picked agreements: both accept with the same reading, or both refuse', async () => {
    const agree: [Sample, boolean][] = [
      [sample({}), true],
      [sample({ head: [] }), false], // HTTP/1.1 without Host (node:http's requireHostHeader)
      [sample({ version: 'HTTP/1.0', head: ['Connection: keep-alive'] }), true],
      [sample({ method: 'OPTIONS', target: '*' }), true],
      [sample({ target: 'https://A.example/x?y', head: ['Host: a.example'] }), true],
      [sample({ method: 'POST', head: ['Host: a.example', 'Content-Length: 3', 'Content-Length: 3'], body: 'abc' }), false],
      [sample({ method: 'POST', head: ['Host: a.example', 'Content-Length: +3'], body: 'abc' }), false],
      [sample({ method: 'POST', head: ['Host: a.example', 'Content-Length: 3', 'Transfer-Encoding: chunked'], body: '0\r\n\r\n' }), false],
      [sample({ method: 'POST', head: ['Host: a.example', 'Transfer-Encoding: chunked, gzip'], body: '0\r\n\r\n' }), false],
      [sample({ method: 'POST', head: ['Host: a.example', 'Content-Length: 3\t'], body: 'abc' }), false],
      [sample({ version: 'HTTP/1.2' }), false],
      [sample({ target: '/\xe9' }), false],
      [sample({ head: ['Host: a.example', 'X : y'] }), false],
      [sample({ head: ['Host: a.example', 'X: a\0b'] }), false],
      [sample({ head: ['Host: a.example', 'Expect: foo'] }), false],
      [sample({ head: ['Host: a.example', 'Connection: upgrade', 'Upgrade: websocket'] }), true],
      [chunkedSample({ lastExt: ';a="b c";d' , trailers: ['X-T: v'] }), true],
      [chunkedSample({ lastExt: ';a=' }), true],
      [chunkedSample({ chunks: [{ size: '3 ', ext: '', sizeEol: '\r\n', data: 'abc', dataEol: '\r\n' }] }), false],
      [chunkedSample({ chunks: [{ size: '3', ext: ' ;a', sizeEol: '\r\n', data: 'abc', dataEol: '\r\n' }] }), false],
      [chunkedSample({ chunks: [{ size: '3', ext: '', sizeEol: '\n', data: 'abc', dataEol: '\r\n' }] }), false],
      [chunkedSample({ trailers: ['garbage'] }), false],
      [chunkedSample({ trailers: ['X : v'] }), false],
    ];
    for (const [s, accepted] of agree) {
      const buf = render(s);
      const o = ours(buf);
      const n = await node.send(buf);
      const outcome = compare(s, o, n);
      expect(outcome, JSON.stringify(buf.toString('latin1'))).toBe(accepted ? 'both-accept' : 'both-reject');
    }
  });

  test(`generated requests (fast-check, ${RUNS} runs)`, async () => {
    if (!CI) console.log(`differential seed ${SEED} (replay: HTTP1_DIFF_SEED=${SEED})`);
    const tally = new Map<string, number>();
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(sampleArb, async (s) => {
        const buf = render(s);
        const outcome = compare(s, ours(buf), await node.send(buf));
        tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 50_000, markInterruptAsFailure: true },
    );
    const summary = [...tally].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(`differential: ${RUNS} samples in ${Date.now() - started} ms: ${summary}`);
    // The generator must keep producing both sides of the line.
    expect(tally.get('both-accept') ?? 0).toBeGreaterThan(RUNS * 0.1);
    expect(tally.get('both-reject') ?? 0).toBeGreaterThan(RUNS * 0.1);
  });
});
