// web: the storefront, public at "/". GET /chain calls api, which calls payments.
import { callJson, json, me, serve } from '../lib.js';

serve(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/chain') {
    const down = await callJson(process.env.API_URL, '/api/chain', req);
    return json(res, 200, { chain: [me, ...down.chain] });
  }
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(`<!doctype html><title>shop</title><h1>shop</h1><p>served by <b>${me}</b></p>` +
      `<p><a href="/chain">/chain</a> · <a href="/api/chain">/api/chain</a></p>`);
  }
  json(res, 404, { error: 'not found', path: url.pathname, instance: me });
});
