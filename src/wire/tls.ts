/**
 * The proxy listener's TLS material. An operator-supplied certificate
 * (ROWGATE_TLS_CERT / _KEY) wins; otherwise one is generated on first start
 * and persisted in `<data dir>/tls/`, so clients that pinned it keep working
 * across restarts:
 *
 *   ca.crt      a private CA (CN "Rowgate local CA"): what clients trust for
 *               sslmode=verify-ca / verify-full (`sslrootcert=ca.crt`)
 *   server.crt  the leaf the proxy presents (CN rowgate, SANs localhost,
 *               127.0.0.1, ::1, the machine's host name, the bind host)
 *   server.key  its private key, mode 0600
 *
 * The CA's private key is never written: it signs this one leaf and is
 * dropped, so a copy of the data directory cannot mint certificates other
 * clients would accept. The price is that renewing the leaf means a new CA
 * (logged as a warning); with a 10-year lifetime that is rare, and real
 * deployments configure their own certificate anyway.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import type { Logger } from '../log.js';

export interface ProxyTlsOptions {
  /** Operator-supplied PEM cert (chain) and key; when absent a certificate is generated. */
  material?: { cert: string; key: string } | undefined;
  /** Where the generated certificate lives (`<dataDir>/tls/`). */
  dataDir: string;
  /** Refuse clients that do not negotiate TLS (FATAL 28000 before authentication). */
  required?: boolean;
  /** Extra SAN (host name or IP) for a generated certificate, typically the bind host. */
  extraHosts?: readonly string[];
}

export interface ProxyTls {
  context: tls.SecureContext;
  required: boolean;
  /** SHA-256 fingerprint of the leaf certificate (colon-separated hex). */
  fingerprint: string;
  source: 'configured' | 'generated' | 'reused';
  /** Path of the CA file clients should trust, for a generated certificate. */
  caPath?: string;
}

const LIFETIME_DAYS = 3650;
/** A generated certificate this close to expiry is replaced at start-up. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export function tlsFiles(dataDir: string): { dir: string; ca: string; cert: string; key: string } {
  const dir = join(dataDir, 'tls');
  return { dir, ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

/** Builds the secure context, generating or reusing a certificate as needed, and logs its fingerprint. */
export async function loadProxyTls(options: ProxyTlsOptions, logger?: Logger): Promise<ProxyTls> {
  const required = options.required ?? false;
  if (options.material) {
    // createSecureContext throws on a key that does not match the certificate: fail at start-up.
    const context = tls.createSecureContext({ cert: options.material.cert, key: options.material.key });
    const fingerprint = new X509Certificate(options.material.cert).fingerprint256;
    logger?.info({ fingerprint }, 'proxy TLS: configured certificate');
    return { context, required, fingerprint, source: 'configured' };
  }
  const files = tlsFiles(options.dataDir);
  let source: ProxyTls['source'] = 'reused';
  let pair = readGenerated(files, logger);
  if (!pair) {
    pair = await generateCertificate(options.extraHosts ?? []);
    writeGenerated(files, pair);
    source = 'generated';
  }
  const context = tls.createSecureContext({ cert: pair.cert, key: pair.key });
  const fingerprint = new X509Certificate(pair.cert).fingerprint256;
  logger?.info(
    { fingerprint, ca: files.ca },
    source === 'generated'
      ? 'proxy TLS: generated a self-signed certificate (clients verify it with the CA file)'
      : 'proxy TLS: reusing the generated certificate',
  );
  return { context, required, fingerprint, source, caPath: files.ca };
}

interface GeneratedPair {
  ca: string;
  cert: string;
  key: string;
}

/** The persisted certificate when it is complete, matches its key and is not about to expire. */
function readGenerated(files: ReturnType<typeof tlsFiles>, logger?: Logger): GeneratedPair | undefined {
  if (![files.ca, files.cert, files.key].every((f) => existsSync(f))) return undefined;
  try {
    const pair = {
      ca: readFileSync(files.ca, 'utf8'),
      cert: readFileSync(files.cert, 'utf8'),
      key: readFileSync(files.key, 'utf8'),
    };
    const leaf = new X509Certificate(pair.cert);
    if (!leaf.checkPrivateKey(createPrivateKey(pair.key))) throw new Error('key does not match');
    if (!leaf.checkIssued(new X509Certificate(pair.ca))) throw new Error('not issued by ca.crt');
    if (Date.parse(leaf.validTo) - Date.now() < RENEW_BEFORE_MS) throw new Error('expires soon');
    return pair;
  } catch (err) {
    logger?.warn(
      { dir: files.dir, reason: err instanceof Error ? err.message : String(err) },
      'proxy TLS: replacing the generated certificate; clients must trust the new ca.crt',
    );
    return undefined;
  }
}

async function generateCertificate(extraHosts: readonly string[]): Promise<GeneratedPair> {
  const notBeforeDate = new Date(Date.now() - 60_000); // tolerate small clock skew
  const notAfterDate = new Date(notBeforeDate.getTime() + LIFETIME_DAYS * 24 * 3600 * 1000);
  const common = { keyType: 'ec' as const, algorithm: 'sha256', notBeforeDate, notAfterDate };
  const ca = await generate([{ name: 'commonName', value: 'Rowgate local CA' }], {
    ...common,
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const names = new Set(['localhost', '127.0.0.1', '::1', hostname(), ...extraHosts]);
  // Wildcard binds are not names a client connects to.
  for (const wildcard of ['', '0.0.0.0', '::']) names.delete(wildcard);
  const altNames = [...names].map((n) =>
    isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n },
  );
  const leaf = await generate([{ name: 'commonName', value: 'rowgate' }], {
    ...common,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { ca: ca.cert, cert: leaf.cert, key: leaf.private };
}

/** Writes each file via a temporary name, so a crash never leaves a half-written key in place. */
function writeGenerated(files: ReturnType<typeof tlsFiles>, pair: GeneratedPair): void {
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const put = (path: string, data: string, mode: number): void => {
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, data, { mode });
    chmodSync(tmp, mode); // the umask may have narrowed or a stale tmp kept other bits
    renameSync(tmp, path);
  };
  put(files.key, pair.key, 0o600);
  put(files.cert, pair.cert, 0o644);
  put(files.ca, pair.ca, 0o644);
}
