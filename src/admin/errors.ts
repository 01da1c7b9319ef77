/**
 * How the management API reports errors (api-contract §1.5, §1.6).
 *
 * Two families, as in BetweenRows:
 * - framework errors (authentication, path, query string, body extraction,
 *   body size) are plain text with `Content-Type: text/plain; charset=utf-8`
 *   and are raised as `PlainTextError`;
 * - handler errors are JSON `{"error": "<message>"}`: the store's typed
 *   errors map NotFound → 404, Conflict → 409, Invalid → 422, BadRequest →
 *   400, and `ApiError` carries any other status (login's 401/403/429).
 *
 * Anything else is a bug or a store failure: 500 with a fixed text (the
 * cause goes to the log, never to the client).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.js';
import { BadRequestError, ConflictError, InvalidError, NotFoundError } from '../store/repo-errors.js';

/** A plain-text framework error (§1.5). */
export class PlainTextError extends Error {
  override readonly name = 'PlainTextError';
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A JSON handler error with an explicit status. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const MISSING_AUTH = 'Missing or invalid Authorization header';
export const INVALID_TOKEN = 'Invalid or expired token';
export const ADMIN_REQUIRED = 'Admin access required';

const TEXT = 'text/plain; charset=utf-8';

function jsonStatus(error: unknown): number | undefined {
  if (error instanceof ApiError) return error.statusCode;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof InvalidError) return 422;
  if (error instanceof BadRequestError) return 400;
  return undefined;
}

/** Fastify's own client errors (body too large, bad URL encoding…) as plain text. */
function frameworkStatus(error: FastifyError): number | undefined {
  const status = error.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

export function makeErrorHandler(logger: Logger | undefined) {
  return function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    if (error instanceof PlainTextError) {
      return reply.code(error.statusCode).type(TEXT).send(error.message);
    }
    const status = jsonStatus(error);
    if (status !== undefined) {
      if (error instanceof ApiError) reply.headers(error.headers);
      return sendJson(reply, status, error.message);
    }
    const framework = frameworkStatus(error);
    if (framework !== undefined) {
      return reply.code(framework).type(TEXT).send(frameworkText(error));
    }
    logger?.error({ err: error, method: request.method, url: request.url }, 'admin API request failed');
    return sendJson(reply, 500, 'Internal server error');
  };
}

/** Serialised here, not by the route's response schema, so a route can never garble an error body. */
function sendJson(reply: FastifyReply, status: number, message: string) {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify({ error: message }));
}

function frameworkText(error: FastifyError): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'Failed to buffer the request body: length limit exceeded';
    case 'FST_ERR_BAD_URL':
      return `Invalid URL: ${error.message}`;
    default:
      return error.message;
  }
}
