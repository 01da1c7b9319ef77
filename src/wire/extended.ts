/**
 * The extended query protocol of one session (Parse / Bind / Describe /
 * Execute / Close / Sync / Flush). The rewrite happens at Parse: upstream
 * only ever prepares the rewritten text, under the client's statement name
 * and parameter types. Everything else is relayed as the client's bytes —
 * Bind parameters are never decoded, let alone spliced into SQL.
 *
 * Per statement name the proxy keeps the original text and the policy-set
 * fingerprint it was rewritten under. A statement bound or described after
 * the session's policy set changed is re-prepared first (Close + Parse of
 * the new rewrite under the same name, both answers hidden); if the new
 * policies refuse it, the statement is closed upstream and the Bind fails.
 * A portal bound under other policies is never executed: Execute fails.
 *
 * SHOW / SET / RESET (rewrittenSql null) are answered by the proxy itself
 * (extended-local.ts): such statements and their portals never exist
 * upstream, so names are checked across both kinds (42P05 / 42P03). Empty
 * queries go up unchanged (the parser found no statement in them).
 *
 * Session settings: the search path of every rewrite is the session
 * settings' (shared with the simple protocol). Completed transaction
 * statements are replayed on the settings (local-settings.ts); at each
 * ReadyForQuery an implicit transaction that ran SETs commits or rolls back
 * with the batch, and changed reported parameters get ParameterStatus.
 *
 * Audit: one record per completed Execute; the rows of a portal read in
 * chunks (PortalSuspended) are summed into the record of its last chunk, or
 * recorded when the portal ends (Close, rebinding, end of transaction).
 */
import { performance } from 'node:perf_hooks';
import type { QueryAuditQueue, QueryAuditRecord } from '../audit/query-audit-queue.js';
import type { Classification } from '../sql/classify.js';
import { PgError } from '../sql/errors.js';
import type { SessionSettings } from '../sql/settings.js';
import type { AuthenticatedSession } from './auth.js';
import * as be from './backend.js';
import { auditStatement, type StatementOutcome } from './audit.js';
import { classifyLocal, type PrepareContext, type Prepared, prepareStatement } from './extended-prepare.js';
import {
  bindLocal,
  checkLocalParse,
  describePortal,
  describeStatement,
  executeLocal,
  type LocalContext,
  type LocalPortal,
  UPSTREAM_REFUSED,
} from './extended-local.js';
import { type ExtendedPipeline, type Outcome, RESERVED_PREFIX } from './extended-upstream.js';
import type { Frame } from './frames.js';
import * as fe from './frontend.js';
import { parameterStatusChanges, transactionAborted, transactionEffect } from './local-settings.js';

/** The session state shared with the simple protocol (QueryRunner). */
export interface SessionStatus {
  status: be.TransactionStatus;
  readonly settings: SessionSettings;
  /** The process id the client was given in BackendKeyData: `pg_backend_pid()` answers it. */
  readonly backendPid?: number | null;
}

interface Portal {
  stmt: Prepared | undefined;
  /** Syncs sent before the Bind: the portal ends with that batch's transaction. */
  gen: number;
  rows: number;
  ms: number;
  /** Executed in chunks and not yet recorded. */
  open: boolean;
  local?: LocalPortal;
}

type Auth = Pick<AuthenticatedSession, 'userId' | 'username' | 'dataSource' | 'policy'>;

export class ExtendedSession {
  private readonly statements = new Map<string, Prepared>();
  private readonly portals = new Map<string, Portal>();
  private syncsSent = 0;
  private syncsDone = 0;
  /** Block open / failed, changed by statements completed since the last ReadyForQuery. */
  private block: boolean | undefined;
  private aborted: boolean | undefined;
  private readonly localContext: LocalContext;

  constructor(
    /** `policy` is read at every message: a swapped set takes effect at the next Bind. */
    private readonly auth: Auth,
    private readonly state: SessionStatus,
    readonly pipeline: ExtendedPipeline,
    private readonly audit?: QueryAuditQueue,
  ) {
    pipeline.beforeReady = (status, failed) => this.beforeReady(status, failed);
    this.localContext = {
      pipeline,
      settings: state.settings,
      // Otherwise the status of the last ReadyForQuery (either protocol's) holds.
      inBlock: () => this.block ?? this.state.status !== 'I',
      aborted: () => this.aborted ?? this.state.status === 'E',
      classify: (text) => classifyLocal(this.prepareContext(), text),
    };
  }

