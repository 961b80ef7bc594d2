// Access policy: CIDR (v4, v6, IPv4-mapped), X-Forwarded-For behind trusted proxies, the token
// bucket with an injected clock, signed session cookies (tamper, expiry), Basic auth, the login
// page and checkAccess's order of decisions.
import { describe, expect, it } from 'vitest';
import {
  checkAccess, CidrSet, clientIp, compilePolicy, formatIp, handleLogin, hashPassword, ipAllowed, normalizeIp, parseBasicAuth, parseCidr, parseIp,
  PasswordVerifier, rateKey, readCookie, renderLoginPage, safeReturnPath, sessionCookie, sessionCookieName, signSession, stripSessionCookie, TokenBucket, verifyPassword, verifySession,
  type AccessContext,
} from '../../src/edge/access.js';

describe('IP addresses and CIDR', () => {
  it('parses v4, v6 (compressed, embedded v4, zone) and maps ::ffff:a.b.c.d to v4', () => {
    expect(formatIp(parseIp('10.1.2.3')!)).toBe('10.1.2.3');
    expect(formatIp(parseIp('2001:DB8:0:0:0:0:0:1')!)).toBe('2001:db8::1');
    expect(formatIp(parseIp('::')!)).toBe('::');
    expect(formatIp(parseIp('fe80::1%eth0')!)).toBe('fe80::1');
    expect(formatIp(parseIp('1:0:0:2:0:0:0:3')!)).toBe('1:0:0:2::3');
    expect(parseIp('::ffff:1.2.3.4')).toEqual({ family: 4, bytes: Uint8Array.from([1, 2, 3, 4]) });
    expect(normalizeIp('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(formatIp(parseIp('64:ff9b::1.2.3.4')!)).toBe('64:ff9b::102:304');
    for (const bad of ['', '1.2.3', '256.1.1.1', '01.2.3.4', '1::2::3', 'example.com', '1.2.3.4/8']) expect(parseIp(bad), bad).toBeUndefined();
  });

  it('matches v4 and v6 ranges, clears host bits, handles mapped addresses both ways', () => {
    expect(ipAllowed('10.200.3.4', ['10.0.0.0/8'])).toBe(true);
    expect(ipAllowed('11.0.0.1', ['10.0.0.0/8'])).toBe(false);
    expect(ipAllowed('192.168.1.77', ['192.168.1.64/26'])).toBe(true);
    expect(ipAllowed('192.168.1.128', ['192.168.1.64/26'])).toBe(false);
    expect(parseCidr('10.1.2.3/8')).toMatchObject({ family: 4, prefix: 8, bytes: Uint8Array.from([10, 0, 0, 0]) });
    expect(ipAllowed('2001:db8:abcd::1', ['2001:db8::/32'])).toBe(true);
    expect(ipAllowed('2001:db9::1', ['2001:db8::/32'])).toBe(false);
    expect(ipAllowed('::ffff:10.9.8.7', ['10.0.0.0/8'])).toBe(true); // mapped client, v4 rule
    expect(ipAllowed('10.9.8.7', ['::ffff:10.0.0.0/104'])).toBe(true); // v4 client, mapped rule
    expect(ipAllowed('10.9.8.7', ['::/0'])).toBe(false); // families stay apart
    expect(ipAllowed('1.2.3.4', ['0.0.0.0/0'])).toBe(true);
    expect(ipAllowed('::1', ['::1'])).toBe(true);
    expect(ipAllowed('not an ip', ['0.0.0.0/0'])).toBe(false);
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/x', 'host/8', '::ffff:1.2.3.4/64']) {
      expect(() => parseCidr(bad), bad).toThrow(expect.objectContaining({ code: 'SWY_CIDR_INVALID' }));
    }
  });

  it('takes X-Forwarded-For only from trusted proxies, right to left', () => {
    const proxies = new CidrSet(['10.0.0.0/8', 'fd00::/8']);
    expect(clientIp('203.0.113.9', '1.1.1.1', proxies)).toBe('203.0.113.9'); // untrusted peer: header ignored
    expect(clientIp('10.0.0.2', '198.51.100.7', proxies)).toBe('198.51.100.7');
    expect(clientIp('10.0.0.2', '6.6.6.6, 198.51.100.7, 10.0.0.5', proxies)).toBe('198.51.100.7'); // spoofed left part ignored
    expect(clientIp('::ffff:10.0.0.2', ['6.6.6.6', '2001:db8::5, fd00::1'], proxies)).toBe('2001:db8::5');
    expect(clientIp('10.0.0.2', '10.0.0.9, 10.0.0.8', proxies)).toBe('10.0.0.9'); // all trusted: leftmost
    expect(clientIp('10.0.0.2', 'garbage, 10.0.0.8', proxies)).toBe('10.0.0.8'); // stop at the last trusted hop
    expect(clientIp('10.0.0.2', '198.51.100.7:4711, [2001:db8::1]:80', proxies)).toBe('2001:db8::1');
    expect(clientIp('10.0.0.2', undefined, proxies)).toBe('10.0.0.2');
    expect(clientIp('::ffff:127.0.0.1', '1.2.3.4', [])).toBe('127.0.0.1');
  });

  it('rate-limits IPv6 per /64', () => {
    expect(rateKey('2001:db8:1:2:aaaa::1')).toBe(rateKey('2001:db8:1:2:bbbb::9'));
    expect(rateKey('2001:db8:1:3::1')).not.toBe(rateKey('2001:db8:1:2::1'));
    expect(rateKey('1.2.3.4')).toBe('1.2.3.4');
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then refills at rps (injected clock), with Retry-After', () => {
    let now = 0;
    const b = new TokenBucket({ rps: 2, burst: 3 }, { now: () => now });
    expect([1, 2, 3].map(() => b.take('a').ok)).toEqual([true, true, true]);
    const denied = b.take('a');
    expect(denied).toEqual({ ok: false, retryAfterMs: 500 });
    expect(b.take('b').ok).toBe(true); // keys are independent
    now += 499;
    expect(b.take('a').ok).toBe(false);
    now += 1;
    expect(b.take('a')).toEqual({ ok: true, remaining: 0 });
    now += 10_000; // refill caps at burst
    expect([1, 2, 3, 4].map(() => b.take('a').ok)).toEqual([true, true, true, false]);
  });

  it('bounds memory (LRU) and sweeps full buckets', () => {
    let now = 0;
    const b = new TokenBucket({ rps: 1, burst: 1 }, { maxKeys: 100, now: () => now });
    for (let i = 0; i < 10_000; i++) b.take(`ip${i}`);
    expect(b.size).toBe(100);
    expect(b.take('ip9999').ok).toBe(false); // recent key kept
    now += 1000;
    expect(b.sweep()).toBe(100);
    expect(b.size).toBe(0);
  });
});

describe('sessions and credentials', () => {
  it('signs and verifies session values; tampering, other env, other secret and expiry fail', () => {
    const v = signSession('feat1', 'k', 60_000, 1_000);
    expect(verifySession('feat1', 'k', v, 1_000)).toBe(true);
    expect(verifySession('feat1', 'k', v, 61_000)).toBe(false); // expired
    expect(verifySession('feat2', 'k', v, 1_000)).toBe(false);
    expect(verifySession('feat1', 'other', v, 1_000)).toBe(false);
    const [a, env, exp, sig] = v.split('.');
    expect(verifySession('feat1', 'k', [a, env, (parseInt(exp!, 36) + 1e9).toString(36), sig].join('.'), 1_000)).toBe(false);
    expect(verifySession('feat1', 'k', `${v.slice(0, -2)}AA`, 1_000)).toBe(false);
    expect(verifySession('feat1', 'k', undefined)).toBe(false);
    expect(verifySession('feat1', 'k', 'v1.feat1.zz')).toBe(false);
  });

  it('builds HttpOnly SameSite=Lax cookies, Secure only over https; reads and strips them', () => {
    expect(sessionCookie('feat1', 'VAL', { maxAgeMs: 3_600_000, secure: false })).toBe('swy_session_feat1=VAL; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax');
    expect(sessionCookie('feat1', 'VAL', { maxAgeMs: 1000, secure: true })).toMatch(/; Secure$/);
    expect(readCookie('a=1; swy_session_feat1=xyz; b=2', sessionCookieName('feat1'))).toBe('xyz');
    expect(readCookie('a=1', 'swy_session_feat1')).toBeUndefined();
    expect(stripSessionCookie('a=1; swy_session_feat1=xyz; b=2', 'feat1')).toBe('a=1; b=2');
    expect(stripSessionCookie('swy_session_feat1=xyz', 'feat1')).toBeUndefined();
  });

  it('hashes passwords with scrypt and parses Basic credentials', async () => {
    const h = await hashPassword('hunter2');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('hunter2', h)).toBe(true);
    expect(await verifyPassword('hunter3', h)).toBe(false);
    expect(await verifyPassword('x', 'plain')).toBe(false);
    expect(parseBasicAuth(`Basic ${Buffer.from('me:pa:ss wörd').toString('base64')}`)).toEqual({ user: 'me', password: 'pa:ss wörd' });
    expect(parseBasicAuth('Bearer abc')).toBeUndefined();
    expect(parseBasicAuth(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
  });
});

describe('login page', () => {
  it('is an accessible form that escapes everything and keeps the return path on this origin', () => {
    const html = renderLoginPage('feat1', '<b>Wrong</b> "password"', '/cart?x="><script>alert(1)</script>');
    expect(html).toContain('<label for="password">Password</label>');
    expect(html).toContain('action="/.switchyard/login"');
    expect(html).toContain('role="alert"');
    expect(html).toContain('&lt;b&gt;Wrong&lt;/b&gt; &quot;password&quot;');
    expect(html).toContain('value="/cart?x=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).not.toMatch(/<script/);
    expect(renderLoginPage('<x>')).toContain('&lt;x&gt;');
    for (const bad of ['https://evil.test/', '//evil.test/', '/\\evil.test', 'evil', '/a\nb', '/.switchyard/login']) expect(safeReturnPath(bad), bad).toBe('/');
    expect(safeReturnPath('/a/b?c=d#e')).toBe('/a/b?c=d#e');
  });
});

describe('checkAccess', () => {
  const secret = 'server-secret';
  const ctx = (socketIp: string, extra: Partial<AccessContext> = {}): AccessContext => ({ socketIp, trustedProxies: new CidrSet(['10.0.0.0/8']), https: true, verifier: new PasswordVerifier(), ...extra });

  it('decides allowlist (403) → rate limit (429, Retry-After) → password (401), in that order', async () => {
    let now = 0;
    const p = compilePolicy('feat1', { allowIps: ['198.51.100.0/24', '2001:db8::/32'], rateLimit: { rps: 1, burst: 2 }, password: await hashPassword('pw') }, { serverSecret: secret, now: () => now });
    const api = { url: '/api/x', headers: { accept: 'application/json' } };
    const outside = await checkAccess(api, p, ctx('203.0.113.1'));
    expect(outside).toMatchObject({ ok: false, status: 403, code: 'SWY_ACCESS_DENIED' });
    expect(JSON.parse((outside as { body: string }).body)).toMatchObject({ status: 403, code: 'SWY_ACCESS_DENIED', env: 'feat1' });
    // Through the trusted proxy, the forwarded client is inside the allowlist → next step: password.
    const viaProxy = await checkAccess({ ...api, headers: { ...api.headers, 'x-forwarded-for': '198.51.100.7' } }, p, ctx('10.1.1.1'));
    expect(viaProxy).toMatchObject({ status: 401, code: 'SWY_AUTH_REQUIRED', clientIp: '198.51.100.7', headers: { 'www-authenticate': 'Basic realm="switchyard feat1", charset="UTF-8"', 'content-type': 'application/problem+json' } });
    expect((await checkAccess(api, p, ctx('198.51.100.7'))).ok).toBe(false); // 2nd token
    const limited = await checkAccess(api, p, ctx('198.51.100.7'));
    expect(limited).toMatchObject({ status: 429, code: 'SWY_RATE_LIMITED', headers: { 'retry-after': '1' } });
    now += 1000;
    const basic = { ...api, headers: { ...api.headers, authorization: `Basic ${Buffer.from('x:pw').toString('base64')}` } };
    expect(await checkAccess(basic, p, ctx('::ffff:198.51.100.7'))).toEqual({ ok: true, clientIp: '198.51.100.7', viaBasic: true });
  });

  it('browsers get the login page; the login sets a cookie that then lets them through', async () => {
    const p = compilePolicy('feat1', { password: await hashPassword('open sesame') }, { serverSecret: secret });
    const browser = { method: 'GET', url: '/cart', headers: { accept: 'text/html,application/xhtml+xml' } };
    const page = await checkAccess(browser, p, ctx('127.0.0.1'));
    expect(page).toMatchObject({ ok: false, status: 401, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
    expect((page as { body: string }).body).toContain('name="return" value="/cart"');

    const wrong = await handleLogin(browser, 'password=nope&return=%2Fcart', p, ctx('127.0.0.1'));
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('Wrong password.');

    const ok = await handleLogin(browser, 'password=open+sesame&return=%2Fcart', p, ctx('127.0.0.1'));
    expect(ok).toMatchObject({ status: 303, headers: { location: '/cart' } });
    const setCookie = ok.headers['set-cookie']!;
    expect(setCookie).toMatch(/^swy_session_feat1=[^;]+; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax; Secure$/);
    const cookie = setCookie.split(';')[0]!;
    expect(await checkAccess({ ...browser, headers: { ...browser.headers, cookie: `a=b; ${cookie}` } }, p, ctx('127.0.0.1'))).toMatchObject({ ok: true, viaBasic: false });
    // Open redirect refused.
    expect((await handleLogin(browser, 'password=open+sesame&return=%2F%2Fevil.test', p, ctx('127.0.0.1'))).headers.location).toBe('/');
    // A changed password ends old sessions.
    const p2 = compilePolicy('feat1', { password: await hashPassword('new') }, { serverSecret: secret });
    expect((await checkAccess({ ...browser, headers: { ...browser.headers, cookie } }, p2, ctx('127.0.0.1'))).ok).toBe(false);
    // The cookie of another environment does not open this one.
    const other = compilePolicy('feat2', { password: await hashPassword('open sesame') }, { serverSecret: secret });
    expect((await checkAccess({ ...browser, headers: { ...browser.headers, cookie: cookie.replace('feat1=', 'feat2=') } }, other, ctx('127.0.0.1'))).ok).toBe(false);
  });

  it('an expired session cookie is refused', async () => {
    let now = 1_000_000;
    const p = compilePolicy('e', { password: await hashPassword('pw') }, { serverSecret: secret });
    const c = ctx('127.0.0.1', { now: () => now, sessionTtlMs: 1000 });
    const login = await handleLogin({ headers: {} }, 'password=pw', p, c);
    const cookie = login.headers['set-cookie']!.split(';')[0]!;
    expect((await checkAccess({ headers: { cookie } }, p, c)).ok).toBe(true);
    now += 1001;
    expect((await checkAccess({ headers: { cookie } }, p, c)).ok).toBe(false);
  });

  it('no policy lets everyone through; bad policies are refused at compile time', async () => {
    expect(await checkAccess({ headers: {} }, compilePolicy('base', {}, { serverSecret: secret }), ctx('1.2.3.4'))).toEqual({ ok: true, clientIp: '1.2.3.4', viaBasic: false });
    expect(() => compilePolicy('e', { password: 'plaintext' }, { serverSecret: secret })).toThrow(expect.objectContaining({ code: 'SWY_BAD_REQUEST' }));
    expect(() => compilePolicy('e', { allowIps: ['10.0.0.0/99'] }, { serverSecret: secret })).toThrow(expect.objectContaining({ code: 'SWY_CIDR_INVALID' }));
    expect(() => compilePolicy('e', { rateLimit: { rps: 0, burst: 1 } }, { serverSecret: secret })).toThrow(expect.objectContaining({ code: 'SWY_BAD_REQUEST' }));
  });
});
