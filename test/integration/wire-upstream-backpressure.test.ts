/**
 * Write backpressure towards the upstream: a raw client pipelines 200 MiB of
 * Bind/Execute messages (1 MiB parameter each) behind a statement that keeps
 * the upstream busy for a while, without reading any answer. The proxy must
 * stop reading the client while the upstream socket's buffer is full, so
 * that socket's pending output (and the process RSS) stays bounded; once the
 * upstream works through the queue and the client reads, every Execute is
 * answered and the pipeline ends with ReadyForQuery.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fe from '../../src/wire/frontend.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';
import { errorFields, rawSession } from './wire-pool-raw.js';

const MIB = 1024 * 1024;
const BINDS = 200;
/** Keeps the upstream backend busy (not reading its socket) for a second or more. */
const SLOW_SQL = 'SELECT count(*) FROM generate_series(1, 20000000)';

let demo: DemoStore;
let proxy: ProxyServer;

beforeAll(async () => {
  demo = await openDemoStore();
  proxy = await demo.proxy({ upstreamPoolSize: 10 });
});
afterAll(async () => {
  await proxy?.close();
  await demo?.admin.dispose();
});

/** Largest pending output of any checked-out upstream socket right now. */
function upstreamBuffered(): number {
  let max = 0;
  for (const pool of proxy.pools.all())
    for (const conn of pool.checkedOut()) max = Math.max(max, conn.socket.writableLength);
  return max;
}

describe('upstream write backpressure', () => {
  it('keeps the upstream socket buffer bounded while a client pipelines 200 MiB unread', async () => {
    const raw = await rawSession(proxy.port, 'alice', 'Demo1234!', DEMO_DATABASE);
    const baseline = process.memoryUsage().rss;
    let peakRss = baseline;
    let peakBuffered = 0;
    const sampler = setInterval(() => {
      peakBuffered = Math.max(peakBuffered, upstreamBuffered());
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 5);
    const started = Date.now();
    try {
      const write = async (b: Buffer) => {
        if (!raw.write(b)) await new Promise((r) => raw.socket.once('drain', r));
      };
      await write(
        Buffer.concat([
          fe.parse('slow', SLOW_SQL),
          fe.bind('', 'slow'),
          fe.execute(''),
          fe.parse('echo', 'SELECT length($1::text) AS n'),
        ]),
      );
      // One 1 MiB Bind, sent again and again (never modified, so sharing it is safe).
      const bindExecute = Buffer.concat([fe.bind('', 'echo', ['x'.repeat(MIB)]), fe.execute('')]);
      for (let i = 0; i < BINDS; i++) await write(bindExecute);
      await write(fe.sync());
      const written = Date.now();

      const frames = await raw.until('Z', 60_000);
      const errors = frames.filter((f) => f.type === 'E').map((f) => errorFields(f).get('M'));
      expect(errors).toEqual([]);
      const complete = frames.filter((f) => f.type === 'C').map((f) => f.body.toString('utf8', 0, 8));
      expect(complete).toHaveLength(BINDS + 1);
      expect(frames.filter((f) => f.type === 'D')).toHaveLength(BINDS + 1);
      expect(frames.at(-1)?.body.toString()).toBe('I');
      console.log(
        `pipelined ${BINDS} MiB in ${((written - started) / 1000).toFixed(1)} s; ` +
          `peak upstream socket buffer ${(peakBuffered / MIB).toFixed(1)} MiB; ` +
          `RSS +${((peakRss - baseline) / MIB).toFixed(0)} MiB`,
      );
    } finally {
      clearInterval(sampler);
      raw.end();
    }
    // One frame (1 MiB) over the socket's high-water mark at most, not the 200 MiB sent.
    expect(peakBuffered).toBeLessThan(4 * MIB);
    // Secondary, coarse: RSS also counts short-lived garbage (each 1 MiB frame is a fresh
    // buffer until the next GC); without backpressure it grew by ~300 MiB here, with it ~125.
    expect(peakRss - baseline).toBeLessThan(200 * MIB);
    // The session is still usable afterwards by a new client on the same pool.
    const again = await rawSession(proxy.port, 'alice', 'Demo1234!', DEMO_DATABASE);
    again.write(fe.query('SELECT 1'));
    expect((await again.until('Z')).map((f) => f.type)).toEqual(['T', 'D', 'C', 'Z']);
    again.end();
  }, 120_000);
});