  /** Handles P, B, D, E, C, S, H; false after a refusal (the caller discards until Sync). */
  async message(frame: Frame): Promise<boolean> {
    switch (frame.type) {
      case 'P':
        return this.parse(frame.body);
      case 'B':
        return this.bind(frame);
      case 'D':
        return this.describe(frame);
      case 'E':
        return this.execute(frame);
      case 'C':
        return this.close(frame);
      case 'S':
        this.syncsSent++;
        this.pipeline.send(frame.raw, { type: 'S' });
        return true;
      case 'H':
        this.pipeline.flush();
        return true;
      default:
        throw new Error(`not an extended-protocol message: ${frame.type}`);
    }
  }

  /** Waits for the pipeline's answers before the proxy itself answers (simple query). */
  settle(): Promise<boolean> {
    return this.pipeline.settle();
  }

  /** ReadyForQuery from upstream (already relayed): portals of a finished transaction end. */
  ready(status: be.TransactionStatus): void {
    this.state.status = status;
    this.syncsDone++;
    if (status !== 'I') return;
    // The transaction ended: so did every portal bound before this Sync.
    for (const [name, p] of this.portals) if (p.gen < this.syncsDone) this.endPortal(name);
  }

  /** Just before ReadyForQuery: the batch's implicit transaction ends; ParameterStatus for changes. */
  private beforeReady(status: be.TransactionStatus, failed: boolean): void {
    const settings = this.state.settings;
    if (status === 'I' && settings.inTransaction) settings.endTransaction(!failed);
    if (status !== 'I') settings.beginTransaction();
    this.block = undefined;
    this.aborted = undefined;
    this.pipeline.reply(...parameterStatusChanges(settings, status));
  }

  private async parse(body: Buffer): Promise<boolean> {
    const m = fe.parseParse(body);
    const started = performance.now();
    let p: Prepared;
    try {
      const existing = m.name === '' ? undefined : this.statements.get(m.name);
      if (m.name.startsWith(RESERVED_PREFIX) || existing?.local)
        throw new PgError('42P05', `prepared statement "${m.name}" already exists`);
      p = await prepareStatement(this.prepareContext(), m.text, m.paramTypes);
      if (p.local) {
        if (!(await this.pipeline.settle())) return false;
        if (this.localContext.aborted()) throw transactionAborted();
        if (existing) throw new PgError('42P05', `prepared statement "${m.name}" already exists`);
        const invalid = checkLocalParse(m.paramTypes);
        if (invalid) throw invalid;
      }
    } catch (err) {
      if (!(err instanceof PgError)) throw err;
      // PostgreSQL drops the unnamed statement before parsing the new one, even if that fails.
      if (m.name === '') this.closeStatement('');
      return this.refuse(err, m.text, started);
    }
    if (p.local) {
      this.statements.set(m.name, p);
      this.pipeline.reply(be.parseComplete());
      return true;
    }
    // A duplicate name fails upstream (42P05) and the existing statement stays.
    const added = m.name === '' || !this.statements.has(m.name);
    if (added) this.statements.set(m.name, p);
    this.pipeline.send(fe.parse(m.name, p.rewritten, m.paramTypes), {
      type: 'P',
      sql: m.text,
      done: (o) => {
        // A statement upstream does not have is no statement.
        if ((o.error || o.skipped) && added && this.statements.get(m.name) === p)
          this.statements.delete(m.name);
        if (o.error) this.record(p, 'error', o.error.get('M') ?? '', performance.now() - started, null);
      },
    });
    return true;
  }

