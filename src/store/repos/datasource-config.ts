/**
 * Connection settings of a data source (api-contract §4.4, §4.5).
 *
 * The API takes one flat `config` object; the type definition decides which
 * keys are kept, which are secret (stored encrypted in `secure_config`) and
 * which get a default. BR does not type-check the values (quirk Q19); we do,
 * at create and update, so a bad port or sslmode is a 422 naming the field
 * instead of a connection failure later.
 */
import type { Kysely } from 'kysely';
import type { SecretCipher } from '../../secrets/cipher.js';
import { InvalidError, NotFoundError } from '../repo-errors.js';
import type { Database, DataSourceRow } from '../schema.js';
import { fromFlag, parseJson } from '../values.js';

export interface DataSourceField {
  key: string;
  label: string;
  field_type: 'text' | 'number' | 'select' | 'textarea';
  options?: string[];
  required: boolean;
  is_secret: boolean;
  default_value?: string;
}

export interface DataSourceType {
  ds_type: string;
  label: string;
  fields: DataSourceField[];
}

/** Exactly the body of `GET /datasource-types` (§4.4); also drives the config split. */
export const DATA_SOURCE_TYPES: readonly DataSourceType[] = [
  {
    ds_type: 'postgres',
    label: 'PostgreSQL',
    fields: [
      { key: 'host', label: 'Host', field_type: 'text', required: true, is_secret: false },
      {
        key: 'port',
        label: 'Port',
        field_type: 'number',
        required: true,
        is_secret: false,
        default_value: '5432',
      },
      { key: 'database', label: 'Database', field_type: 'text', required: true, is_secret: false },
      { key: 'username', label: 'Username', field_type: 'text', required: true, is_secret: false },
      { key: 'password', label: 'Password', field_type: 'text', required: true, is_secret: true },
      {
        key: 'sslmode',
        label: 'SSL Mode',
        field_type: 'select',
        options: ['disable', 'prefer', 'require'],
        required: true,
        is_secret: false,
        default_value: 'require',
      },
    ],
  },
];

/**
 * sslmode values accepted on write: BR's three plus `verify-full` (our
 * extension: verify the upstream certificate and host name). The §4.4 list
 * above stays BR's so the type endpoint is byte-compatible.
 */
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Defaults as JSON values (BR stores port as a number although `default_value` is a string). */
const DEFAULTS: Record<string, unknown> = { port: 5432, sslmode: 'require' };

export type ConfigObject = Record<string, unknown>;
export type AccessMode = 'open' | 'policy_required';
export const DATA_SOURCE_NOT_FOUND = 'Data source not found';

/** Decrypted settings for an upstream connection. Never log or return this through the API. */
export interface DataSourceConnection {
  id: string;
  name: string;
  ds_type: string;
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  sslmode: SslMode;
  is_active: boolean;
  access_mode: AccessMode;
}

/** The two halves of a config: `visible` goes to `config`, `secret` is encrypted. */
export interface SplitConfig {
  visible: ConfigObject;
  secret: ConfigObject;
}

export function findDataSourceType(dsType: string): DataSourceType {
  const type = DATA_SOURCE_TYPES.find((t) => t.ds_type === dsType);
  if (!type) throw new InvalidError('ds_type', `Unknown data source type: ${dsType}`);
  return type;
}

function asObject(config: unknown): ConfigObject {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidError('config', 'Invalid input: config must be a JSON object');
  }
  return config as ConfigObject;
}

/** Create: every type field from the input, else its default, else it is missing. Unknown keys dropped. */
export function splitConfig(dsType: string, config: unknown): SplitConfig {
  const type = findDataSourceType(dsType);
  const input = asObject(config);
  const result: SplitConfig = { visible: {}, secret: {} };
  for (const field of type.fields) {
    let value: unknown;
    // `undefined` (never produced by JSON) counts as absent.
    if (input[field.key] !== undefined) value = input[field.key];
    else if (Object.hasOwn(DEFAULTS, field.key)) value = DEFAULTS[field.key];
    else throw new InvalidError(`config.${field.key}`, `Missing required field: ${field.key}`);
    (field.is_secret ? result.secret : result.visible)[field.key] = validateField(field.key, value);
  }
  return result;
}

