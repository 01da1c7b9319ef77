/**
 * TLS on the proxy listener through real clients: node-postgres with
 * sslmode=require and verify-full semantics against the generated CA, psql
 * with sslmode=require / verify-full, plain connections allowed or refused
 * by the require-TLS switch, and the raw-protocol edge cases (pipelined
 * bytes after SSLRequest, GSSENCRequest, a broken handshake).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from '../../src/wire/frames.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { loadProxyTls, tlsFiles } from '../../src/wire/tls.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';

let demo: DemoStore;
let optional: ProxyServer;
let required: ProxyServer;
let dataDir: string;
let caPem: string;

beforeAll(async () => {
  demo = await openDemoStore();
  dataDir = mkdtempSync(join(tmpdir(), 'rowgate-wire-tls-'));
  optional = await demo.proxy({ tls: { dataDir } });
  // The second server reuses the certificate the first generated.
  required = await demo.proxy({ tls: { dataDir, required: true } });
  caPem = readFileSync(tlsFiles(dataDir).ca, 'utf8');
});

afterAll(async () => {
  await optional?.close();
  await required?.close();
  await demo?.admin.dispose();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

type Ssl = pg.ClientConfig['ssl'];

async function query(
  server: ProxyServer,
  ssl: Ssl,
  sql = 'SELECT DISTINCT org FROM orders',
): Promise<unknown> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: server.port,
    user: 'alice',
    password: 'Demo1234!',
    database: DEMO_DATABASE,
    ssl,
  });
  await c.connect();
  try {
    // node-postgres swaps its stream for the TLS socket once the server said 'S'.
    const stream = (c as unknown as { connection: { stream: net.Socket } }).connection.stream;
    const result = await c.query(sql);
    return { encrypted: stream instanceof tls.TLSSocket, rows: result.rows };
  } finally {
    await c.end();
  }
}

const acme = [{ org: 'acme' }];

describe('TLS on the proxy listener (node-postgres)', () => {
  it('generated and then reused one certificate, and exposes its fingerprint', () => {
    expect(optional.tls?.source).toBe('generated');
    expect(required.tls?.source).toBe('reused');
    expect(required.tls?.fingerprint).toBe(optional.tls?.fingerprint);
  });

  it('serves sslmode=require (no verification)', async () => {
    expect(await query(optional, { rejectUnauthorized: false })).toEqual({ encrypted: true, rows: acme });
  });

  it('serves verify-full against the generated CA, by IP and by host name', async () => {
    expect(await query(optional, { ca: caPem })).toEqual({ encrypted: true, rows: acme });
    expect(await query(optional, { ca: caPem, servername: 'localhost' })).toEqual({
      encrypted: true,
      rows: acme,
    });
  });

  it('fails verification against another CA or for a name the certificate does not carry', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'rowgate-wire-tls-other-'));
    try {
      await loadProxyTls({ dataDir: otherDir });
      const otherCa = readFileSync(tlsFiles(otherDir).ca, 'utf8');
      await expect(query(optional, { ca: otherCa })).rejects.toThrow();
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
    await expect(query(optional, { ca: caPem, servername: 'db.elsewhere.test' })).rejects.toThrow();
  });

  it('still serves plain connections when TLS is not required', async () => {
    expect(await query(optional, false)).toEqual({ encrypted: false, rows: acme });
  });

  it('refuses plain connections with FATAL 28000 when TLS is required, and serves TLS ones', async () => {
    await expect(query(required, false)).rejects.toMatchObject({
      code: '28000',
      message: 'SSL connection is required',
    });
    // The same refusal for an unknown user: nothing is looked up first.
    const stranger = new pg.Client({ host: '127.0.0.1', port: required.port, user: 'nobody', password: 'x' });
    await expect(stranger.connect()).rejects.toMatchObject({ code: '28000' });
    await stranger.end().catch(() => undefined);
    expect(await query(required, { ca: caPem })).toEqual({ encrypted: true, rows: acme });
  });
});

/** Raw bytes in, everything the server sent until it closed out. */
function exchange(port: number, bytes: Buffer, then?: (s: net.Socket, got: Buffer) => void): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      then?.(s, Buffer.concat(chunks));
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(chunks)));
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

function request(code: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(code, 4);
  return b;
}

describe('TLS negotiation edge cases', () => {
  it('refuses bytes pipelined after SSLRequest before the handshake (CVE-2021-23214)', async () => {
    const injected = Buffer.concat([request(SSL_REQUEST_CODE), Buffer.from('Q\0\0\0\x0dSELECT 1\0')]);
    const answer = await exchange(optional.port, injected);
    expect(answer.subarray(0, 1).toString()).toBe('E');
    expect(answer.toString('latin1')).toContain('received unencrypted data after SSL request');
  });

  it('answers GSSENCRequest with N and keeps the connection for the startup packet', async () => {
    const answer = await exchange(optional.port, request(GSSENC_REQUEST_CODE), (s, got) => {
      if (got.length === 1) s.end();
    });
    expect(answer.toString()).toBe('N');
  });

  it('closes a connection whose handshake is garbage and keeps serving others', async () => {
    const answer = await exchange(optional.port, request(SSL_REQUEST_CODE), (s, got) => {
      if (got.length === 1) s.write(Buffer.alloc(64, 0x41));
    });
    expect(answer.subarray(0, 1).toString()).toBe('S');
    expect(await query(optional, { rejectUnauthorized: false })).toEqual({ encrypted: true, rows: acme });
  });
});

const run = promisify(execFile);
function hasPsql(): boolean {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasPsql())('TLS with psql (skipped: no psql binary installed)', () => {
  async function psql(server: ProxyServer, conninfo: string): Promise<string> {
    const base = `host=127.0.0.1 port=${server.port} user=alice dbname=${DEMO_DATABASE}`;
    const env = { ...process.env, PGPASSWORD: 'Demo1234!', PGCONNECT_TIMEOUT: '10' };
    const sql = 'SELECT DISTINCT org FROM orders';
    const { stdout } = await run(
      'psql',
      ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql, `${base} ${conninfo}`],
      {
        env,
      },
    );
    return stdout.trim();
  }

  it('connects with sslmode=require and sslmode=verify-full against ca.crt', async () => {
    expect(await psql(required, 'sslmode=require')).toContain('acme');
    const verify = `sslmode=verify-full sslrootcert=${tlsFiles(dataDir).ca}`;
    expect(await psql(required, verify)).toContain('acme');
    expect(await psql(required, `${verify} host=localhost hostaddr=127.0.0.1`)).toContain('acme');
  });

  it('is refused with sslmode=disable when TLS is required', async () => {
    await expect(psql(required, 'sslmode=disable')).rejects.toThrow(/SSL connection is required/);
  });
});
