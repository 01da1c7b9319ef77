/**
 * The simple query protocol of one session: rewrite, then run upstream or
 * answer locally, one ReadyForQuery per 'Q' (see client.ts for the loop).
 *
 * A query string becomes segments: consecutive statements with upstream SQL
 * go up joined in one 'Q' (PostgreSQL then gives them its implicit
 * transaction and stops at the first error); SHOW / SET / RESET are handled
 * here between segments. The first error ends the string, as in PostgreSQL.
 * Rewriter refusals never reach the upstream.
 *
 * An error the proxy raises itself inside a transaction block must leave
 * the session where PostgreSQL would: in a failed transaction ('E'), where
 * everything but ROLLBACK (or ROLLBACK TO SAVEPOINT) answers 25P02 and
 * COMMIT rolls back. Rather than imitate that state machine, the proxy puts
 * the upstream transaction into it (`abortTransaction`), so status, 25P02,
 * savepoints and COMMIT-as-ROLLBACK are PostgreSQL's own.
 */
import { performance } from 'node:perf_hooks';
import type { QueryAuditQueue, QueryAuditRecord } from '../audit/query-audit-queue.js';
import { PgError } from '../sql/errors.js';
import { classifierGate, type RewrittenStatement, rewrite, type SessionState } from '../sql/rewrite.js';
import type { Classification } from '../sql/classify.js';
import { quoteIdent, type SessionSettings, upstreamSetSql } from '../sql/settings.js';
import type { AuthenticatedSession } from './auth.js';
import * as be from './backend.js';
import { auditStatement, type StatementOutcome } from './audit.js';
import { rewriteCachesFor } from './rewrite-caches.js';
import type { ClientConnection } from './connection.js';
import type { RunResult, UpstreamRelay } from './relay.js';

/** Parameters PostgreSQL reports with ParameterStatus (GUC_REPORT), by lower-case name. */
export const REPORTED = new Map(
  [
    'application_name',
    'client_encoding',
    'DateStyle',
    'default_transaction_read_only',
    'in_hot_standby',
    'integer_datetimes',
    'IntervalStyle',
    'is_superuser',
    'server_encoding',
    'server_version',
    'session_authorization',
    'standard_conforming_strings',
    'TimeZone',
  ].map((n) => [n.toLowerCase(), n]),
);

const gate = classifierGate();

/**
 * Fails the upstream transaction: a constant cast that raises 22P02 at plan
 * time, touches nothing, runs in a read-only transaction, and explains
 * itself in the upstream's log.
 */
export const ABORT_TRANSACTION_SQL =
  "SELECT 'rowgate: transaction aborted after an error raised by the proxy'::pg_catalog.int4";

export class QueryRunner {
  status: be.TransactionStatus = 'I';
  private session: SessionState;
  /** The client's current query text: error texts are checked against it (sanitize.ts). */
  private text = '';

  constructor(
    private readonly conn: ClientConnection,
    private readonly relay: UpstreamRelay,
    private readonly auth: AuthenticatedSession,
    readonly settings: SessionSettings,
    private readonly audit: QueryAuditQueue | undefined,
  ) {
    this.session = { searchPath: settings.searchPath(), settings };
  }

  /** `application_name` from the startup packet, as PostgreSQL cleans it (printable ASCII, 63 bytes). */
  async applyStartupParameters(parameters: Map<string, string>): Promise<void> {
    const raw = parameters.get('application_name');
    if (raw === undefined || raw === '') return;
    const value = raw.replace(/[^\x20-\x7e]/g, '?').slice(0, 63);
    const assignment = { name: 'application_name', value, upstream: true };
    const r = await this.relay.query(upstreamSetSql(assignment, false), { forwardReady: false, quiet: true });
    if (!r.error) this.settings.apply({ kind: 'set', isLocal: false, assignments: [assignment] });
  }

  async simpleQuery(text: string): Promise<void> {
    this.text = text;
    const started = performance.now();
    let statements: RewrittenStatement[];
    let next: SessionState;
    try {
      const result = await rewrite(text, this.auth.policy, this.session, {
        gate,
        ...rewriteCachesFor(this.auth.dataSource.id),
      });
      statements = result.statements;
      next = result.session;
    } catch (err) {
      if (!(err instanceof PgError)) throw err;
      this.conn.send(be.pgErrorResponse(err));
      await this.abortTransaction();
      this.conn.send(be.readyForQuery(this.status));
      const time = err.audit === 'denied' ? null : performance.now() - started;
      this.audited(text, null, [], err.audit, err.message, time, null);
      return;
    }
    if (statements.length === 0) {
      this.conn.send(be.emptyQueryResponse(), be.readyForQuery(this.status));
      return;
    }
    let failed = false;
    for (let i = 0; i < statements.length && !failed;) {
      if (statements[i]!.rewrittenSql === null) {
        failed = !(await this.local(statements[i]!));
        i++;
        continue;
      }
      let j = i;
      while (j < statements.length && statements[j]!.rewrittenSql !== null) j++;
      const batch = statements.slice(i, j);
      const t0 = performance.now();
      const r = await this.upstream(batch.map((s) => s.rewrittenSql).join(';\n'), false);
      const ms = (performance.now() - t0) / batch.length;
      batch.forEach((s, k) => {
        if (k < r.tags.length)
          this.recordStatement(s, 'success', null, ms, r.tags.length === 1 ? r.rows : null);
        else if (k === r.tags.length && r.error)
          this.recordStatement(s, 'error', r.error.get('M') ?? '', ms, null);
      });
      failed = r.error !== undefined;
      i = j;
    }
    // A failed string keeps the old search path: PostgreSQL would have rolled the SET back too.
    if (!failed) this.session = { ...next, settings: this.settings };
    this.conn.send(be.readyForQuery(this.status));
  }

