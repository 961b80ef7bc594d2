/**
 * @module edge/login-page
 * The login page of a password-protected environment: a small, accessible HTML form (labelled
 * field, `role="alert"` error, no script) that POSTs to {@link LOGIN_PATH} with the path to return
 * to. Every interpolated value is HTML-escaped; the return path is confined to this origin.
 */

/** Where the login form posts (`application/x-www-form-urlencoded`: `password`, `return`). */
export const LOGIN_PATH = '/.switchyard/login';

/** Response headers for the page: no caching, no framing, nothing but inline style. */
export const LOGIN_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and double- or single-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}

/**
 * A path on this origin to return to after login, or `/`. Refuses absolute URLs, scheme-relative
 * `//host`, backslashes (browsers read `/\host` as `//host`), control characters, and the login
 * path itself; at most 2048 characters.
 */
export function safeReturnPath(p: string | null | undefined): string {
  if (!p || p.length > 2048 || !p.startsWith('/') || p.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(p)) return '/';
  if (p === LOGIN_PATH || p.startsWith(`${LOGIN_PATH}?`)) return '/';
  return p;
}

/**
 * The login page for `env`, with an optional error message (e.g. "Wrong password.") and the path
 * to return to after a successful login (sanitised by {@link safeReturnPath}).
 */
export function renderLoginPage(env: string, error?: string, returnTo = '/'): string {
  const e = escapeHtml(env);
  const r = escapeHtml(safeReturnPath(returnTo));
  const err = error ? `\n<p class="error" id="login-error" role="alert">${escapeHtml(error)}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign in to ${e} · switchyard</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;min-height:100vh;display:grid;place-items:center;background:#f5f5f4;color:#1c1917}
main{background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 3px #0002;width:min(22rem,90vw)}
h1{font-size:1.25rem;margin:0 0 1rem}label{display:block;font-weight:600;margin-bottom:.25rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #78716c;border-radius:.25rem}
button{margin-top:1rem;width:100%;padding:.5rem;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:.25rem;cursor:pointer}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}.error{color:#b91c1c;margin:0 0 1rem}
</style>
</head>
<body>
<main>
<h1>Environment <code>${e}</code> is protected</h1>${err}
<form method="post" action="${LOGIN_PATH}">
<input type="hidden" name="return" value="${r}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus${error ? ' aria-describedby="login-error" aria-invalid="true"' : ''}>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`;
}
