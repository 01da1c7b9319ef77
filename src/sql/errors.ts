/**
 * Errors of the data plane, as PostgreSQL reports them: a SQLSTATE and a
 * message (plus optional detail/hint), so the wire layer can send an
 * ErrorResponse that clients cannot tell from the server's own.
 */
export class PgError extends Error {
  override readonly name = 'PgError';
  /**
   * How the query audit records the statement that raised this error: `denied`
   * for refusals by rule (writes, forbidden functions, refused settings),
   * `error` otherwise — including hidden tables, which must look missing.
   */
  audit: 'denied' | 'error' = 'error';
  constructor(
    readonly sqlstate: string,
    message: string,
    readonly extra: { detail?: string; hint?: string; position?: number } = {},
  ) {
    super(message);
  }
}

export const SQLSTATE = {
  syntaxError: '42601',
  undefinedTable: '42P01',
  undefinedColumn: '42703',
  undefinedFunction: '42883',
  readOnlyTransaction: '25006',
  featureNotSupported: '0A000',
  insufficientPrivilege: '42501',
  invalidParameterValue: '22023',
  undefinedObject: '42704',
  internalError: 'XX000',
} as const;

/** `relation "x" does not exist`: the same bytes for a hidden and a missing relation (404-not-403). */
export const undefinedTable = (nameAsWritten: string): PgError =>
  new PgError(SQLSTATE.undefinedTable, `relation "${nameAsWritten}" does not exist`);

/** `cannot execute <COMMAND> in a read-only transaction` (audited as denied). */
export const readOnly = (command: string): PgError =>
  denied(new PgError(SQLSTATE.readOnlyTransaction, `cannot execute ${command} in a read-only transaction`));

/** Marks `err` as a refusal by rule for the audit and returns it. */
export function denied(err: PgError): PgError {
  err.audit = 'denied';
  return err;
}
