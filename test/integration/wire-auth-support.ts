/**
 * Helpers of the wire-auth-* tests: a raw protocol client (to see exactly
 * which authentication request the proxy sends, and to send malformed
 * answers), and extra accounts on the demo store.
 */
import net from 'node:net';
import tls from 'node:tls';
import { auditedTransaction } from '../../src/store/audited.js';
import { setUserAccess } from '../../src/store/repos/datasource-access.js';
import { createUser, updateUser } from '../../src/store/repos/users.js';
import { scramVerifier } from '../../src/identity/passwords.js';
import { sslRequest, startupMessage } from '../../src/wire/frontend.js';
import { DEMO_DATABASE, type DemoStore } from '../support/wire-demo.js';

export interface BackendMessage {
  type: string;
  body: Buffer;
}

/** A PostgreSQL protocol client that hands back raw backend messages. */
export class RawClient {
  private pending = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private ended = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      this.wake?.();
    });
    const end = () => {
      this.ended = true;
      this.wake?.();
    };
    socket.on('close', end).on('end', end).on('error', end);
  }

  /** Connects (over TLS after an SSLRequest when `ssl`), sends the startup packet. */
  static async connect(
    port: number,
    options: { ssl?: boolean; params?: Record<string, string>; localAddress?: string } = {},
  ): Promise<RawClient> {
    let socket: net.Socket = net.connect({
      host: '127.0.0.1',
      port,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    if (options.ssl) {
      socket.write(sslRequest());
      const answer = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
      if (answer.toString() !== 'S') throw new Error(`SSLRequest answered ${answer.toString()}`);
      const secure = tls.connect({ socket, rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) =>
        secure.once('secureConnect', resolve).once('error', reject),
      );
      socket = secure;
    }
    const client = new RawClient(socket);
    if (options.params) client.socket.write(startupMessage(options.params));
    return client;
  }

  send(type: string, body: Buffer): void {
    const header = Buffer.alloc(5);
    header.write(type, 0, 'latin1');
    header.writeInt32BE(body.length + 4, 1);
    this.socket.write(Buffer.concat([header, body]));
  }

  /** The next backend message; rejects when the connection ends first or after `timeoutMs`. */
  async message(timeoutMs = 10_000): Promise<BackendMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.pending.length >= 5) {
        const length = this.pending.readInt32BE(1);
        if (this.pending.length >= length + 1) {
          const type = String.fromCharCode(this.pending[0]!);
          const body = this.pending.subarray(5, length + 1);
          this.pending = this.pending.subarray(length + 1);
          return { type, body };
        }
      }
      if (this.ended) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no message in time');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, left).unref();
      });
      this.wake = undefined;
    }
  }

  /** Resolves once the server closed the connection (or after `timeoutMs`: false). */
  async closed(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50).unref();
      });
    }
    return this.ended;
  }

  end(): void {
    this.socket.destroy();
  }
}

/** The authentication request code of an 'R' message (3 cleartext, 10 SASL, 0 ok). */
export function authCode(message: BackendMessage): number {
  if (message.type !== 'R') throw new Error(`expected an authentication request, got '${message.type}'`);
  return message.body.readInt32BE(0);
}

/** The fields of an ErrorResponse: C (code), M (message), … */
export function errorFields(message: BackendMessage): Record<string, string> {
  if (message.type !== 'E') throw new Error(`expected an ErrorResponse, got '${message.type}'`);
  const fields: Record<string, string> = {};
  let at = 0;
  while (at < message.body.length && message.body[at] !== 0) {
    const end = message.body.indexOf(0, at + 1);
    fields[String.fromCharCode(message.body[at]!)] = message.body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return fields;
}

/** PasswordMessage body: the string and its NUL. */
export const passwordBody = (password: string): Buffer => Buffer.from(`${password}\0`, 'utf8');

const ACTOR = '00000000-0000-7000-8000-000000000001';

/**
 * A proxy user granted the demo data source. `scramPassword` stores the SCRAM
 * verifier of ANOTHER password: such a user can only get in by cleartext.
 * `grant: false` leaves it without access (and active, with SCRAM as usual).
 */
export async function addDemoUser(
  demo: DemoStore,
  username: string,
  password: string,
  options: { active?: boolean; scramPassword?: string; grant?: boolean } = {},
): Promise<string> {
  const { store } = demo.admin;
  const ds = await store.db
    .selectFrom('data_source')
    .select('id')
    .where('name', '=', DEMO_DATABASE)
    .executeTakeFirstOrThrow();
  return auditedTransaction(store, ACTOR, async (tx) => {
    const user = await createUser(tx, { username, password });
    if (options.grant !== false) {
      const granted = await tx.db
        .selectFrom('data_source_access')
        .select('user_id')
        .where('data_source_id', '=', ds.id)
        .where('assignment_scope', '=', 'user')
        .execute();
      const ids = granted.flatMap((g) => (g.user_id ? [g.user_id] : []));
      await setUserAccess(tx, ds.id, [...ids, user.id]);
    }
    if (options.active === false) await updateUser(tx, user.id, { is_active: false });
    if (options.scramPassword !== undefined) {
      await tx.db
        .updateTable('proxy_user')
        .set({ scram_verifier: scramVerifier(options.scramPassword) })
        .where('id', '=', user.id)
        .execute();
    }
    return user.id;
  });
}
