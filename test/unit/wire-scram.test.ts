import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { scramVerifier } from '../../src/identity/passwords.js';
import {
  createScramExchange,
  SCRAM_AUTH_FAILED,
  SCRAM_MAX_MESSAGE_LENGTH,
  SCRAM_MECHANISM,
  type ScramServerExchange,
} from '../../src/wire/scram-server.js';

/** node-postgres's own SCRAM client (`pg/lib/crypto/sasl.js`), untyped CommonJS. */
interface PgSaslSession {
  mechanism: string;
  clientNonce: string;
  response: string;
  message: string;
  serverSignature?: string;
}
interface PgSasl {
  startSession(mechanisms: string[], stream?: unknown): PgSaslSession;
  continueSession(
    session: PgSaslSession,
    password: string,
    serverData: string,
    stream?: unknown,
  ): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
}
const pgSasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js') as PgSasl;

const VERIFIER = scramVerifier('pw');

/** Runs pg's client against our server; returns the server's verdict and the client's. */
async function runWithPgClient(
  exchange: ScramServerExchange,
  password: string,
  stream?: unknown,
): Promise<{ serverFinal?: string; error?: string; clientAccepted?: boolean }> {
  const session = pgSasl.startSession([SCRAM_MECHANISM], stream);
  const first = exchange.start(session.response);
  if ('error' in first) return { error: first.error };
  await pgSasl.continueSession(session, password, first.serverFirst, stream);
  const final = exchange.finish(session.response);
  if ('error' in final) return { error: final.error };
  let clientAccepted = true;
  try {
    pgSasl.finalizeSession(session, final.serverFinal);
  } catch {
    clientAccepted = false;
  }
  return { serverFinal: final.serverFinal, clientAccepted };
}

/** A minimal RFC 5802 client, to craft valid and tampered messages by hand. */
function client(
  password: string,
  clientNonce = 'rOprNGfwEbeRWgbNEkqO',
  gs2 = 'n,,',
  user = '',
  firstExtra = '',
) {
  const bare = `n=${user},r=${clientNonce}${firstExtra}`;
  return {
    first: `${gs2}${bare}`,
    final(serverFirst: string, tweak: { c?: string; r?: string; proofText?: string; extra?: string } = {}) {
      const attrs = Object.fromEntries(serverFirst.split(',').map((a) => [a[0], a.slice(2)]));
      const nonce = tweak.r ?? attrs.r ?? '';
      const c = tweak.c ?? Buffer.from(gs2).toString('base64');
      const withoutProof = `c=${c},r=${nonce}${tweak.extra ?? ''}`;
      const salted = pbkdf2Sync(
        password,
        Buffer.from(attrs.s ?? '', 'base64'),
        Number(attrs.i),
        32,
        'sha256',
      );
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      const storedKey = createHash('sha256').update(clientKey).digest();
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const signature = createHmac('sha256', storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] ?? 0)));
      return `${withoutProof},p=${tweak.proofText ?? proof.toString('base64')}`;
    },
  };
}

