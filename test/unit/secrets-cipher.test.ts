import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';

const key = () => randomBytes(32).toString('hex');

describe('SecretCipher (AES-256-GCM at rest)', () => {
  it('round-trips text, with a fresh nonce each time', () => {
    const cipher = SecretCipher.fromHex(key());
    const secret = '{"password":"p@ss wörd"}';
    const a = cipher.encrypt(secret);
    const b = cipher.encrypt(secret);
    expect(a).not.toBe(b);
    expect(a).not.toContain('p@ss');
    expect(cipher.decrypt(a)).toBe(secret);
    expect(cipher.decrypt(b)).toBe(secret);
    // base64(12-byte nonce ‖ ciphertext ‖ 16-byte tag)
    expect(Buffer.from(a, 'base64').length).toBe(12 + Buffer.byteLength(secret) + 16);
  });

  it('refuses another key and tampered data', () => {
    const encrypted = SecretCipher.fromHex(key()).encrypt('secret');
    expect(() => SecretCipher.fromHex(key()).decrypt(encrypted)).toThrow(/wrong encryption key/);
    const raw = Buffer.from(encrypted, 'base64');
    raw[14] = (raw[14] ?? 0) ^ 0xff;
    const cipher = SecretCipher.fromHex(key());
    expect(() => cipher.decrypt(raw.toString('base64'))).toThrow();
    expect(() => cipher.decrypt('c2hvcnQ=')).toThrow(/too short/);
  });

  it('accepts only 64 hexadecimal characters as a key', () => {
    expect(() => SecretCipher.fromHex('ab'.repeat(31))).toThrow(/64 hexadecimal/);
    expect(() => SecretCipher.fromHex('zz'.repeat(32))).toThrow(/64 hexadecimal/);
    expect(() => new SecretCipher(Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});
