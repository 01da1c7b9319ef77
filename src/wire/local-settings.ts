/**
 * What both query protocols (query.ts, extended-local.ts) share about the
 * statements the proxy answers itself — SHOW, SET, RESET — and about the
 * session state they change. The session's SessionSettings is the one
 * source of truth: SHOW reads it, SET / RESET write it, and the rewriter's
 * search path comes from it in both protocols.
 *
 * Transactions: settings are transactional as PostgreSQL's GUCs are.
 * `transactionEffect` replays each completed transaction-control statement
 * (by its CommandComplete tag: a COMMIT of a failed block answers ROLLBACK)
 * on the settings; SET / RESET open the implicit transaction they run in
 * (`applyLocal`), which the caller ends at the end of the query string or at
 * Sync — committed, or rolled back when an error ended it.
 *
 * ParameterStatus: like PostgreSQL 14+, the changes of reported parameters
 * are announced once, just before ReadyForQuery, so a SET rolled back by the
 * same implicit transaction announces nothing.
 */
import type { Classification } from '../sql/classify.js';
import { PgError } from '../sql/errors.js';
import {
  type Assignment,
  isUpstreamParameter,
  type ResetClassification,
  type SessionSettings,
  type SetClassification,
  upstreamSetSql,
} from '../sql/settings.js';
import * as be from './backend.js';

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

export type SettingChange = SetClassification | ResetClassification;

/** What PostgreSQL answers to anything but ROLLBACK in a failed transaction block. */
export const transactionAborted = (): PgError =>
  new PgError('25P02', 'current transaction is aborted, commands ignored until end of transaction block');

/** A SHOW answer: the RowDescription fields and the rows, or the refusal. */
export interface ShowResult {
  fields: be.FieldDescription[];
  rows: string[][];
}

/** SHOW name / SHOW ALL as PostgreSQL answers them (one text column named after the setting). */
export function showResult(settings: SessionSettings, name: string): ShowResult | PgError {
  if (name.toLowerCase() === 'all') {
    return {
      fields: [be.textField('name'), be.textField('setting'), be.textField('description')],
      rows: settings.showAll().map((r) => [r.name, r.setting, r.description]),
    };
  }
  const shown = settings.show(name);
  if (shown instanceof PgError) return shown;
  return { fields: [be.textField(shown.name)], rows: [[shown.value]] };
}

/**
 * The statements that carry a SET / RESET to the upstream (parameters marked
 * `upstream` only). A reset sends the proxy's default, not RESET: the
 * upstream's own default may differ (a timeout cap, the startup TimeZone).
 */
export function upstreamSql(c: SettingChange, settings: SessionSettings): string[] {
  if (c.kind === 'set')
    return c.assignments.filter((a) => a.upstream).map((a) => upstreamSetSql(a, c.isLocal));
  const names = c.name === 'all' ? Object.keys(settings.defaults) : [c.name];
  const sql = names.filter(isUpstreamParameter).map((name) => {
    const a: Assignment = { name, value: settings.defaults[name] ?? '', upstream: true };
    return upstreamSetSql(a, c.isLocal);
  });
  return c.name === 'all' ? ['RESET ALL', ...sql] : sql;
}

/**
 * Applies a SET / RESET inside the transaction it runs in (the implicit one
 * when no block is open). Returns PostgreSQL's 25P01 warning when asked to
 * (`warn`: a SET LOCAL / SET TRANSACTION outside a transaction block).
 */
export function applyLocal(settings: SessionSettings, c: SettingChange, warn: boolean): Buffer[] {
  settings.beginTransaction();
  settings.apply(c);
  if (!warn || !c.isLocal) return [];
  const what =
    c.kind === 'set' && c.assignments.every((a) => a.name.startsWith('transaction_'))
      ? 'SET TRANSACTION'
      : 'SET LOCAL';
  return [
    be.noticeResponse({
      severity: 'WARNING',
      code: '25P01',
      message: `${what} can only be used in transaction blocks`,
    }),
  ];
}

/**
 * Replays a completed statement's effect on the settings: transaction
 * control by its tag, DISCARD ALL as RESET ALL. True when values were
 * restored (a rollback of either kind), so the caller can resynchronise.
 */
export function transactionEffect(
  settings: SessionSettings,
  c: Classification | undefined,
  tag: string,
): boolean {
  if (c?.kind === 'discard' && c.target === 'all') {
    settings.apply({ kind: 'reset', name: 'all', isLocal: false });
    return false;
  }
  if (c?.kind !== 'transaction') return false;
  switch (c.action) {
    case 'begin':
      settings.beginTransaction();
      return false;
    case 'commit':
    case 'rollback': {
      const committed = tag === 'COMMIT';
      settings.endTransaction(committed);
      if (c.chain) settings.beginTransaction();
      return !committed;
    }
    case 'savepoint':
      settings.savepoint(c.savepoint ?? '');
      return false;
    case 'release':
      settings.releaseSavepoint(c.savepoint ?? '');
      return false;
    case 'rollback-to':
      settings.rollbackToSavepoint(c.savepoint ?? '');
      return true;
  }
}

type Layers = ReturnType<SessionSettings['layers']>;

/** A copy of the settings' layers, to compare with after a restore. */
export const snapshotLayers = (settings: SessionSettings): Layers => {
  const { values, local } = settings.layers();
  return { values: { ...values }, local: { ...local } };
};

/**
 * The upstream statements that bring upstream parameters from `before` to
 * the settings' current layers (session value first, then the LOCAL overlay).
 */
export function resyncSql(before: Layers, settings: SessionSettings): string[] {
  const after = settings.layers();
  const out: string[] = [];
  const keys = new Set([...Object.keys(before.values), ...Object.keys(after.values)]);
  for (const name of keys) {
    if (!isUpstreamParameter(name)) continue;
    const value = after.values[name];
    if (value !== undefined && value !== before.values[name])
      out.push(upstreamSetSql({ name, value, upstream: true }, false));
    const local = after.local[name];
    // Outside a transaction no LOCAL value survives, upstream either.
    if (settings.inTransaction && local !== before.local[name]) {
      const shown = local ?? value;
      if (shown !== undefined) out.push(upstreamSetSql({ name, value: shown, upstream: true }, true));
    }
  }
  return out;
}

/**
 * ParameterStatus messages for the reported parameters that changed since
 * last announced; none in a failed transaction (PostgreSQL waits for its end).
 */
export const parameterStatusChanges = (settings: SessionSettings, status: be.TransactionStatus): Buffer[] =>
  status === 'E'
    ? []
    : settings.reportChanges(reportedBy(settings)).map(([name, value]) => be.parameterStatus(name, value));

const REPORTED_18 = new Map([...REPORTED, ['search_path', 'search_path']]);

/** The reported parameters of the server version the proxy presents (PostgreSQL 18 added search_path). */
export function reportedBy(settings: SessionSettings): ReadonlyMap<string, string> {
  return Number.parseInt(settings.get('server_version') ?? '', 10) >= 18 ? REPORTED_18 : REPORTED;
}