describe('SCRAM-SHA-256 server against node-postgres’s client', () => {
  it('authenticates the right password and the client accepts the server signature', async () => {
    const result = await runWithPgClient(createScramExchange('alice', VERIFIER), 'pw');
    expect(result.error).toBeUndefined();
    expect(result.serverFinal).toMatch(/^v=[A-Za-z0-9+/]{43}=$/);
    expect(result.clientAccepted).toBe(true);
  });

  it('works with the "y,," gs2 header (client supports binding, server does not advertise it)', async () => {
    const result = await runWithPgClient(createScramExchange('alice', VERIFIER), 'pw', {});
    expect(result.error).toBeUndefined();
    expect(result.clientAccepted).toBe(true);
  });

  it('normalises the password like the client does (SASLprep)', async () => {
    const verifier = scramVerifier('I\u00ADX'); // soft hyphen is mapped to nothing
    const result = await runWithPgClient(createScramExchange('bob', verifier), 'IX');
    expect(result.clientAccepted).toBe(true);
  });

  it('refuses a wrong password with the auth-failed error', async () => {
    const result = await runWithPgClient(createScramExchange('alice', VERIFIER), 'wrong');
    expect(result).toEqual({ error: SCRAM_AUTH_FAILED });
  });

  it('honours the verifier’s iteration count and salt', async () => {
    const verifier = scramVerifier('pw', { iterations: 1000, salt: Buffer.alloc(16, 7) });
    const exchange = createScramExchange('alice', verifier);
    const session = pgSasl.startSession([SCRAM_MECHANISM]);
    const first = exchange.start(session.response);
    expect('serverFirst' in first && first.serverFirst).toMatch(
      new RegExp(`,s=${Buffer.alloc(16, 7).toString('base64')},i=1000$`),
    );
  });

  it('a client rejects a server-final from a server that does not hold the verifier', async () => {
    // The other direction of mutual authentication: a forged server-final is refused by pg.
    const session = pgSasl.startSession([SCRAM_MECHANISM]);
    const exchange = createScramExchange('alice', VERIFIER);
    const first = exchange.start(session.response);
    if (!('serverFirst' in first)) throw new Error(first.error);
    await pgSasl.continueSession(session, 'pw', first.serverFirst);
    expect(() => pgSasl.finalizeSession(session, `v=${Buffer.alloc(32).toString('base64')}`)).toThrow(
      /signature does not match/,
    );
  });

  it('uses a fresh server nonce that extends the client nonce', () => {
    const session = pgSasl.startSession([SCRAM_MECHANISM]);
    const a = createScramExchange('alice', VERIFIER).start(session.response);
    const b = createScramExchange('alice', VERIFIER).start(session.response);
    if (!('serverFirst' in a) || !('serverFirst' in b)) throw new Error('start failed');
    const nonceA = /^r=([^,]+),/.exec(a.serverFirst)?.[1] ?? '';
    const nonceB = /^r=([^,]+),/.exec(b.serverFirst)?.[1] ?? '';
    expect(nonceA.startsWith(session.clientNonce)).toBe(true);
    expect(nonceA.length).toBe(session.clientNonce.length + 24); // 18 bytes base64
    expect(nonceA).not.toBe(nonceB);
    const longer = createScramExchange('alice', VERIFIER, { nonceBytes: 33 }).start(session.response);
    expect('serverFirst' in longer && longer.serverFirst).toContain(`r=${session.clientNonce}`);
    expect(() => createScramExchange('alice', VERIFIER, { nonceBytes: 0 })).toThrow(RangeError);
  });

  it('ignores the n= user name of client-first (libpq sends it empty, pg sends "*")', () => {
    for (const name of ['', '*', 'mallory', 'a=2Cb=3D']) {
      const c = client('pw', 'rOprNGfwEbeRWgbNEkqO', 'n,,', name);
      const exchange = createScramExchange('alice', VERIFIER);
      const first = exchange.start(c.first);
      if (!('serverFirst' in first)) throw new Error(first.error);
      expect('serverFinal' in exchange.finish(c.final(first.serverFirst))).toBe(true);
    }
  });
});

describe('hand-crafted client', () => {
  it('authenticates and produces the expected server signature', () => {
    const c = client('pw');
    const exchange = createScramExchange('alice', VERIFIER);
    const first = exchange.start(c.first);
    if (!('serverFirst' in first)) throw new Error(first.error);
    const final = exchange.finish(c.final(first.serverFirst));
    expect('serverFinal' in final).toBe(true);
  });

  it('accepts trailing extensions in client-first and client-final (covered by the proof)', () => {
    const c = client('pw', 'rOprNGfwEbeRWgbNEkqO', 'n,,', '', ',x=ext');
    const exchange = createScramExchange('alice', VERIFIER);
    const first = exchange.start(c.first);
    if (!('serverFirst' in first)) throw new Error(first.error);
    expect('serverFinal' in exchange.finish(c.final(first.serverFirst, { extra: ',y=e=xt' }))).toBe(true);
    // Dropping the extension from the final message changes the AuthMessage.
    const again = createScramExchange('alice', VERIFIER);
    const first2 = again.start(c.first);
    if (!('serverFirst' in first2)) throw new Error(first2.error);
    const tampered = c.final(first2.serverFirst, { extra: ',y=e=xt' }).replace(',y=e=xt', '');
    expect(again.finish(tampered)).toEqual({ ok: false, error: SCRAM_AUTH_FAILED });
  });
});

