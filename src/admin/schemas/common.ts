/**
 * TypeBox building blocks shared by the route schemas: UUIDs, path
 * parameters, pagination (api-contract §1.9), timestamps (§1.8) and the JSON
 * error body (§1.6). The schemas validate requests, filter responses (only
 * declared fields are serialised, so a stray column can never leak) and feed
 * the OpenAPI document.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { Paginated } from '../../store/paging.js';

export const Uuid = (description?: string) =>
  Type.String({ format: 'uuid', ...(description ? { description } : {}) });

/** `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]`, UTC without a zone (§1.8). */
export const Timestamp = Type.String({ description: 'UTC, no zone: YYYY-MM-DDTHH:MM:SS[.ffffff]' });

export const IdParams = Type.Object({ id: Uuid() });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** Unsigned page numbers (§1.3: a negative or non-numeric value is a 400). */
export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 0, description: 'defaults to 1; values < 1 become 1' })),
  page_size: Type.Optional(Type.Integer({ minimum: 0 })),
};

export const ErrorBody = Type.Object({ error: Type.String() }, { description: 'JSON handler error' });
export const NoContent = Type.Null({ description: 'No content' });
export const PlainText = Type.String({ description: 'plain-text framework error (§1.5)' });

/** The usual error responses of an admin route, for the OpenAPI document. */
export const adminErrors = {
  400: Type.Union([ErrorBody, PlainText]),
  401: PlainText,
  403: PlainText,
  404: ErrorBody,
  409: ErrorBody,
  422: Type.Union([ErrorBody, PlainText]),
};

export const PaginatedOf = <T extends TSchema>(item: T) =>
  Type.Object({
    data: Type.Array(item),
    total: Type.Integer(),
    page: Type.Integer(),
    page_size: Type.Integer(),
  });

/** Page numbers far past any real table; larger values only cost the database an overflow. */
const MAX_PAGE = 1_000_000_000;

/** The page the repository is asked for: bounded so that `offset` stays a safe integer on both engines. */
export const boundedPage = (page: number | undefined): number | undefined =>
  page === undefined ? undefined : Math.min(page, MAX_PAGE);

/** Re-echoes the page the client asked for (after the < 1 → 1 rule) when it was bounded. */
export function echoPage<T>(result: Paginated<T>, requested: number | undefined): Paginated<T> {
  if (requested === undefined || requested <= MAX_PAGE) return result;
  return { ...result, page: requested };
}

export const security = [{ bearerAuth: [] }];
