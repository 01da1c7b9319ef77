/**
 * Secrets at rest: AES-256-GCM with a random 96-bit nonce, stored as
 * base64(nonce ‖ ciphertext ‖ tag) — the format BetweenRows uses for
 * `secure_config`, so a migrated BetweenRows store stays readable.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class SecretCipher {
  readonly #key: Buffer;

  /** @param key 32 bytes (the decoded 64-hex-character encryption key). */
  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('encryption key must be 32 bytes');
    this.#key = Buffer.from(key);
  }

  static fromHex(hex: string): SecretCipher {
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error('encryption key must be 64 hexadecimal characters');
    return new SecretCipher(Buffer.from(hex, 'hex'));
  }

  encrypt(plaintext: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
  }

  /** Throws when the text was not produced with this key or was tampered with. */
  decrypt(encoded: string): string {
    const raw = Buffer.from(encoded, 'base64');
    if (raw.length < NONCE_BYTES + TAG_BYTES) throw new Error('ciphertext too short');
    const nonce = raw.subarray(0, NONCE_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce);
    decipher.setAuthTag(tag);
    const body = raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES);
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('cannot decrypt secret: wrong encryption key or corrupted data');
    }
  }
}
