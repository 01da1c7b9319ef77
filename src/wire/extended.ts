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
 * Statements the proxy answers itself in the simple protocol (SHOW, SET,
 * RESET: rewrittenSql null) are refused here with 0A000: answering them
 * would mean synthesising ParseComplete / BindComplete / RowDescription at
 * the right places of a pipeline the upstream also answers. Empty queries
 * go up unchanged (the parser found no statement in them).
 *
 * Audit: one record per completed Execute; the rows of a portal read in
 * chunks (PortalSuspended) are summed into the record of its last chunk, or
 * recorded when the portal ends (Close, rebinding, end of transaction).
 */
import { performance } from 'node:perf_hooks';
import type { QueryAuditQueue, QueryAuditRecord } from '../audit/query-audit-queue.js';
import type { PolicyRef } from '../policy/session.js';
import { PgError } from '../sql/errors.js';
import { classifierGate, rewrite } from '../sql/rewrite.js';
import type { SessionSettings } from '../sql/settings.js';
import type { AuthenticatedSession } from './auth.js';
import * as be from './backend.js';
import { auditStatement, type StatementOutcome } from './audit.js';
import { rewriteCachesFor } from './rewrite-caches.js';
import { type ExtendedPipeline, type Outcome, POISON_STATEMENT } from './extended-upstream.js';
import type { Frame } from './frames.js';
import * as fe from './frontend.js';

const gate = classifierGate();

/** The session state shared with the simple protocol (QueryRunner). */
export interface SessionStatus {
  status: be.TransactionStatus;
  readonly settings: SessionSettings;
}

interface Prepared {
  original: string;
  rewritten: string;
  fingerprint: string;
  policies: PolicyRef[];
  paramTypes: number[];
}

interface Portal {
  stmt: Prepared | undefined;
  /** Syncs sent before the Bind: the portal ends with that batch's transaction. */
  gen: number;
  rows: number;
  ms: number;
  /** Executed in chunks and not yet recorded. */
  open: boolean;
}

type Auth = Pick<AuthenticatedSession, 'userId' | 'username' | 'dataSource' | 'policy'>;

export class ExtendedSession {
  private readonly statements = new Map<string, Prepared>();
  private readonly portals = new Map<string, Portal>();
  private syncsSent = 0;
  private syncsDone = 0;

  constructor(
    /** `policy` is read at every message: a swapped set takes effect at the next Bind. */
    private readonly auth: Auth,
    private readonly state: SessionStatus,
    readonly pipeline: ExtendedPipeline,
    private readonly audit?: QueryAuditQueue,
  ) {}

