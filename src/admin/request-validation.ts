/**
 * Request extraction for the management API, in the order of api-contract
 * §1.4: authentication (an onRequest hook, auth/guard.ts) → path parameters
 * (400 `Invalid URL: …`) → query string (400 `Failed to deserialize query
 * string: …`) → JSON body (415 content type, 400 syntax, 422 shape).
 *
 * Fastify's own order would be content-type parsing first and then params →
 * body → query, so: every body is accepted raw by one catch-all parser
 * (`acceptRawBodies`), and `checkInOrder` (a preValidation hook) runs the
 * route's params and query validators, then the content-type check and the
 * JSON parse. Fastify's validation step that follows re-runs params and query
 * (now valid) and reports body shape errors as 422.
 *
 * Validators are compiled from the TypeBox route schemas. Bodies are checked
 * without coercion (a string where a boolean is expected is a 422, unknown
 * fields are ignored, §1.3); query values are converted strictly the way
 * BetweenRows' parser does (`true`/`false` only, unsigned integers without a
 * sign, a repeated key is an error); UUID path segments are normalised to
 * lowercase. A route without a JSON body schema sees `request.body` as the
 * raw Buffer (or undefined), for the few text bodies (YAML import).
 */
import type { FastifyInstance, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { FormatRegistry, Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { PlainTextError } from './errors.js';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (value) => UUID.test(value));

type HttpPart = 'body' | 'params' | 'querystring' | 'headers';
type Outcome = { value: unknown } | { error: PlainTextError };

const fieldName = (path: string) => path.replace(/^\//, '').replaceAll('/', '.');

/** `string`, `string or null`, `array of string`… for a schema, in serde's words. */
function typeName(schema: TSchema): string {
  const kind = String(schema[Kind]);
  if (kind === 'Union') return (schema.anyOf as TSchema[]).map(typeName).join(' or ');
  if (kind === 'Array') return `array of ${typeName(schema.items as TSchema)}`;
  if (kind === 'Record') return 'object';
  return kind.toLowerCase();
}

function bodyProblem(error: ValueError): string {
  const field = fieldName(error.path);
  if (error.type === ValueErrorType.ObjectRequiredProperty) return `missing field \`${field}\``;
  const expected =
    error.type === ValueErrorType.StringFormat
      ? `invalid value: expected a ${String(error.schema.format).toUpperCase()}`
      : `invalid type: expected ${typeName(error.schema)}`;
  return field === '' ? expected : `${field}: ${expected}`;
}

function queryProblem(schema: TSchema, field: string, value: unknown): string {
  if (schema.format === 'uuid') return `${field}: invalid UUID \`${String(value)}\``;
  if (schema[Kind] === 'Integer') return `${field}: invalid digit found in \`${String(value)}\``;
  if (schema[Kind] === 'Boolean') return `${field}: provided string was not \`true\` or \`false\``;
  return `${field}: invalid value \`${String(value)}\``;
}

/** Converts one query-string value to the property's type; undefined when it cannot. */
function convertQueryValue(schema: TSchema, raw: string): unknown {
  switch (schema[Kind]) {
    case 'Integer': {
      const signed = typeof schema.minimum !== 'number' || schema.minimum < 0;
      if (!(signed ? /^[+-]?[0-9]+$/ : /^\+?[0-9]+$/).test(raw)) return undefined;
      const n = Number(raw);
      return Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER;
    }
    case 'Boolean':
      return raw === 'true' ? true : raw === 'false' ? false : undefined;
    default:
      return raw;
  }
}

function compileQuery(schema: TObject, check: ReturnType<typeof TypeCompiler.Compile>) {
  return (data: unknown): Outcome => {
    const input = (data ?? {}) as Record<string, unknown>;
    const converted: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(input)) {
      const property = schema.properties[field];
      if (!property) continue; // unknown parameters are ignored
      const fail = (problem: string) => ({
        error: new PlainTextError(400, `Failed to deserialize query string: ${problem}`),
      });
      if (Array.isArray(value)) return fail(`duplicate field \`${field}\``);
      const typed = convertQueryValue(property, String(value));
      if (typed === undefined) return fail(queryProblem(property, field, value));
      converted[field] = typed;
    }
    const first = check.Errors(converted).First();
    if (!first) return { value: converted };
    const field = fieldName(first.path);
    const problem =
      first.type === ValueErrorType.ObjectRequiredProperty
        ? `missing field \`${field}\``
        : queryProblem(schema.properties[field] ?? schema, field, first.value);
    return { error: new PlainTextError(400, `Failed to deserialize query string: ${problem}`) };
  };
}

function compileParams(schema: TObject, check: ReturnType<typeof TypeCompiler.Compile>) {
  return (data: unknown): Outcome => {
    const params = { ...((data ?? {}) as Record<string, string>) };
    for (const [field, property] of Object.entries(schema.properties)) {
      const value = params[field];
      if (property.format !== 'uuid' || value === undefined) continue;
      if (!UUID.test(value)) {
        return { error: new PlainTextError(400, `Invalid URL: Cannot parse \`${value}\` to a UUID`) };
      }
      params[field] = value.toLowerCase();
    }
    const first = check.Errors(params).First();
    if (first) return { error: new PlainTextError(400, `Invalid URL: ${first.message}`) };
    return { value: params };
  };
}

function compileBody(check: ReturnType<typeof TypeCompiler.Compile>) {
  return (data: unknown): Outcome => {
    const first = check.Errors(data).First();
    if (!first) return { value: data };
    return {
      error: new PlainTextError(
        422,
        `Failed to deserialize the JSON body into the target type: ${bodyProblem(first)}`,
      ),
    };
  };
}

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  switch (httpPart as HttpPart) {
    case 'querystring':
      return compileQuery(schema as TObject, check);
    case 'params':
      return compileParams(schema as TObject, check);
    case 'body':
      return compileBody(check);
    default:
      return (data: unknown) =>
        check.Check(data) ? { value: data } : { error: new PlainTextError(400, 'Bad request') };
  }
};

/** Keeps every body raw until `checkInOrder` decides what to do with it. */
export function acceptRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
}

/** `application/json` or any `application/*+json`, parameters ignored (§1.3). */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const mime = (header.split(';')[0] ?? '').trim().toLowerCase();
  return mime === 'application/json' || /^application\/[^/\s]+\+json$/.test(mime);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseJsonBody(request: FastifyRequest): unknown {
  if (!isJsonContentType(request.headers['content-type'])) {
    throw new PlainTextError(415, 'Expected request with `Content-Type: application/json`');
  }
  const raw = request.body;
  try {
    const text = raw instanceof Buffer ? utf8.decode(raw) : '';
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : 'invalid UTF-8';
    throw new PlainTextError(400, `Failed to parse the request body as JSON: ${reason}`);
  }
}

type Validate = (data: unknown) => Outcome;

/** preValidation hook: params, then query, then the JSON body (§1.4). */
export async function checkInOrder(request: FastifyRequest): Promise<void> {
  const inputs = [
    ['params', request.params],
    ['querystring', request.query],
  ] as const;
  for (const [part, data] of inputs) {
    const validate = request.getValidationFunction(part) as Validate | undefined;
    const outcome = validate?.(data);
    if (outcome && 'error' in outcome) throw outcome.error;
  }
  if (request.routeOptions.schema?.body !== undefined) request.body = parseJsonBody(request);
}
