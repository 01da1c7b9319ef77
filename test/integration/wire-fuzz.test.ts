/**
 * Protocol fuzzing (threat model §3.7, issue 4 "Done when"): thousands of
 * random and mutated frontend frames over many connections to the proxy
 * (demo stores, port 0), while a node-postgres probe session keeps querying.
 *
 * Oracles: the process never throws (vitest fails on any uncaught error or
 * unhandled rejection); every fuzz connection either still answers a canary
 * query correctly or has ended, and once the fuzzer closes its side the
 * proxy closes within a bound (no hang); the probe's answers never change;
 * the listener still accepts at the end and every session is gone.
 *
 * Generation is seeded (ROWGATE_FUZZ_SEED) so a failure is reproducible: the
 * report names the connection and the hex of the frames sent.
 */
import { randomInt } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { Rng } from '../../src/demo/prng.js';
import { seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { createLogger } from '../../src/log.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { Writer } from '../../src/wire/buffer.js';
import { FrameReader, type Frame } from '../../src/wire/frames.js';
import * as fe from '../../src/wire/frontend.js';
import { ScramClient } from '../../src/wire/scram-client.js';
import { startProxyServer, type ProxyServer } from '../../src/wire/server.js';
import { serverUrl } from '../support/postgres.js';
import { openTestStore, type TestStore } from '../support/stores.js';
import { fuzzConnection } from './wire-fuzz-frames.js';

let admin: TestStore;
let proxy: ProxyServer;
const SEED = Number(process.env.ROWGATE_FUZZ_SEED ?? randomInt(1, 2 ** 31));
const CONNECTIONS = 200;
const FRAMES_PER_CONNECTION = 20;
const CONCURRENCY = 10;

beforeAll(async () => {
  const { host, port, user, password } = inject('postgres');
  await ensureDemoDatabase(serverUrl());
  admin = await openTestStore('sqlite');
  const cipher = SecretCipher.fromHex('11'.repeat(32));
  await seedDemoAdminStore(admin.store, cipher, { host, port, user, password });
  proxy = await startProxyServer({
    bind: { host: '127.0.0.1', port: 0 },
    store: admin.store,
    cipher,
    logger: createLogger('silent'),
    idleTimeoutSecs: 0,
    // Large enough for the oversized-but-legal frames, small enough to be refused when exceeded.
    maxMessageLength: 1024 * 1024,
  });
});

afterAll(async () => {
  await proxy?.close();
  await admin?.dispose();
});

/** A raw client socket with a frame reader over what the proxy sends. */
class Raw {
  readonly socket: net.Socket;
  readonly reader = new FrameReader({ maxMessageLength: 64 * 1024 * 1024 });
  received = Buffer.alloc(0);
  closed: Promise<void>;
  isClosed = false;
  private wake: (() => void) | undefined;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.received = Buffer.concat([this.received, chunk]);
      this.wake?.();
    });
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      this.socket.on('close', () => {
        this.isClosed = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  write(b: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(b);
  }

  /** Waits until `ok()` or close or `ms`; true when `ok()` held. */
  async until(ok: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (this.isClosed || Date.now() > deadline) return ok();
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.max(1, deadline - Date.now()));
      });
    }
    return true;
  }

  async frame(ms = 5000): Promise<Frame> {
    let f: Frame | null = null;
    await this.until(() => (f = this.reader.next()) !== null, ms);
    if (!f) throw new Error('no frame from the proxy');
    return f;
  }
}

/** Startup + SCRAM as alice, up to the first ReadyForQuery. */
async function authenticated(): Promise<Raw> {
  const raw = new Raw(proxy.port);
  raw.write(fe.startupMessage({ user: 'alice', database: DEMO_DATABASE }));
  const scram = new ScramClient('Demo1234!');
  for (;;) {
    const f = await raw.frame();
    if (f.type === 'Z') return raw;
    if (f.type === 'E') throw new Error(`authentication failed: ${f.body.toString('latin1')}`);
    if (f.type !== 'R') continue;
    const code = f.body.readInt32BE(0);
    if (code === 10) raw.write(fe.saslInitialResponse('SCRAM-SHA-256', scram.first()));
    else if (code === 11) raw.write(fe.saslResponse(scram.final(f.body.subarray(4).toString())));
    else if (code === 12) scram.verify(f.body.subarray(4).toString());
  }
}

