// payments: internal only (no public prefix); reached by api through PAYMENTS_URL.
import { json, me, serve } from '../lib.js';

serve(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/chain') return json(res, 200, { chain: [me] });
  json(res, 404, { error: 'not found', path: url.pathname, instance: me });
});