/**
 * Update (§4.5 merge): a sent secret `""` keeps the stored secret, any other
 * sent value replaces; absent keys keep the stored value; unknown keys dropped.
 */
export function mergeConfig(dsType: string, stored: SplitConfig, patch: unknown): SplitConfig {
  const type = findDataSourceType(dsType);
  const input = asObject(patch);
  const result: SplitConfig = { visible: {}, secret: {} };
  for (const field of type.fields) {
    const target = field.is_secret ? result.secret : result.visible;
    const previous = (field.is_secret ? stored.secret : stored.visible)[field.key];
    const sent = input[field.key] !== undefined;
    const keep = !sent || (field.is_secret && input[field.key] === '');
    const value = keep ? previous : input[field.key];
    if (value === undefined)
      throw new InvalidError(`config.${field.key}`, `Missing required field: ${field.key}`);
    target[field.key] = keep ? value : validateField(field.key, value);
  }
  return result;
}

/** Quirk Q19 fix: values are type-checked; returns the normalised value (port as a number). */
function validateField(key: string, value: unknown): unknown {
  switch (key) {
    case 'host':
    case 'database':
    case 'username':
      if (typeof value !== 'string' || value.trim() === '') {
        throw new InvalidError(`config.${key}`, `Invalid config field '${key}': must be a non-empty string`);
      }
      return value;
    case 'password':
      if (typeof value !== 'string') {
        throw new InvalidError('config.password', "Invalid config field 'password': must be a string");
      }
      return value;
    case 'port': {
      const port = typeof value === 'string' && /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : value;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw new InvalidError(
          'config.port',
          "Invalid config field 'port': must be an integer between 1 and 65535",
        );
      }
      return port;
    }
    case 'sslmode':
      if (typeof value !== 'string' || !(SSL_MODES as readonly string[]).includes(value)) {
        throw new InvalidError(
          'config.sslmode',
          `Invalid config field 'sslmode': must be one of ${SSL_MODES.join(', ')}`,
        );
      }
      return value;
    default:
      return value;
  }
}

/**
 * Decrypted connection settings for the data plane and discovery. Throws a
 * plain Error (a 500 for the test endpoint, §4.5) when the stored config does
 * not decode — possible only for rows written before validation existed.
 */
export async function getDataSourceConnection(
  db: Kysely<Database>,
  cipher: SecretCipher,
  key: { id: string } | { name: string },
): Promise<DataSourceConnection> {
  const row = await db
    .selectFrom('data_source')
    .selectAll()
    .$call((q) => ('id' in key ? q.where('id', '=', key.id) : q.where('name', '=', key.name)))
    .executeTakeFirst();
  if (!row) throw new NotFoundError(DATA_SOURCE_NOT_FOUND);
  const { visible, secret } = decryptStoredConfig(row, cipher);
  const text = (field: string, source: ConfigObject): string => {
    const value = source[field];
    if (typeof value !== 'string') throw new Error(`missing ${field} in config`);
    return value;
  };
  const port = typeof visible.port === 'string' ? Number(visible.port) : visible.port;
  if (typeof port !== 'number' || !Number.isInteger(port)) throw new Error('missing port in config');
  return {
    id: row.id,
    name: row.name,
    ds_type: row.ds_type,
    host: text('host', visible),
    port,
    database: text('database', visible),
    username: text('username', visible),
    password: text('password', secret),
    sslmode: (typeof visible.sslmode === 'string' ? visible.sslmode : 'require') as SslMode,
    is_active: fromFlag(row.is_active),
    access_mode: row.access_mode as AccessMode,
  };
}

/** The stored config halves, the secret one decrypted (throws on a wrong key). */
export function decryptStoredConfig(row: DataSourceRow, cipher: SecretCipher): SplitConfig {
  const secret =
    row.secure_config === '' ? {} : parseJson<ConfigObject>(cipher.decrypt(row.secure_config), {});
  return { visible: parseJson<ConfigObject>(row.config, {}), secret };
}
