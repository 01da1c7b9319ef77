/**
 * SHOW / SET / RESET in the extended query protocol: the proxy answers
 * them itself (JDBC, asyncpg, npgsql… send them through Parse / Bind /
 * Execute), with exactly PostgreSQL's messages: ParseComplete;
 * ParameterDescription + RowDescription (SHOW: one text column named after
 * the setting, SHOW ALL three) or NoData on Describe; BindComplete;
 * DataRow… then CommandComplete `SHOW` (PortalSuspended under a row
 * limit), `SET` or `RESET`. ParameterStatus follows at ReadyForQuery.
 *
 * Order: every answer is given only after the pipeline has settled (all
 * earlier messages answered by the upstream), so it lands in its place,
 * after the effects of earlier statements (savepoints, other SETs) and
 * before any later Parse is rewritten under the new search path. If an
 * earlier message failed, PostgreSQL skips this one: so does the proxy.
 *
 * SET / RESET are validated again at Execute, with the settings of that
 * moment, as PostgreSQL does; parameters of upstream effect run upstream in
 * the pipeline (ExtendedPipeline.runHidden), so they live and die with the
 * same implicit transaction as the client's other statements.
 */
import type { Classification } from '../sql/classify.js';
import { PgError } from '../sql/errors.js';
import type { SessionSettings } from '../sql/settings.js';
import * as be from './backend.js';
import { Writer } from './buffer.js';
import type { ExtendedPipeline } from './extended-upstream.js';
import type { parseBind } from './frontend.js';
import { applyLocal, showResult, transactionAborted, upstreamSql } from './local-settings.js';

export type LocalClassification = Extract<Classification, { kind: 'show' | 'set' | 'reset' }>;

export interface LocalStatement {
  text: string;
  commandTag: string;
  classification: LocalClassification;
  paramTypes: number[];
}

export interface LocalPortal {
  resultFormats: number[];
  /** SHOW rows, computed at the first Execute; `sent` of them already sent. */
  rows?: string[][];
  sent: number;
}

export interface LocalContext {
  readonly pipeline: ExtendedPipeline;
  readonly settings: SessionSettings;
  /** A transaction block is open / failed (as of the messages answered so far). */
  inBlock(): boolean;
  aborted(): boolean;
  /** The statement classified again under the current settings (SET validation, search path). */
  classify(text: string): Promise<LocalClassification>;
}

export const isLocalKind = (c: Classification | undefined): c is LocalClassification =>
  c?.kind === 'show' || c?.kind === 'set' || c?.kind === 'reset';

/** Parse: PostgreSQL cannot type a parameter that a utility statement never uses. */
export function checkLocalParse(paramTypes: readonly number[]): PgError | null {
  const i = paramTypes.indexOf(0);
  return i < 0 ? null : new PgError('42P18', `could not determine data type of parameter $${i + 1}`);
}

const parameterDescription = (types: readonly number[]): Buffer => {
  const w = new Writer().int16(types.length);
  for (const t of types) w.int32(t | 0);
  return w.message('t');
};

function rowDescription(ctx: LocalContext, stmt: LocalStatement, formats: readonly number[] = []) {
  const c = stmt.classification;
  if (c.kind !== 'show') return be.noData();
  // PostgreSQL describes no result of a statement in a failed transaction.
  if (ctx.aborted()) throw transactionAborted();
  const shown = showResult(ctx.settings, c.name);
  if (shown instanceof PgError) throw shown;
  return be.rowDescription(
    shown.fields.map((f, i) => ({
      ...f,
      format: (formats.length === 1 ? formats[0] : formats[i]) === 1 ? 1 : 0,
    })),
  );
}

/** Describe S: ParameterDescription, then RowDescription or NoData. Throws PgError. */
export function describeStatement(ctx: LocalContext, stmt: LocalStatement): Buffer[] {
  return [parameterDescription(stmt.paramTypes), rowDescription(ctx, stmt)];
}

/** Describe P. Throws PgError. */
export function describePortal(ctx: LocalContext, stmt: LocalStatement, portal: LocalPortal): Buffer {
  return rowDescription(ctx, stmt, portal.resultFormats);
}

/** Bind: the checks PostgreSQL makes before BindComplete. Throws PgError. */
export function bindLocal(stmt: LocalStatement, name: string, bind: ReturnType<typeof parseBind>) {
  if (bind.paramCount !== stmt.paramTypes.length) {
    throw new PgError(
      '08P01',
      `bind message supplies ${bind.paramCount} parameters, but prepared statement "${name}" requires ${stmt.paramTypes.length}`,
    );
  }
  const bad = bind.resultFormats.find((f) => f !== 0 && f !== 1);
  if (bad !== undefined) throw new PgError('22023', `unsupported format code: ${bad}`);
  const columns = stmt.classification.kind !== 'show' ? 0 : stmt.classification.name === 'all' ? 3 : 1;
  const n = bind.resultFormats.length;
  if (n > 1 && n !== columns)
    throw new PgError('08P01', `bind message has ${n} result formats but query has ${columns} columns`);
  const portal: LocalPortal = { resultFormats: bind.resultFormats, sent: 0 };
  return portal;
}

/** Execute; the answers, in order. Throws PgError (the upstream's errors are already relayed). */
export async function executeLocal(
  ctx: LocalContext,
  stmt: LocalStatement,
  portal: LocalPortal,
  maxRows: number,
): Promise<Buffer[]> {
  if (ctx.aborted()) throw transactionAborted();
  const c = await ctx.classify(stmt.text);
  if (c.kind === 'show') {
    if (!portal.rows) {
      const shown = showResult(ctx.settings, c.name);
      if (shown instanceof PgError) throw shown;
      portal.rows = shown.rows;
    }
    const end = maxRows > 0 ? Math.min(portal.sent + maxRows, portal.rows.length) : portal.rows.length;
    const out = portal.rows.slice(portal.sent, end).map((r) => be.dataRow(r));
    // Like PostgreSQL, a chunk that fills the limit suspends: it does not look ahead.
    const suspended = maxRows > 0 && end - portal.sent === maxRows;
    portal.sent = end;
    out.push(suspended ? be.portalSuspended() : be.commandComplete('SHOW'));
    return out;
  }
  const sql = upstreamSql(c, ctx.settings);
  if (sql.length > 0 && (await ctx.pipeline.runHidden(sql, stmt.text))) throw UPSTREAM_REFUSED;
  return [...applyLocal(ctx.settings, c, !ctx.inBlock()), be.commandComplete(stmt.commandTag)];
}

/** Thrown when the upstream refused the SET: its error already reached the client. */
export const UPSTREAM_REFUSED = new PgError('XX000', 'refused upstream');