describe('unknown or inactive user (verifier null)', () => {
  const saltOf = (serverFirst: string) => /,s=([^,]+),/.exec(serverFirst)?.[1] ?? '';

  it('answers a plausible server-first and fails at the proof', async () => {
    const exchange = createScramExchange('ghost', null);
    const session = pgSasl.startSession([SCRAM_MECHANISM]);
    const first = exchange.start(session.response);
    if (!('serverFirst' in first)) throw new Error(first.error);
    expect(first.serverFirst).toMatch(/^r=[\x21-\x2b\x2d-\x7e]+,s=[A-Za-z0-9+/]{22}==,i=4096$/);
    expect(Buffer.from(saltOf(first.serverFirst), 'base64')).toHaveLength(16);
    await pgSasl.continueSession(session, 'pw', first.serverFirst);
    expect(exchange.finish(session.response)).toEqual({ ok: false, error: SCRAM_AUTH_FAILED });
  });

  it('gives a stable salt per user name and different salts for different names', () => {
    const c = client('pw');
    const salt = (name: string) => {
      const first = createScramExchange(name, null).start(c.first);
      if (!('serverFirst' in first)) throw new Error(first.error);
      return saltOf(first.serverFirst);
    };
    expect(salt('ghost')).toBe(salt('ghost'));
    expect(salt('ghost')).not.toBe(salt('ghost2'));
  });

  it('looks like a known user in shape, and fails like a wrong password', () => {
    const c = client('pw');
    const known = createScramExchange('alice', VERIFIER).start(c.first);
    const unknown = createScramExchange('ghost', null).start(c.first);
    if (!('serverFirst' in known) || !('serverFirst' in unknown)) throw new Error('start failed');
    const shape = (s: string) => s.replace(/[A-Za-z0-9+/]/g, 'x');
    expect(shape(unknown.serverFirst)).toBe(shape(known.serverFirst));
  });

  it('treats a corrupt stored verifier as an unknown user', () => {
    const c = client('pw');
    for (const verifier of ['', 'md5abc', 'SCRAM-SHA-256$4096:$x:y', 'SCRAM-SHA-256$0:AAAA$AA:AA']) {
      const exchange = createScramExchange('alice', verifier);
      const first = exchange.start(c.first);
      if (!('serverFirst' in first)) throw new Error(first.error);
      expect(first.serverFirst).toMatch(/,i=4096$/);
      expect(exchange.finish(c.final(first.serverFirst))).toEqual({
        ok: false,
        error: SCRAM_AUTH_FAILED,
      });
    }
  });
});