  private async bind(frame: Frame): Promise<boolean> {
    const { portal, statement } = fe.parseBindNames(frame.body);
    if (!(await this.fresh(statement))) return false;
    const stmt = this.statements.get(statement);
    const started = performance.now();
    if (stmt?.local || (portal !== '' && this.portals.get(portal)?.local)) {
      // Either side would not see the other's portal name: the proxy checks it (42P03).
      if (!(await this.pipeline.settle())) return false;
      try {
        if (portal !== '' && this.portals.has(portal))
          throw new PgError('42P03', `cursor "${portal}" already exists`);
        if (!stmt?.local) throw new PgError('XX000', 'internal error');
        if (this.localContext.aborted()) throw transactionAborted();
        const local = bindLocal(stmt.local, statement, fe.parseBind(frame.body));
        this.endPortal(portal);
        this.portals.set(portal, { stmt, gen: this.syncsSent, rows: 0, ms: 0, open: false, local });
      } catch (err) {
        if (!(err instanceof PgError)) throw err;
        return this.refuse(err, stmt?.original ?? '', started);
      }
      this.pipeline.reply(be.bindComplete());
      return true;
    }
    this.endPortal(portal);
    const entry: Portal = { stmt, gen: this.syncsSent, rows: 0, ms: 0, open: false };
    this.portals.set(portal, entry);
    this.pipeline.send(frame.raw, {
      type: 'B',
      ...(stmt ? { sql: stmt.original } : {}),
      done: (o) => {
        if ((o.error || o.skipped) && this.portals.get(portal) === entry) this.portals.delete(portal);
      },
    });
    return true;
  }

  private async describe(frame: Frame): Promise<boolean> {
    const { kind, name } = fe.parseTarget(frame.body);
    if (kind === 'S' && !(await this.fresh(name))) return false;
    if (kind === 'P' && this.stalePortal(name)) return this.refuseStalePortal();
    const portal = kind === 'P' ? this.portals.get(name) : undefined;
    const stmt = kind === 'S' ? this.statements.get(name) : portal?.stmt;
    if (stmt?.local) {
      if (!(await this.pipeline.settle())) return false;
      try {
        const answer =
          kind === 'S'
            ? describeStatement(this.localContext, stmt.local)
            : [describePortal(this.localContext, stmt.local, portal!.local!)];
        this.pipeline.reply(...answer);
        return true;
      } catch (err) {
        if (!(err instanceof PgError)) throw err;
        return this.refuse(err, stmt.original, performance.now());
      }
    }
    this.pipeline.send(frame.raw, { type: 'D', ...(stmt ? { sql: stmt.original } : {}) });
    return true;
  }

  private async execute(frame: Frame): Promise<boolean> {
    const { portal, maxRows } = fe.parseExecute(frame.body);
    if (this.stalePortal(portal)) return this.refuseStalePortal();
    const p = this.portals.get(portal);
    const started = performance.now();
    if (p?.local && p.stmt?.local) {
      if (!(await this.pipeline.settle())) return false;
      const stmt = p.stmt;
      try {
        this.pipeline.reply(...(await executeLocal(this.localContext, p.stmt.local, p.local, maxRows)));
      } catch (err) {
        if (err === UPSTREAM_REFUSED) {
          this.record(stmt, 'error', 'refused upstream', performance.now() - started, null);
          return false;
        }
        if (!(err instanceof PgError)) throw err;
        this.pipeline.poison(be.pgErrorResponse(err));
        this.record(stmt, err.audit, err.message, performance.now() - started, null);
        return false;
      }
      this.record(stmt, 'success', null, performance.now() - started, null);
      return true;
    }
    this.pipeline.send(frame.raw, {
      type: 'E',
      ...(p?.stmt ? { sql: p.stmt.original } : {}),
      done: (o) => this.executed(p, o, performance.now() - started),
    });
    return true;
  }

  private async close(frame: Frame): Promise<boolean> {
    const { kind, name } = fe.parseTarget(frame.body);
    const local = kind === 'S' ? this.statements.get(name)?.local : this.portals.get(name)?.local;
    if (kind === 'S') this.statements.delete(name);
    else this.endPortal(name);
    if (!local) {
      this.pipeline.send(frame.raw, { type: 'C' });
      return true;
    }
    if (!(await this.pipeline.settle())) return false;
    this.pipeline.reply(be.closeComplete());
    return true;
  }

