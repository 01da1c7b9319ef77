/**
 * The generated proxy certificate: created once in <data dir>/tls/ with a
 * private key only the owner can read, reused on later starts, replaced
 * when broken, and verifiable against its CA for localhost and loopback IPs.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadProxyTls, tlsFiles } from '../../src/wire/tls.js';

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rowgate-tls-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('generated proxy certificate', () => {
  it('is generated once, with a 0600 key, and reused on the next start', async () => {
    const dir = dataDir();
    const first = await loadProxyTls({ dataDir: dir });
    expect(first.source).toBe('generated');
    const files = tlsFiles(dir);
    expect(statSync(files.key).mode & 0o777).toBe(0o600);
    expect(statSync(files.dir).mode & 0o777).toBe(0o700);
    const leaf = new X509Certificate(readFileSync(files.cert));
    expect(leaf.fingerprint256).toBe(first.fingerprint);
    expect(first.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

    const second = await loadProxyTls({ dataDir: dir });
    expect(second.source).toBe('reused');
    expect(second.fingerprint).toBe(first.fingerprint);
  });

  it('is signed by ca.crt and names localhost and the loopback addresses', async () => {
    const dir = dataDir();
    await loadProxyTls({ dataDir: dir, extraHosts: ['db.example.test', '0.0.0.0'] });
    const files = tlsFiles(dir);
    const ca = new X509Certificate(readFileSync(files.ca));
    const leaf = new X509Certificate(readFileSync(files.cert));
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkHost('db.example.test')).toBe('db.example.test');
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkIP('::1')).toBeDefined();
    expect(leaf.checkIP('0.0.0.0')).toBeUndefined();
    // The CA key is not kept: nothing in the directory but the three files.
    expect(readFileSync(files.ca, 'utf8')).not.toContain('PRIVATE KEY');
  });

  it('replaces a certificate whose key does not match', async () => {
    const dir = dataDir();
    const first = await loadProxyTls({ dataDir: dir });
    const other = await loadProxyTls({ dataDir: dataDir() });
    writeFileSync(tlsFiles(dir).cert, readFileSync(tlsFiles(dirs[1]!).cert));
    const again = await loadProxyTls({ dataDir: dir });
    expect(again.source).toBe('generated');
    expect([first.fingerprint, other.fingerprint]).not.toContain(again.fingerprint);
  });

  it('uses a configured certificate as is', async () => {
    const dir = dataDir();
    await loadProxyTls({ dataDir: dir });
    const files = tlsFiles(dir);
    const cert = readFileSync(files.cert, 'utf8');
    const configured = await loadProxyTls({
      dataDir: dataDir(),
      material: { cert, key: readFileSync(files.key, 'utf8') },
      required: true,
    });
    expect(configured).toMatchObject({ source: 'configured', required: true });
    expect(configured.fingerprint).toBe(new X509Certificate(cert).fingerprint256);
  });

  it('refuses a configured key that does not match the certificate', async () => {
    const a = dataDir();
    const b = dataDir();
    await loadProxyTls({ dataDir: a });
    await loadProxyTls({ dataDir: b });
    await expect(
      loadProxyTls({
        dataDir: a,
        material: {
          cert: readFileSync(tlsFiles(a).cert, 'utf8'),
          key: readFileSync(tlsFiles(b).key, 'utf8'),
        },
      }),
    ).rejects.toThrow();
  });
});
