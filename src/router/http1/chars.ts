/**
 * @module router/http1/chars
 * Byte classes of HTTP/1.1 syntax shared by the head parser and the chunked decoder:
 * `tchar` (RFC 9110 §5.6.2) and field-value bytes (VCHAR / obs-text / SP / HTAB, RFC 9110 §5.5).
 * Lookup tables indexed by byte: 1 = in the class.
 */

/** tchar (RFC 9110 §5.6.2). */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** field-value bytes: VCHAR, obs-text, SP, HTAB (also what a quoted-pair may escape, RFC 9110 §5.6.4). */
export const FVAL = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) FVAL[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FVAL[c] = 1;
FVAL[0x20] = 1; FVAL[0x09] = 1;