describe('malformed messages', () => {
  const nonce = 'rOprNGfwEbeRWgbNEkqO';
  const badFirsts: Array<[string, unknown]> = [
    ['empty', ''],
    ['not a string', undefined],
    ['no gs2 header', `n=,r=${nonce}`],
    ['missing r=', 'n,,n='],
    ['missing n=', `n,,r=${nonce}`],
    ['empty nonce', 'n,,n=,r='],
    ['nonce with non-printable', `n,,n=,r=ab\u00e9`],
    ['nonce with space', `n,,n=,r=ab cd`],
    ['r before n', `n,,r=${nonce},n=`],
    ['channel binding requested', `p=tls-server-end-point,,n=,r=${nonce}`],
    ['unknown cbind flag', `x,,n=,r=${nonce}`],
    ['authzid', `n,a=admin,n=,r=${nonce}`],
    ['garbage authzid', `n,zzz,n=,r=${nonce}`],
    ['mandatory extension', `n,,m=ext,n=,r=${nonce}`],
    ['trailing comma', `n,,n=,r=${nonce},`],
    ['bad extension', `n,,n=,r=${nonce},xx=1`],
    ['bad saslname', `n,,n=a=b,r=${nonce}`],
    ['NUL byte', `n,,n=\0,r=${nonce}`],
    ['huge', `n,,n=,r=${'a'.repeat(SCRAM_MAX_MESSAGE_LENGTH)}`],
    ['gigantic', `n,,n=,r=${'a'.repeat(10_000_000)}`],
    ['only commas', ',,,,'],
    ['uppercase header', `N,,n=,r=${nonce}`],
  ];

  it.each(badFirsts)('client-first: %s → error', (_name, message) => {
    const exchange = createScramExchange('alice', VERIFIER);
    const result = exchange.start(message as string);
    expect(result).toEqual({ error: expect.stringMatching(/^malformed SCRAM message: /) });
    // The exchange is over: finish fails too.
    expect(exchange.finish('c=biws,r=x,p=AAAA')).toMatchObject({ ok: false });
  });

  const validProof = Buffer.alloc(32, 1).toString('base64');
  const badFinals: Array<[string, (n: string) => unknown]> = [
    ['empty', () => ''],
    ['not a string', () => null],
    ['missing c=', (n) => `r=${n},p=${validProof}`],
    ['missing r=', () => `c=biws,p=${validProof}`],
    ['missing p=', (n) => `c=biws,r=${n}`],
    ['p= not last', (n) => `c=biws,p=${validProof},r=${n}`],
    ['two proofs', (n) => `c=biws,r=${n},p=${validProof},p=${validProof}`],
    ['c= of another header', (n) => `c=eSws,r=${n},p=${validProof}`],
    [
      'c= with binding data',
      (n) => `c=${Buffer.from('p=tls-server-end-point,,xx').toString('base64')},r=${n},p=${validProof}`,
    ],
    ['c= not base64', (n) => `c=bi*s,r=${n},p=${validProof}`],
    ['empty c=', (n) => `c=,r=${n},p=${validProof}`],
    ['nonce = client nonce only', () => `c=biws,r=${nonce},p=${validProof}`],
    ['nonce not extending the client nonce', (n) => `c=biws,r=X${n.slice(1)},p=${validProof}`],
    ['nonce extended further', (n) => `c=biws,r=${n}x,p=${validProof}`],
    ['proof not base64', (n) => `c=biws,r=${n},p=!!!!`],
    ['proof badly padded', (n) => `c=biws,r=${n},p=${validProof.slice(0, -1)}`],
    ['proof too short', (n) => `c=biws,r=${n},p=AAAA`],
    ['proof too long', (n) => `c=biws,r=${n},p=${Buffer.alloc(33).toString('base64')}`],
    ['empty proof', (n) => `c=biws,r=${n},p=`],
    ['bad extension', (n) => `c=biws,r=${n},zz,p=${validProof}`],
    ['huge', (n) => `c=biws,r=${n},x=${'a'.repeat(SCRAM_MAX_MESSAGE_LENGTH)},p=${validProof}`],
    ['NUL', (n) => `c=biws,r=${n},p=${validProof}\0`],
  ];

  it.each(badFinals)('client-final: %s → error', (_name, make) => {
    const exchange = createScramExchange('alice', VERIFIER);
    const first = exchange.start(`n,,n=,r=${nonce}`);
    if (!('serverFirst' in first)) throw new Error(first.error);
    const combined = /^r=([^,]+),/.exec(first.serverFirst)?.[1] ?? '';
    const result = exchange.finish(make(combined) as string);
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/^malformed SCRAM message: /) });
  });

  it('rejects a proof computed over a changed c= (the header binding is part of the AuthMessage)', () => {
    // Client started with "y,," but claims "n,," in the final message.
    const c = client('pw', nonce, 'y,,');
    const exchange = createScramExchange('alice', VERIFIER);
    const first = exchange.start(c.first);
    if (!('serverFirst' in first)) throw new Error(first.error);
    const result = exchange.finish(c.final(first.serverFirst, { c: 'biws' }));
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/channel binding/) });
  });

  it('refuses a replayed client-final on a new exchange (fresh server nonce)', () => {
    const c = client('pw', nonce);
    const one = createScramExchange('alice', VERIFIER);
    const first = one.start(c.first);
    if (!('serverFirst' in first)) throw new Error(first.error);
    const final = c.final(first.serverFirst);
    expect('serverFinal' in one.finish(final)).toBe(true);
    const two = createScramExchange('alice', VERIFIER);
    expect('serverFirst' in two.start(c.first)).toBe(true);
    expect(two.finish(final)).toMatchObject({ ok: false, error: expect.stringMatching(/nonce/) });
  });

  it('refuses a right-shaped proof with the wrong bits as a failed authentication', () => {
    const c = client('pw', nonce);
    const exchange = createScramExchange('alice', VERIFIER);
    const first = exchange.start(c.first);
    if (!('serverFirst' in first)) throw new Error(first.error);
    const result = exchange.finish(c.final(first.serverFirst, { proofText: validProof }));
    expect(result).toEqual({ ok: false, error: SCRAM_AUTH_FAILED });
  });

  it('enforces the message order', () => {
    const c = client('pw', nonce);
    const fresh = createScramExchange('alice', VERIFIER);
    expect(fresh.finish(`c=biws,r=${nonce},p=${validProof}`)).toMatchObject({ ok: false });
    expect('error' in fresh.start(c.first)).toBe(true); // finish out of order ended it

    const twice = createScramExchange('alice', VERIFIER);
    expect('serverFirst' in twice.start(c.first)).toBe(true);
    expect('error' in twice.start(c.first)).toBe(true);

    const done = createScramExchange('alice', VERIFIER);
    const first = done.start(c.first);
    if (!('serverFirst' in first)) throw new Error(first.error);
    const final = c.final(first.serverFirst);
    expect('serverFinal' in done.finish(final)).toBe(true);
    expect(done.finish(final)).toMatchObject({ ok: false }); // no second success
  });

  it('never throws on random input', () => {
    const alphabet = 'nyp,=acrmx0AZ+/\0é';
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: rand(40) }, () => alphabet[rand(alphabet.length)]).join('');
      const exchange = createScramExchange('alice', i % 2 ? VERIFIER : null);
      expect(() => exchange.start(`n,,n=,r=${nonce}`)).not.toThrow();
      expect(() => exchange.finish(text)).not.toThrow();
      expect(() => createScramExchange('alice', VERIFIER).start(text)).not.toThrow();
    }
  });
});
