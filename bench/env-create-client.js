#!/usr/bin/env node
/**
 * Bench-only client for "API call that creates an environment → its first 200".
 *
 *   node bench/env-create-client.js --control-port P --edge-port P --name NAME [--mode delta|full] [--interval-ms 1]
 *
 * Polls `GET /` with `Host: <name>.bench.localhost` on the edge (one keep-alive connection, a
 * new request 1 ms after the previous answer) while it sends `POST /envs?name=<name>&mode=…` to the
 * driver's control endpoint; prints one JSON line with the timings (ms, performance.now based):
 *   apiMs               POST sent → POST response received (includes the full table rebuild)
 *   firstOkAfterApiMs   POST response received → first 200 received (≤ 0: it came with it)
 *   firstOkFromCallMs   POST sent → first 200 received
 *   polls               requests the poller sent (404 until the env exists)
 *   pollRttMedianMs/MaxMs  round trip of those 404s before the call (the floor of 'after')
 *   server              the driver's own timings (mode, tableMs, compileMs, setSnapshotMs)
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const args = process.argv.slice(2);
const arg = (n, d) => { const i = args.indexOf(n); return i === -1 ? d : args[i + 1]; };
const controlPort = Number(arg('--control-port'));
const edgePort = Number(arg('--edge-port'));
const name = arg('--name');
const interval = Number(arg('--interval-ms', '1'));
const mode = arg('--mode', '');
if (!controlPort || !edgePort || !name) { console.error('usage: --control-port P --edge-port P --name NAME'); process.exit(2); }

const pollAgent = new Agent({ keepAlive: true, maxSockets: 1 });
const ctlAgent = new Agent({ keepAlive: false });

function call(opts, agent) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', agent, ...opts }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), t: performance.now() }));
    });
    req.on('error', reject);
    req.end();
  });
}

let stop = false;
let firstOk;
let polls = 0;
const rtts = [];
let t0;
const poller = (async () => {
  const deadline = performance.now() + 30_000;
  while (!stop && performance.now() < deadline) {
    polls++;
    const sent = performance.now();
    const r = await call({ port: edgePort, path: '/', method: 'GET', headers: { host: `${name}.bench.localhost` } }, pollAgent);
    if (t0 === undefined) rtts.push(r.t - sent); // round trips of the 404s before the call: the floor of 'after'
    if (r.status === 200) { firstOk = r.t; break; }
    if (r.status !== 404) throw new Error(`unexpected status ${r.status} while polling`);
    await sleep(interval);
  }
})();

await sleep(50); // some 404s first: the poller is in its steady state when the call goes out
t0 = performance.now();
const ctl = await call({ port: controlPort, path: `/envs?name=${encodeURIComponent(name)}${mode ? `&mode=${mode}` : ''}`, method: 'POST' }, ctlAgent);
if (ctl.status !== 201) { console.error(`control call failed: ${ctl.status} ${ctl.body}`); process.exit(1); }
await poller;
stop = true;
pollAgent.destroy();
if (firstOk === undefined) { console.error('no 200 within 30 s'); process.exit(1); }
process.stdout.write(JSON.stringify({
  name, pollRttMedianMs: rtts.sort((a, b) => a - b)[rtts.length >> 1], pollRttMaxMs: Math.max(...rtts), apiMs: ctl.t - t0, firstOkAfterApiMs: firstOk - ctl.t, firstOkFromCallMs: firstOk - t0, polls, server: JSON.parse(ctl.body),
}) + '\n');