type Outcome = 'canary' | 'closed-by-proxy' | 'closed-after-eof';

async function fuzzOne(rng: Rng, index: number): Promise<{ outcome: Outcome; frames: number }> {
  const plan = fuzzConnection(rng, FRAMES_PER_CONNECTION);
  const raw = plan.startup ? new Raw(proxy.port) : await authenticated();
  raw.received = Buffer.alloc(0);
  const sent: string[] = [];
  for (const chunk of plan.chunks) {
    if (raw.isClosed) break;
    sent.push(chunk.toString('hex'));
    if (plan.byteByByte) for (const b of chunk) raw.write(Buffer.from([b]));
    else raw.write(chunk);
    if (rng.int(0, 3) === 0) await new Promise((r) => setImmediate(r));
  }
  const describeFailure = (what: string) =>
    `seed ${SEED}, connection ${index}: ${what}; chunks sent (hex):\n${sent.join('\n')}`;
  let outcome: Outcome | undefined;
  if (!plan.startup && !plan.truncated) {
    // Still in the protocol? Then it must answer correctly.
    const canary = String(7_000_000 + index);
    raw.write(Buffer.concat([new Writer().message('S'), fe.query(`SELECT ${canary} AS canary`)]));
    if (await raw.until(() => raw.received.includes(canary), 5000)) outcome = 'canary';
  }
  if (!outcome && raw.isClosed) outcome = 'closed-by-proxy';
  if (!outcome) {
    raw.socket.end();
    const closed = await Promise.race([raw.closed.then(() => true), sleep(5000).then(() => false)]);
    if (!closed) {
      raw.socket.destroy();
      throw new Error(describeFailure('the proxy did not close within 5 s after EOF'));
    }
    outcome = 'closed-after-eof';
  }
  raw.socket.destroy();
  return { outcome, frames: plan.frames };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('protocol fuzzing', () => {
  it(`survives ${CONNECTIONS} connections of mutated frames while a probe session keeps working`, async () => {
    const probe = new pg.Client({
      host: '127.0.0.1',
      port: proxy.port,
      user: 'alice',
      password: 'Demo1234!',
      database: DEMO_DATABASE,
    });
    probe.on('error', () => undefined); // a failure shows in the probe loop's assertion instead
    await probe.connect();
    const expected = (await probe.query('SELECT DISTINCT org FROM customers')).rows;
    expect(expected).toEqual([{ org: 'acme' }]);
    let stop = false;
    let probes = 0;
    const probing = (async () => {
      while (!stop) {
        const r = await probe.query('SELECT DISTINCT org FROM customers');
        expect(r.rows).toEqual(expected);
        probes++;
        await sleep(10);
      }
    })();

    const rng = new Rng(SEED);
    const outcomes = new Map<Outcome, number>();
    let frames = 0;
    let next = 0;
    const worker = async () => {
      while (next < CONNECTIONS) {
        const i = next++;
        const r = await fuzzOne(new Rng(rng.int(1, 2 ** 30) + i), i);
        outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
        frames += r.frames;
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      stop = true;
      await probing.finally(() => probe.end());
    }
    // The fuzzer reached every state it aims at.
    expect(frames, `seed ${SEED}`).toBeGreaterThanOrEqual(2000);
    expect(outcomes.get('canary') ?? 0, `seed ${SEED}`).toBeGreaterThan(0);
    expect(outcomes.get('closed-by-proxy') ?? 0, `seed ${SEED}`).toBeGreaterThan(0);
    expect(probes).toBeGreaterThan(5);
    // Every fuzz session ended; the listener still accepts.
    await expect.poll(() => proxy.sessions, { timeout: 5000 }).toBe(0);
    const after = await authenticated();
    after.write(fe.query('SELECT 1'));
    expect((await after.frame()).type).toBe('T');
    after.socket.destroy();
  }, 60_000);
});
