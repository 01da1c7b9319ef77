/**
 * Attribute validation (api-contract §4.11.1, §4.11.2, §4.3 PUT): pure
 * functions shared by the definition repository and user updates, so that the
 * same value is judged the same way wherever it enters. Messages are BR's.
 */
import { InvalidError } from '../store/repo-errors.js';

export const ENTITY_TYPES = ['user', 'table', 'column'] as const;
export const VALUE_TYPES = ['string', 'integer', 'boolean', 'list'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];
export type ValueType = (typeof VALUE_TYPES)[number];

/** The user table's columns plus two virtual names; `tenant` is deliberately not here. */
export const RESERVED_USER_KEYS: ReadonlySet<string> = new Set([
  'id',
  'username',
  'password_hash',
  'is_admin',
  'is_active',
  'email',
  'display_name',
  'last_login_at',
  'created_at',
  'updated_at',
  'attributes',
  'roles',
  'user_id',
]);

const MAX_BYTES = 1024;
const MAX_LIST = 100;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

const tooLong = (value: string) => Buffer.byteLength(value, 'utf8') > MAX_BYTES;

/** Checks of an already-parsed list value; returns the reason or null. */
export function listReason(items: readonly unknown[]): string | null {
  if (items.length > MAX_LIST) return `list cannot exceed ${MAX_LIST} elements`;
  for (const [i, item] of items.entries()) {
    if (typeof item !== 'string') return `list element at index ${i} is not a string`;
    if (tooLong(item)) return `list element at index ${i} exceeds ${MAX_BYTES} character limit`;
  }
  return null;
}

/** §4.11.1: is the string form `value` valid for `type`? Returns the reason or null. */
export function valueReason(value: string, type: ValueType): string | null {
  switch (type) {
    case 'string':
      return tooLong(value) ? `value exceeds ${MAX_BYTES} character limit` : null;
    case 'integer': {
      // Rust `i64::from_str`: optional sign, ASCII digits, no spaces, in range.
      if (!/^[+-]?[0-9]+$/.test(value)) return `'${value}' is not a valid integer`;
      const n = BigInt(value);
      return n < I64_MIN || n > I64_MAX ? `'${value}' is not a valid integer` : null;
    }
    case 'boolean':
      return value === 'true' || value === 'false'
        ? null
        : `'${value}' is not a valid boolean (must be 'true' or 'false')`;
    case 'list': {
      const parsed = parseJsonArray(value);
      return parsed === undefined ? `'${value}' is not a valid JSON array` : listReason(parsed);
    }
  }
}

function parseJsonArray(text: string): unknown[] | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** `["a", "b"]`, the way BR renders a list in messages (Rust `{:?}` of a Vec<String>). */
export const renderList = (items: readonly string[]): string =>
  `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;

export interface DefinitionFields {
  key: string;
  entity_type: string;
  value_type: string;
  default_value: string | null;
  allowed_values: string[] | null;
}

/** §4.11.2, on the final values of a create or update; throws InvalidError (422) naming the field. */
export function checkDefinitionRule(def: DefinitionFields): void {
  const keyBytes = Buffer.byteLength(def.key, 'utf8');
  if (keyBytes < 1 || keyBytes > 64) throw new InvalidError('key', 'key must be 1-64 characters');
  if (!/^[A-Za-z]/.test(def.key)) throw new InvalidError('key', 'key must start with a letter');
  if (!/^[A-Za-z0-9_]*$/.test(def.key)) {
    throw new InvalidError('key', 'key must contain only letters, digits, and underscores');
  }
  if (!(ENTITY_TYPES as readonly string[]).includes(def.entity_type)) {
    throw new InvalidError('entity_type', 'entity_type must be one of: user, table, column');
  }
  if (def.entity_type === 'user' && RESERVED_USER_KEYS.has(def.key)) {
    throw new InvalidError('key', `'${def.key}' is a reserved attribute key for user entities`);
  }
  if (!(VALUE_TYPES as readonly string[]).includes(def.value_type)) {
    throw new InvalidError('value_type', 'value_type must be one of: string, integer, boolean, list');
  }
  const type = def.value_type as ValueType;
  if (def.default_value !== null) {
    const reason = valueReason(def.default_value, type);
    if (reason) throw new InvalidError('default_value', `invalid default_value: ${reason}`);
  }
  const elementType: ValueType = type === 'list' ? 'string' : type;
  for (const allowed of def.allowed_values ?? []) {
    const reason = valueReason(allowed, elementType);
    if (reason) throw new InvalidError('allowed_values', `invalid allowed_value '${allowed}': ${reason}`);
  }
  if (def.allowed_values === null || def.default_value === null) return;
  // An empty allowed list still constrains the default here (BR), though not user values.
  if (type !== 'list') {
    if (!def.allowed_values.includes(def.default_value)) {
      throw new InvalidError('default_value', 'default_value must be in allowed_values');
    }
    return;
  }
  const items = parseJsonArray(def.default_value);
  if (!items || items.some((e) => typeof e !== 'string')) {
    throw new InvalidError('default_value', 'default_value for list must be a JSON array of strings');
  }
  for (const item of items as string[]) {
    if (!def.allowed_values.includes(item)) {
      throw new InvalidError('default_value', `default_value element '${item}' is not in allowed_values`);
    }
  }
}

/** What user-attribute validation needs of a definition. */
export interface UserAttributeDefinition {
  key: string;
  value_type: string;
  allowed_values: string[] | null;
}

export type UserAttributes = Record<string, string | string[]>;

/**
 * §4.3 PUT: validates a user's full attribute map against the `user`
 * definitions, first failure wins, in the map's key order. Returns the map
 * typed (it is stored exactly as sent). Throws InvalidError naming
 * `attributes.<key>`.
 */
export function validateUserAttributes(
  definitions: readonly UserAttributeDefinition[],
  attributes: Record<string, unknown>,
): UserAttributes {
  const byKey = new Map(definitions.map((d) => [d.key, d]));
  for (const [key, value] of Object.entries(attributes)) {
    const field = `attributes.${key}`;
    const def = byKey.get(key);
    if (!def) {
      throw new InvalidError(
        field,
        `Unknown attribute key '${key}'. Define it first via attribute definitions.`,
      );
    }
    // "no constraint" when the list is absent or empty (§4.11.2 note)
    const allowed = def.allowed_values && def.allowed_values.length > 0 ? def.allowed_values : null;
    if (def.value_type === 'list') {
      if (!Array.isArray(value)) {
        throw new InvalidError(field, `Attribute '${key}' has type 'list' — value must be a JSON array`);
      }
      const reason = listReason(value);
      if (reason) throw new InvalidError(field, `Invalid value for attribute '${key}': ${reason}`);
      for (const element of value as string[]) {
        if (allowed && !allowed.includes(element)) {
          throw new InvalidError(
            field,
            `List element '${element}' for attribute '${key}' is not in allowed values: ${renderList(allowed)}`,
          );
        }
      }
      continue;
    }
    if (typeof value !== 'string') {
      throw new InvalidError(
        field,
        `Attribute '${key}' has type '${def.value_type}' — value must be a string`,
      );
    }
    const reason = valueReason(value, def.value_type as ValueType);
    if (reason) throw new InvalidError(field, `Invalid value for attribute '${key}': ${reason}`);
    if (allowed && !allowed.includes(value)) {
      throw new InvalidError(
        field,
        `Value '${value}' for attribute '${key}' is not in allowed values: ${renderList(allowed)}`,
      );
    }
  }
  return attributes as UserAttributes;
}
