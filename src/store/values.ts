/** Conversions between store encodings (see `schema.ts`) and domain values. */
import { sql, type Expression, type SqlBool } from 'kysely';

export const toFlag = (value: boolean): number => (value ? 1 : 0);
export const fromFlag = (value: number | null | undefined): boolean => value === 1;

export function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined || text === '') return fallback;
  return JSON.parse(text) as T;
}

/** JSON text for a nullable JSON column: null and undefined stay NULL. */
export const jsonTextOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : JSON.stringify(value);

/** `count(*)` as a number on both engines (PostgreSQL returns bigint as a string). */
export const countAll = () => sql<string | number>`count(*)`;
export const toCount = (value: string | number | bigint | null | undefined): number => Number(value ?? 0);

/**
 * Case-insensitive (ASCII) substring match, the same on both engines; `%` and
 * `_` in the needle are escaped, so they match literally.
 */
export function containsIgnoreCase(column: Expression<string | null>, needle: string): Expression<SqlBool> {
  const escaped = needle.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
  return sql<SqlBool>`lower(${column}) LIKE ${`%${escaped}%`} ESCAPE '\\'`;
}
