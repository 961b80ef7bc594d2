/**
 * A block of fixed ports for tests that must pass explicit port numbers (`--internal-base-port`).
 * Picked below Linux's ephemeral range (32768+), where `listen(0)` and outgoing connections of
 * concurrently running tests take their ports, and checked free on 127.0.0.1 port by port. A
 * random base from the ephemeral range once collided in CI (EADDRINUSE on 33914).
 */
import { createServer } from 'node:net';

const LOW = 10_000;
const HIGH = 32_000; // exclusive; the kernel's ip_local_port_range starts at 32768

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Returns `base` such that base … base+span-1 are all free on 127.0.0.1 right now. */
export async function freePortBlock(span: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = LOW + Math.floor(Math.random() * (HIGH - LOW - span));
    let free = true;
    for (let p = base; p < base + span && free; p++) free = await bindable(p);
    if (free) return base;
  }
  throw new Error(`no ${span} consecutive free ports in ${LOW}-${HIGH} after 50 tries`);
}
