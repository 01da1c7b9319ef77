/**
 * The client side of SCRAM-SHA-256 (RFC 5802/7677, no channel binding), for
 * the upstream connection, plus PostgreSQL's md5 password hash. The server
 * side, for Rowgate's own clients, is scram-server.ts.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { scramSaltedPassword } from '../identity/passwords.js';

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

export class ScramClient {
  private readonly nonce = randomBytes(18).toString('base64');
  private readonly firstBare = `n=*,r=${this.nonce}`;
  private expectedServerSignature: Buffer | undefined;

  constructor(private readonly password: string) {}

  /** The client-first message. */
  first(): string {
    return `n,,${this.firstBare}`;
  }

  /** The client-final message for the server-first message; throws on a malformed or foreign answer. */
  final(serverFirst: string): string {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce?.startsWith(this.nonce) || nonce === this.nonce || !salt || !(iterations > 0)) {
      throw new Error('upstream sent an invalid SCRAM server-first message');
    }
    const salted = scramSaltedPassword(this.password, Buffer.from(salt, 'base64'), iterations);
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final message: the upstream must prove it knows the verifier too. */
  verify(serverFinal: string): void {
    const v = parseAttributes(serverFinal).get('v');
    const got = Buffer.from(v ?? '', 'base64');
    const want = this.expectedServerSignature;
    if (!want || got.length !== want.length || !timingSafeEqual(got, want)) {
      throw new Error('upstream SCRAM server signature does not match');
    }
  }
}

function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

/** PostgreSQL's md5 password message: 'md5' + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5')
    .update(password + user)
    .digest('hex');
  return `md5${createHash('md5')
    .update(Buffer.concat([Buffer.from(inner), salt]))
    .digest('hex')}`;
}
