// api: public at "/api". GET /api/chain calls payments.
import { callJson, json, me, serve } from '../lib.js';

serve(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/api/chain') {
    const down = await callJson(process.env.PAYMENTS_URL, '/chain', req);
    return json(res, 200, { chain: [me, ...down.chain] });
  }
  if (url.pathname === '/api/whoami') {
    return json(res, 200, { instance: me, headers: req.headers, greeting: process.env.GREETING ?? null });
  }
  json(res, 404, { error: 'not found', path: url.pathname, instance: me });
});