  /** Handles P, B, D, E, C, S, H; false after a refusal (the caller discards until Sync). */
  async message(frame: Frame): Promise<boolean> {
    switch (frame.type) {
      case 'P':
        return this.parse(frame.body);
      case 'B':
        return this.bind(frame);
      case 'D': {
        const { kind, name } = fe.parseTarget(frame.body);
        if (kind === 'S' && !(await this.fresh(name))) return false;
        if (kind === 'P' && this.stalePortal(name)) return this.refuseStalePortal();
        const sql =
          kind === 'S' ? this.statements.get(name)?.original : this.portals.get(name)?.stmt?.original;
        this.pipeline.send(frame.raw, { type: 'D', ...(sql !== undefined ? { sql } : {}) });
        return true;
      }
      case 'E':
        return this.execute(frame);
      case 'C': {
        const { kind, name } = fe.parseTarget(frame.body);
        if (kind === 'S') this.statements.delete(name);
        else this.endPortal(name);
        this.pipeline.send(frame.raw, { type: 'C' });
        return true;
      }
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

  /** ReadyForQuery from upstream: transaction bookkeeping as the simple path does it. */
  ready(status: be.TransactionStatus, lastTag: string | undefined): void {
    const before = this.state.status;
    this.state.status = status;
    if (before === 'I' && status !== 'I') this.state.settings.beginTransaction();
    if (before !== 'I' && status === 'I') this.state.settings.endTransaction(lastTag === 'COMMIT');
    this.syncsDone++;
    if (status !== 'I') return;
    // The transaction ended: so did every portal bound before this Sync.
    for (const [name, p] of this.portals) if (p.gen < this.syncsDone) this.endPortal(name);
  }

  private async parse(body: Buffer): Promise<boolean> {
    const m = fe.parseParse(body);
    const started = performance.now();
    let p: Prepared;
    try {
      if (m.name === POISON_STATEMENT)
        throw new PgError('42P05', `prepared statement "${m.name}" already exists`);
      p = await this.prepare(m.text, m.paramTypes);
    } catch (err) {
      if (!(err instanceof PgError)) throw err;
      // PostgreSQL drops the unnamed statement before parsing the new one, even if that fails.
      if (m.name === '') this.closeStatement('');
      return this.refuse(err, m.text, started);
    }
    // A duplicate name fails upstream (42P05) and the existing statement stays.
    if (m.name === '' || !this.statements.has(m.name)) this.statements.set(m.name, p);
    this.pipeline.send(fe.parse(m.name, p.rewritten, m.paramTypes), {
      type: 'P',
      sql: m.text,
      done: (o) => {
        if (o.error) this.record(p, 'error', o.error.get('M') ?? '', performance.now() - started, null);
      },
    });
    return true;
  }

  private async bind(frame: Frame): Promise<boolean> {
    const { portal, statement } = fe.parseBindNames(frame.body);
    if (!(await this.fresh(statement))) return false;
    this.endPortal(portal);
    const stmt = this.statements.get(statement);
    this.portals.set(portal, { stmt, gen: this.syncsSent, rows: 0, ms: 0, open: false });
    this.pipeline.send(frame.raw, { type: 'B', ...(stmt ? { sql: stmt.original } : {}) });
    return true;
  }

  private execute(frame: Frame): boolean {
    const { portal } = fe.parseExecute(frame.body);
    if (this.stalePortal(portal)) return this.refuseStalePortal();
    const p = this.portals.get(portal);
    const started = performance.now();
    this.pipeline.send(frame.raw, {
      type: 'E',
      ...(p?.stmt ? { sql: p.stmt.original } : {}),
      done: (o) => this.executed(p, o, performance.now() - started),
    });
    return true;
  }

  private executed(p: Portal | undefined, o: Outcome, ms: number): void {
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

  /** A portal read in chunks and never finished is recorded when it goes away. */
  private endPortal(name: string): void {
    const p = this.portals.get(name);
    this.portals.delete(name);
    if (p?.open && p.stmt) this.record(p.stmt, 'success', null, p.ms, p.rows);
  }

  private stalePortal(name: string): boolean {
    const p = this.portals.get(name)?.stmt;
    return p !== undefined && p.fingerprint !== this.auth.policy.fingerprint;
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
    if (!p || p.fingerprint === this.auth.policy.fingerprint) return true;
    const started = performance.now();
    let next: Prepared;
    try {
      next = await this.prepare(p.original, p.paramTypes);
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
    this.statements.delete(name);
    this.pipeline.send(fe.close('S', name), { type: 'C', hidden: true });
  }

  private async prepare(text: string, paramTypes: number[]): Promise<Prepared> {
    const policy = this.auth.policy;
    const settings = this.state.settings;
    const r = await rewrite(
      text,
      policy,
      { searchPath: settings.searchPath(), settings },
      { gate, ...rewriteCachesFor(this.auth.dataSource.id) },
    );
    if (r.statements.length > 1)
      throw new PgError('42601', 'cannot insert multiple commands into a prepared statement');
    const s = r.statements[0];
    const base = { original: text, fingerprint: policy.fingerprint, paramTypes };
    // No statement at all (empty, only comments): upstream answers EmptyQueryResponse.
    if (!s) return { ...base, rewritten: text, policies: [] };
    if (s.rewrittenSql === null)
      throw new PgError('0A000', `${s.commandTag} is not supported in the extended query protocol`, {
        hint: 'Send it as a simple query.',
      });
    return { ...base, rewritten: s.rewrittenSql, policies: s.policiesApplied };
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