  private executed(p: Portal | undefined, o: Outcome, ms: number): void {
    if (o.skipped) return;
    if (o.tag !== undefined) this.replay(p?.stmt?.classification, o.tag);
    if (!p?.stmt) return; // a statement PREPAREd in SQL: audited when it was prepared
    p.rows += o.rows;
    p.ms += ms;
    if (o.suspended && !o.error) {
      p.open = true;
      return;
    }
    this.record(p.stmt, o.error ? 'error' : 'success', o.error?.get('M') ?? null, p.ms, p.rows);
    Object.assign(p, { rows: 0, ms: 0, open: false });
  }

  /** A completed statement's effect on the settings and on the block state. */
  private replay(c: Classification | undefined, tag: string): void {
    transactionEffect(this.state.settings, c, tag);
    if (c?.kind !== 'transaction') return;
    if (c.action === 'begin') this.block = true;
    if (c.action === 'commit' || c.action === 'rollback') this.block = c.chain === true;
    if (c.action !== 'savepoint' && c.action !== 'release') this.aborted = false;
  }

  /** A portal read in chunks and never finished is recorded when it goes away. */
  private endPortal(name: string): void {
    const p = this.portals.get(name);
    this.portals.delete(name);
    if (p?.open && p.stmt) this.record(p.stmt, 'success', null, p.ms, p.rows);
  }

  private stalePortal(name: string): boolean {
    const p = this.portals.get(name)?.stmt;
    return p !== undefined && !p.local && p.fingerprint !== this.auth.policy.fingerprint;
  }

  private refuseStalePortal(): false {
    const err = new PgError('0A000', 'the access policies changed since this portal was bound', {
      hint: 'Bind the statement again.',
    });
    this.pipeline.poison(be.pgErrorResponse(err));
    return false;
  }

  /** Re-prepares `name` if it was rewritten under another policy set; false if now refused. */
  private async fresh(name: string): Promise<boolean> {
    const p = this.statements.get(name);
    // SHOW / SET / RESET are classified again at every Execute.
    if (!p || p.local || p.fingerprint === this.auth.policy.fingerprint) return true;
    const started = performance.now();
    let next: Prepared;
    try {
      next = await prepareStatement(this.prepareContext(), p.original, p.paramTypes);
      if (next.local) throw new PgError('XX000', 'internal error');
    } catch (err) {
      if (!(err instanceof PgError)) throw err;
      // The old rewrite must never run again: it goes away upstream too.
      this.closeStatement(name);
      return this.refuse(err, p.original, started);
    }
    this.statements.set(name, next);
    this.pipeline.send(fe.close('S', name), { type: 'C', hidden: true });
    this.pipeline.send(fe.parse(name, next.rewritten, next.paramTypes), {
      type: 'P',
      hidden: true,
      sql: next.original,
    });
    return true;
  }

  private closeStatement(name: string): void {
    const local = this.statements.get(name)?.local;
    this.statements.delete(name);
    if (!local) this.pipeline.send(fe.close('S', name), { type: 'C', hidden: true });
  }

  private prepareContext(): PrepareContext {
    return {
      policy: this.auth.policy,
      dataSourceId: this.auth.dataSource.id,
      settings: this.state.settings,
      backendPid: this.state.backendPid ?? null,
    };
  }

  /** The proxy's refusal: upstream fails at the same point (see extended-upstream.ts). */
  private refuse(err: PgError, original: string, started: number): false {
    this.pipeline.poison(be.pgErrorResponse(err));
    const ms = err.audit === 'denied' ? null : performance.now() - started;
    this.audited(original, null, [], err.audit, err.message, ms, null);
    return false;
  }

  private record(
    p: Prepared,
    status: QueryAuditRecord['status'],
    error: string | null,
    ms: number,
    rows: number | null,
  ): void {
    const rewritten = p.rewritten !== p.original ? p.rewritten : null;
    this.audited(p.original, rewritten, p.policies, status, error, ms, rows);
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
    auditStatement(this.audit, this.auth, this.state.settings.get('application_name'), {
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
