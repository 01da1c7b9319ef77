/**
 * Live policy refresh of open sessions (issue 4, "Session lifecycle").
 *
 * Every committed admin change (the audited transactions' commit hook, and
 * later the cross-replica feed) bumps a generation number. A session whose
 * policy set is older re-resolves it before its next statement
 * (`current()`), so that statement already runs under the new policies,
 * with no reconnect; the extended protocol then re-prepares its statements
 * (extended.ts compares fingerprints). The resolution is shared by all
 * sessions of the same user on the same data source and computed at most
 * once per generation.
 *
 * Changes that can withdraw access (users, roles and memberships, data
 * sources and their grants) also start a sweep: every open session's access
 * is checked at once, and the sessions of a deactivated, deleted or
 * no-longer-granted user end with FATAL 57P01 even while idle. Other changes
 * (policies, assignments, attributes, catalog, relationships) only mark the
 * sessions stale: a session that never speaks again costs nothing.
 *
 * Fail closed: when the admin store cannot be read, the sessions that need
 * the new policy set end instead of running under the old one.
 */
import type { Logger } from '../log.js';
import type { SessionPolicySet } from '../policy/session.js';
import { onCommitted } from '../store/audited.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { Store } from '../store/db.js';
import type { DataSourceConnection } from '../store/repos/datasources.js';
import type { Notice } from './backend.js';
import type { SessionAccess } from './session-access.js';

export interface RefreshableSession {
  readonly userId: string;
  readonly dataSourceId: string;
  /** Swaps in a newly resolved policy set: the next statement uses it. */
  applyPolicy(policy: SessionPolicySet, dataSource: DataSourceConnection): void;
  /** Ends the session with this FATAL notice (idempotent). */
  end(notice: Notice): void;
}

export type AccessLoader = (userId: string, dataSourceId: string) => Promise<SessionAccess>;

/** Admin resources whose change can take a user's access away (admin audit resource types). */
const ACCESS_RESOURCES = new Set(['proxy_user', 'role', 'datasource']);

export const ACCESS_REVOKED: Notice = {
  severity: 'FATAL',
  code: '57P01',
  message: 'terminating connection due to administrator command',
  detail: 'Access to this data source was withdrawn.',
};

const REFRESH_FAILED: Notice = {
  severity: 'FATAL',
  code: '58000',
  message: 'could not load the current access policies',
};

export class SessionRegistry {
  private generation = 0;
  /** Each session's generation: the one its policy set was resolved at. */
  private readonly sessions = new Map<RefreshableSession, number>();
  /** Resolutions of the current generation, per user and data source. */
  private readonly resolved = new Map<string, Promise<SessionAccess>>();
  private sweep: Promise<void> | undefined;
  private sweepAgain = false;

  constructor(
    private readonly load: AccessLoader,
    private readonly logger: Logger,
  ) {}

  /**
   * Subscribes to committed admin changes: the change feed (this process and,
   * on a PostgreSQL store, the other replicas) or, without one, this
   * process's commits only. Returns the unsubscribe function.
   */
  follow(source: ChangeFeed | Store): () => void {
    if ('subscribe' in source) return source.subscribe((change) => this.onChange(change));
    return onCommitted(source, (change) => this.onChange({ resync: false, entries: change.entries }));
  }

  /** A committed change: `resync` (events may have been missed) counts as one that can withdraw access. */
  onChange(change: { resync: boolean; entries: readonly { resourceType: string }[] }): void {
    this.changed(change.resync || change.entries.some((e) => ACCESS_RESOURCES.has(e.resourceType)));
  }

  /** The current generation: read it before resolving a policy set, pass it to `add`. */
  get generationNow(): number {
    return this.generation;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Registers a session whose policy set was resolved at generation `resolvedAt` (`generationNow` before loading). */
  add(session: RefreshableSession, resolvedAt = this.generation): void {
    this.sessions.set(session, resolvedAt);
  }

  remove(session: RefreshableSession): void {
    this.sessions.delete(session);
  }

  /** A committed change; `accessMayChange` also checks every open session's access at once. */
  changed(accessMayChange: boolean): void {
    this.generation++;
    this.resolved.clear();
    if (accessMayChange) this.startSweep();
  }

  /**
   * Before each statement: brings the session's policy set up to date.
   * False when the session was ended instead (access withdrawn, store unreadable).
   */
  async current(session: RefreshableSession): Promise<boolean> {
    if (!this.stale(session)) return true;
    return this.refresh(session, this.generation);
  }

  /**
   * Whether a change committed since the session's policy set was resolved
   * (synchronous: the per-statement check awaits `current` only then).
   * An unregistered session is never stale: nothing to refresh.
   */
  stale(session: RefreshableSession): boolean {
    const seen = this.sessions.get(session);
    return seen !== undefined && seen !== this.generation;
  }

  /** Resolves at generation `gen` and applies; false when the session ended. */
  private async refresh(session: RefreshableSession, gen: number): Promise<boolean> {
    let access: SessionAccess;
    try {
      access = await this.resolve(session, gen);
    } catch (err) {
      this.logger.error({ err, userId: session.userId }, 'policy refresh failed; ending the session');
      this.drop(session, REFRESH_FAILED);
      return false;
    }
    if (!this.sessions.has(session)) return false;
    if (!access.granted) {
      this.logger.info({ userId: session.userId, reason: access.reason }, 'session ended: access withdrawn');
      this.drop(session, ACCESS_REVOKED);
      return false;
    }
    // A newer resolution may have landed while this one loaded: never step back.
    if ((this.sessions.get(session) ?? gen) <= gen) {
      session.applyPolicy(access.policy, access.dataSource);
      this.sessions.set(session, gen);
    }
    return true;
  }

  private resolve(session: RefreshableSession, gen: number): Promise<SessionAccess> {
    const key = `${session.userId}\u0000${session.dataSourceId}`;
    let pending = gen === this.generation ? this.resolved.get(key) : undefined;
    if (!pending) {
      pending = this.load(session.userId, session.dataSourceId);
      if (gen === this.generation) this.resolved.set(key, pending);
      // The shared promise is awaited by each caller; this keeps an unobserved failure quiet.
      pending.catch(() => undefined);
    }
    return pending;
  }

  private drop(session: RefreshableSession, notice: Notice): void {
    this.sessions.delete(session);
    session.end(notice);
  }

  /** Serialized: a change during a sweep runs one more sweep after it. */
  private startSweep(): void {
    if (this.sweep) {
      this.sweepAgain = true;
      return;
    }
    this.sweep = (async () => {
      do {
        this.sweepAgain = false;
        const gen = this.generation;
        for (const session of [...this.sessions.keys()]) {
          if ((this.sessions.get(session) ?? gen) < gen) await this.refresh(session, gen);
        }
      } while (this.sweepAgain);
    })()
      .catch((err: unknown) => this.logger.error({ err }, 'session sweep failed'))
      .finally(() => (this.sweep = undefined));
  }

  /** Resolves once no sweep is running (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.sweep) await this.sweep;
  }
}
