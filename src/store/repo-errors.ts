/**
 * Errors the repositories raise for conditions the API reports to clients
 * (api-contract §1.6). The HTTP layer maps them: NotFound → 404,
 * Conflict → 409, Invalid → 422 with the field named, BadRequest → 400.
 */

/** The few 400s of the contract: assignment scope, inactive role in role access, audit datetimes. */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
}
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

export class InvalidError extends Error {
  override readonly name = 'InvalidError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
