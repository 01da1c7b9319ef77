/**
 * The simple query protocol of one session: rewrite, then run upstream or
 * answer locally, one ReadyForQuery per 'Q' (see client.ts for the loop).
 *
 * A query string becomes segments: consecutive statements with upstream SQL
 * go up joined in one 'Q' (PostgreSQL then gives them its implicit
 * transaction and stops at the first error); SHOW / SET / RESET are handled
 * here between segments (local-settings.ts). The first error ends the
 * string, as in PostgreSQL. Rewriter refusals never reach the upstream.
 *
 * Session settings (search path included) live in the session's
 * SessionSettings, shared with the extended protocol. Statements outside a
 * transaction block form one implicit transaction, as in PostgreSQL: when
 * the string fails, its SETs are rolled back. The upstream ran each segment
 * in its own implicit transaction, so after any restore (failed string,
 * ROLLBACK, ROLLBACK TO SAVEPOINT) the upstream parameters that changed are
 * set again (`resync`), silently. A SET LOCAL outside a transaction block
 * has no upstream effect (it would end with its own segment); PostgreSQL's
 * 25P01 warning is given for a lone one.
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
import { classifierGate, type RewrittenStatement, rewrite } from '../sql/rewrite.js';
import { type SessionSettings, upstreamSetSql } from '../sql/settings.js';
import type { AuthenticatedSession } from './auth.js';
import * as be from './backend.js';
import { auditStatement, type StatementOutcome } from './audit.js';
import { rewriteCachesFor } from './rewrite-caches.js';
import type { ClientConnection } from './connection.js';
import {
  applyLocal,
  parameterStatusChanges,
  reportedBy,
  resyncSql,
  showResult,
  transactionAborted,
  snapshotLayers,
  transactionEffect,
  upstreamSql,
} from './local-settings.js';
import type { RunResult, UpstreamRelay } from './relay.js';

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
  /** The client's current query text: error texts are checked against it (sanitize.ts). */
  private text = '';

  constructor(
    private readonly conn: ClientConnection,
    private readonly relay: UpstreamRelay,
    private readonly auth: AuthenticatedSession,
    readonly settings: SessionSettings,
    private readonly audit: QueryAuditQueue | undefined,
  ) {}

  /** The process id announced in BackendKeyData (set once the key is issued): `pg_backend_pid()` answers it. */
  backendPid: number | null = null;

  /** `application_name` from the startup packet, as PostgreSQL cleans it (printable ASCII, 63 bytes). */
  async applyStartupParameters(parameters: Map<string, string>): Promise<void> {
    const raw = parameters.get('application_name');
    if (raw !== undefined && raw !== '') {
      const value = raw.replace(/[^\x20-\x7e]/g, '?').slice(0, 63);
      const assignment = { name: 'application_name', value, upstream: true };
      const r = await this.relay.query(upstreamSetSql(assignment, false), {
        forwardReady: false,
        quiet: true,
      });
      if (!r.error) this.settings.setStartupValue('application_name', value);
    }
    // The session start announces every reported value (client.ts): nothing is pending.
    this.settings.reportChanges(reportedBy(this.settings));
  }

  async simpleQuery(text: string): Promise<void> {
    this.text = text;
    const started = performance.now();
    let statements: RewrittenStatement[];
    try {
      const session = {
        searchPath: this.settings.searchPath(),
        settings: this.settings,
        backendPid: this.backendPid,
      };
      const result = await rewrite(text, this.auth.policy, session, {
        gate,
        ...rewriteCachesFor(this.auth.dataSource.id),
      });
      statements = result.statements;
    } catch (err) {
      if (!(err instanceof PgError)) throw err;
      this.conn.send(be.pgErrorResponse(err));
      await this.abortTransaction();
      this.ready();
      const time = err.audit === 'denied' ? null : performance.now() - started;
      this.audited(text, null, [], err.audit, err.message, time, null);
      return;
    }
    if (statements.length === 0) {
      this.conn.send(be.emptyQueryResponse());
      this.ready();
      return;
    }
    const lone = statements.length === 1;
    let failed = false;
    for (let i = 0; i < statements.length && !failed;) {
      if (statements[i]!.rewrittenSql === null) {
        failed = !(await this.local(statements[i]!, lone));
        i++;
        continue;
      }
      let j = i;
      while (j < statements.length && statements[j]!.rewrittenSql !== null) j++;
      const batch = statements.slice(i, j);
      const t0 = performance.now();
      const r = await this.upstream(batch.map((s) => s.rewrittenSql).join(';\n'), false);
      const ms = (performance.now() - t0) / batch.length;
      let restored = false;
      batch.forEach((s, k) => {
        if (k < r.tags.length) {
          this.recordStatement(s, 'success', null, ms, r.tags.length === 1 ? r.rows : null);
          restored = this.replay(s, r.tags[k]!) || restored;
        } else if (k === r.tags.length && r.error)
          this.recordStatement(s, 'error', r.error.get('M') ?? '', ms, null);
      });
      if (restored) await this.resync(this.before!);
      failed = r.error !== undefined;
      i = j;
    }
    await this.endImplicitTransaction(failed);
    this.ready();
  }

  /** Layers before the first restore of a batch (see `replay`). */
  private before: ReturnType<typeof snapshotLayers> | undefined;

  /** A completed statement's effect on the settings; true when values were restored. */
  private replay(s: RewrittenStatement, tag: string): boolean {
    // Only transaction control and DISCARD change settings here: no copy for every other statement.
    const kind = s.classification?.kind;
    if (kind !== 'transaction' && kind !== 'discard') return false;
    const snapshot = snapshotLayers(this.settings);
    const restored = transactionEffect(this.settings, s.classification, tag);
    if (restored && !this.before) this.before = snapshot;
    return restored;
  }

  /** End of the string outside a transaction block: its implicit transaction commits or rolls back. */
  private async endImplicitTransaction(failed: boolean): Promise<void> {
    if (this.status === 'I' && this.settings.inTransaction) {
      if (failed) this.before ??= snapshotLayers(this.settings);
      this.settings.endTransaction(!failed);
    }
    if (this.before) await this.resync(this.before);
  }

  /** Sets upstream parameters again after a restore the upstream did not share (see the header). */
  private async resync(before: ReturnType<typeof snapshotLayers>): Promise<void> {
    this.before = undefined;
    const sql = resyncSql(before, this.settings);
    if (sql.length === 0 || this.status === 'E') return;
    const r = await this.relay.query(sql.join(';\n'), { forwardReady: false, silent: true });
    this.status = r.status;
  }

  /** ParameterStatus for reported values that changed, then ReadyForQuery. */
  private ready(): void {
    this.conn.send(...parameterStatusChanges(this.settings, this.status), be.readyForQuery(this.status));
  }

  private async upstream(sql: string, quiet: boolean): Promise<RunResult> {
    const r = await this.relay.query(sql, { forwardReady: false, quiet, userSql: this.text });
    this.status = r.status;
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

  /** SHOW / SET / RESET; false after an error (already sent). `lone`: the only statement of the string. */
  private async local(s: RewrittenStatement, lone: boolean): Promise<boolean> {
    const started = performance.now();
    const c = s.classification;
    try {
      if (this.status === 'E') throw transactionAborted();
      if (c?.kind === 'show') {
        const shown = showResult(this.settings, c.name);
        if (shown instanceof PgError) throw shown;
        this.conn.send(
          be.rowDescription(shown.fields),
          ...shown.rows.map((r) => be.dataRow(r)),
          be.commandComplete('SHOW'),
        );
      } else if (c?.kind === 'set' || c?.kind === 'reset') {
        const outside = this.status === 'I';
        // Outside a block a LOCAL value would end with its own upstream segment: nothing to send.
        const sql = outside && c.isLocal ? [] : upstreamSql(c, this.settings);
        if (sql.length > 0) {
          const r = await this.upstream(sql.join(';\n'), true);
          if (r.error) {
            this.recordStatement(s, 'error', r.error.get('M') ?? '', performance.now() - started, null);
            return false;
          }
        }
        this.conn.send(...applyLocal(this.settings, c, outside && lone), be.commandComplete(s.commandTag));
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
