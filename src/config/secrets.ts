/**
 * Key material on disk: the data directory, the encryption-key and JWT-secret
 * files generated on first start, and the TLS PEM files. Everything here
 * touches the file system; the rest of src/config only reads `env`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecretCipher } from '../secrets/cipher.js';
import { ConfigError, errorCode, reason } from './errors.js';
import { label, readVar, type VariableName } from './variables.js';

export const ENCRYPTION_KEY_FILE = 'encryption_key';
export const JWT_SECRET_FILE = 'jwt_secret';

export interface Resolved<T> {
  readonly value: T;
  readonly warnings: string[];
}

/** Creates the data directory owner-only (it will hold keys); an existing directory is left as it is. */
export function ensureDataDir(dir: string): void {
  try {
    const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is filtered by the umask; chmod states the intent exactly.
    if (created !== undefined) chmodSync(dir, 0o700);
  } catch (err) {
    throw new ConfigError(`ROWGATE_DATA_DIR: cannot create ${dir}: ${reason(err)}`, 'ROWGATE_DATA_DIR', {
      cause: err,
    });
  }
}

export function resolveEncryptionKey(env: NodeJS.ProcessEnv, dataDir: string): Resolved<string> {
  const name = 'ROWGATE_ENCRYPTION_KEY';
  const raw = readVar(env, name);
  if (raw !== undefined) {
    const key = raw.value.trim();
    if (isKey(key)) return { value: key, warnings: [] };
    // Never echo the value: even a malformed key is mostly secret.
    const detail = key === '' ? 'it is empty' : `got ${key.length} characters`;
    throw new ConfigError(`${label(name)}: must be 64 hexadecimal characters (${detail})`, name);
  }
  const file = join(dataDir, ENCRYPTION_KEY_FILE);
  // Two attempts: if another process creates the file between our read and write, use its key.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const stored = readSecretFile(name, file);
    if (stored !== undefined) {
      const key = stored.trim();
      if (!isKey(key)) {
        // Not "delete the file": a fresh key would make every stored secret unreadable.
        throw new ConfigError(
          `${label(name)} is not set and ${file} does not hold 64 hexadecimal characters: fix the file or set the variable`,
          name,
        );
      }
      return { value: key, warnings: permissionWarnings(file) };
    }
    const key = randomBytes(32).toString('hex');
    if (writeSecretFile(name, dataDir, file, key, false)) {
      return {
        value: key,
        warnings: [
          `${label(name)} is not set: generated a new key in ${file}; back it up, datasource secrets cannot be decrypted without it`,
        ],
      };
    }
  }
  throw new ConfigError(`${label(name)} is not set and ${file} could not be created`, name);
}

export function resolveJwtSecret(env: NodeJS.ProcessEnv, dataDir: string): Resolved<string> {
  const name = 'ROWGATE_JWT_SECRET';
  const raw = readVar(env, name);
  if (raw !== undefined) {
    const secret = raw.value.trim();
    if (secret !== '') return { value: secret, warnings: [] };
    throw new ConfigError(`${label(name)}: must not be blank`, name);
  }
  const file = join(dataDir, JWT_SECRET_FILE);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const stored = readSecretFile(name, file);
    if (stored !== undefined && stored.trim() !== '') {
      return { value: stored.trim(), warnings: permissionWarnings(file) };
    }
    const secret = randomBytes(32).toString('hex');
    // A blank file holds no usable secret, so replacing it loses nothing (only live tokens).
    const blank = stored !== undefined;
    if (writeSecretFile(name, dataDir, file, secret, blank)) {
      const what = blank
        ? `${file} was blank: generated a new secret in it`
        : `generated a new secret in ${file}`;
      return { value: secret, warnings: [`${label(name)} is not set: ${what}`] };
    }
  }
  throw new ConfigError(`${label(name)} is not set and ${file} could not be created`, name);
}

/** Reads a PEM file named by a TLS variable; the contents go into Config. */
export function readPemFile(name: VariableName, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${label(name)}: cannot read ${path}: ${reason(err)}`, name, { cause: err });
  }
  // A cheap sanity check with a clear message; real validation happens when the TLS context is built.
  if (!text.includes('-----BEGIN')) {
    throw new ConfigError(`${label(name)}: ${path} is not a PEM file (no "-----BEGIN" line)`, name);
  }
  return text;
}

function isKey(hex: string): boolean {
  try {
    SecretCipher.fromHex(hex); // the cipher's own rule, so config and cipher cannot disagree
    return true;
  } catch {
    return false;
  }
}

/** File contents, or undefined when the file does not exist. */
function readSecretFile(name: VariableName, file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw new ConfigError(`${label(name)} is not set and ${file} cannot be read: ${reason(err)}`, name, {
      cause: err,
    });
  }
}

/** Writes an owner-only secret file; false when `overwrite` is off and the file appeared meanwhile. */
function writeSecretFile(
  name: VariableName,
  dataDir: string,
  file: string,
  content: string,
  overwrite: boolean,
): boolean {
  ensureDataDir(dataDir);
  try {
    writeFileSync(file, content, { mode: 0o600, flag: overwrite ? 'w' : 'wx' });
    // The mode above is umask-filtered and ignored for an existing file; make it exact.
    chmodSync(file, 0o600);
    return true;
  } catch (err) {
    if (!overwrite && errorCode(err) === 'EEXIST') return false;
    throw new ConfigError(`${label(name)} is not set and ${file} cannot be written: ${reason(err)}`, name, {
      cause: err,
    });
  }
}

function permissionWarnings(file: string): string[] {
  if (process.platform === 'win32') return [];
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return [];
  return [
    `${file} is accessible by other users (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 on it`,
  ];
}