  private async upstream(sql: string, quiet: boolean): Promise<RunResult> {
    const before = this.status;
    const r = await this.relay.query(sql, { forwardReady: false, quiet, userSql: this.text });
    this.status = r.status;
    if (before === 'I' && r.status !== 'I') this.settings.beginTransaction();
    if (before !== 'I' && r.status === 'I') this.settings.endTransaction(r.tags.at(-1) === 'COMMIT');
    return r;
  }

  /**
   * After an error the proxy raised (already sent to the client): inside a
   * transaction block, fail the upstream transaction too (see the header).
   * Outside one there is nothing to abort; in 'E' it already is.
   */
  async abortTransaction(): Promise<void> {
    if (this.status !== 'T') return;
    const r = await this.relay.query(ABORT_TRANSACTION_SQL, { forwardReady: false, silent: true });
    this.status = r.status;
  }

  /** SHOW / SET / RESET; false after an error (already sent). */
  private async local(s: RewrittenStatement): Promise<boolean> {
    const started = performance.now();
    const c = s.classification as Classification | undefined;
    try {
      if (c?.kind === 'show') this.show(c.name);
      else if (c?.kind === 'set' || c?.kind === 'reset') {
        const sql =
          c.kind === 'set'
            ? c.assignments.filter((a) => a.upstream).map((a) => upstreamSetSql(a, c.isLocal))
            : [c.name === 'all' ? 'RESET ALL' : `RESET ${quoteIdent(c.name)}`];
        if (sql.length > 0) {
          const r = await this.upstream(sql.join(';\n'), true);
          if (r.error) {
            this.recordStatement(s, 'error', r.error.get('M') ?? '', performance.now() - started, null);
            return false;
          }
        }
        const before = new Map([...REPORTED.keys()].map((k) => [k, this.settings.get(k)]));
        this.settings.apply(c);
        for (const [key, display] of REPORTED) {
          const value = this.settings.get(key);
          if (value !== undefined && value !== before.get(key))
            this.conn.send(be.parameterStatus(display, value));
        }
        this.conn.send(be.commandComplete(s.commandTag));
      } else {
        throw new PgError('XX000', 'internal error');
      }
    } catch (err) {
      if (!(err instanceof PgError)) throw err;
      this.conn.send(be.pgErrorResponse(err));
      this.recordStatement(s, err.audit, err.message, performance.now() - started, null);
      await this.abortTransaction();
      return false;
    }
    this.recordStatement(s, 'success', null, performance.now() - started, null);
    return true;
  }

  private show(name: string): void {
    if (name.toLowerCase() === 'all') {
      const rows = this.settings.showAll();
      this.conn.send(
        be.rowDescription([be.textField('name'), be.textField('setting'), be.textField('description')]),
        ...rows.map((r) => be.dataRow([r.name, r.setting, r.description])),
        be.commandComplete('SHOW'),
      );
      return;
    }
    const shown = this.settings.show(name);
    if (shown instanceof PgError) throw shown;
    this.conn.send(
      be.rowDescription([be.textField(shown.name)]),
      be.dataRow([shown.value]),
      be.commandComplete('SHOW'),
    );
  }

  private recordStatement(
    s: RewrittenStatement,
    status: QueryAuditRecord['status'],
    error: string | null,
    ms: number | null,
    rows: number | null,
  ): void {
    const rewritten = s.rewrittenSql !== null && s.rewrittenSql !== s.originalSql ? s.rewrittenSql : null;
    this.audited(s.originalSql, rewritten, s.policiesApplied, status, error, ms, rows);
  }

  private audited(
    original: string,
    rewritten: string | null,
    policies: unknown[],
    status: StatementOutcome['status'],
    error: string | null,
    ms: number | null,
    rows: number | null,
  ): void {
    auditStatement(this.audit, this.auth, this.settings.get('application_name'), {
      original,
      rewritten,
      policies,
      status,
      error,
      ms,
      rows,
    });
  }
}
