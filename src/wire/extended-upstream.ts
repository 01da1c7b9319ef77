/**
 * The upstream half of the extended query protocol: every message the
 * client's pipeline sends upstream is queued here with what to do with its
 * answer, and the upstream's responses are relayed as received, in order.
 * PostgreSQL answers each message with one completion (ParseComplete,
 * BindComplete, CloseComplete, RowDescription/NoData after Describe,
 * CommandComplete/EmptyQuery/PortalSuspended after Execute, ReadyForQuery
 * after Sync), so the head of the queue is always the message being answered.
 *
 * Errors: after an ErrorResponse PostgreSQL skips everything up to Sync, so
 * the queued entries before the next Sync are dropped and, until that Sync,
 * nothing more is sent up. A statement the proxy refuses is sent up as a
 * "poison" Bind of a statement name no client may create: the upstream then
 * fails at exactly that point of the pipeline (aborting the transaction as
 * PostgreSQL would) and its ErrorResponse is replaced by the proxy's. Both
 * sides thus discard the same messages and the client gets one error.
 *
 * Entries dropped that way (or never sent) get `done({ skipped })`, so the
 * session forgets statements and portals the upstream never created.
 *
 * The proxy's own answers (SHOW / SET / RESET, extended-local.ts) go out
 * with `reply()` once the pipeline has settled; the upstream half of a SET
 * runs inside the pipeline under reserved names with its answers hidden
 * (`runHidden`). `beforeReady` lets the session end the batch's implicit
 * transaction and send ParameterStatus just before ReadyForQuery.
 *
 * Upstream errors and notices are rebuilt by sanitize.ts against the user's
 * text of the statement concerned, as the simple path does.
 *
 * The relay (relay.ts) owns the upstream socket and reads its frames through
 * DemuxReader, which hands frames to this pipeline while it has messages in
 * flight and to the relay otherwise (simple queries never overlap a pipeline:
 * the session settles the pipeline before a 'Q').
 */
import type { TransactionStatus } from './backend.js';
import { BufferReader } from './buffer.js';
import { type Frame, FrameReader } from './frames.js';
import * as fe from './frontend.js';
import { zeroColumnOrigins } from './relay.js';
import { encodeNotice, sanitizeFields } from './sanitize.js';
import { parseNoticeFields } from './upstream.js';

/** Prefix of the proxy's own statement and portal names (Parse refuses it from clients). */
export const RESERVED_PREFIX = 'rowgate\u0001';
/** Reserved statement name: binding it always fails upstream. */
export const POISON_STATEMENT = `${RESERVED_PREFIX}refused`;
/** Where the proxy runs the upstream half of a SET / RESET in a pipeline. */
const SET_STATEMENT = `${RESERVED_PREFIX}set`;

/** How a message's answer ended. */
export interface Outcome {
  /** CommandComplete tag (Execute). */
  tag?: string;
  suspended?: boolean;
  rows: number;
  error?: Map<string, string>;
  /** Never answered: dropped after an earlier error, as upstream skips to Sync. */
  skipped?: boolean;
}

export interface Entry {
  type: 'P' | 'B' | 'D' | 'E' | 'C' | 'S' | 'poison';
  /** Completion not relayed (the proxy's own re-prepare). */
  hidden?: boolean;
  /** For 'poison': the ErrorResponse the client gets instead of the upstream's. */
  error?: Buffer;
  done?: (outcome: Outcome) => void;
  rows?: number;
  /** The user's text of the statement concerned: upstream error texts are checked against it. */
  sql?: string;
}

export interface PipelineHooks {
  writeUpstream(raw: Buffer): void;
  sendClient(raw: Buffer): void;
  /** ReadyForQuery arrived (already relayed). */
  onReady(status: TransactionStatus): void;
}

export class ExtendedPipeline {
  private readonly queue: Entry[] = [];
  /** An upstream error was seen and its Sync has not been sent yet. */
  private failed = false;
  private waiters: (() => void)[] = [];
  private gone: Error | undefined;
  /** An error was relayed since the last ReadyForQuery (the implicit transaction failed). */
  private erred = false;
  /** Called with the status just before ReadyForQuery is relayed (extended.ts: settings, ParameterStatus). */
  beforeReady: ((status: TransactionStatus, failed: boolean) => void) | undefined;

  constructor(private readonly hooks: PipelineHooks) {}

  /** True while responses are expected: the demultiplexer routes frames here. */
  get active(): boolean {
    return this.queue.length > 0;
  }

  /** Sends one message upstream, unless upstream is skipping to Sync anyway. */
  send(raw: Buffer, entry: Entry): void {
    if (this.gone) return;
    if (entry.type !== 'S' && this.failed && !this.queue.some((e) => e.type === 'S')) {
      entry.done?.({ rows: 0, skipped: true });
      return;
    }
    if (entry.type === 'S') this.failed = false;
    this.queue.push(entry);
    this.hooks.writeUpstream(raw);
  }

  /** Flush: upstream sends what it has buffered (no response of its own). */
  flush(): void {
    if (!this.gone) this.hooks.writeUpstream(fe.flush());
  }

  /** Answers the proxy gives itself; the caller settles the pipeline first, so they come in order. */
  reply(...raw: Buffer[]): void {
    for (const r of raw) this.hooks.sendClient(r);
  }

  /**
   * Runs `sql` upstream inside the pipeline — in the client's (implicit)
   * transaction, unlike a simple query, which would commit it — under
   * reserved names, answers hidden, then settles. Returns the upstream's
   * error (already relayed, sanitized against `userSql`), if any.
   */
  async runHidden(sql: readonly string[], userSql: string): Promise<Map<string, string> | undefined> {
    let error: Map<string, string> | undefined;
    const done = (o: Outcome) => void (error ??= o.error);
    for (const text of sql) {
      const hidden = { hidden: true, sql: userSql, done };
      // Closing what does not exist is no error: a failed earlier run may have left either.
      this.send(fe.close('P', SET_STATEMENT), { type: 'C', ...hidden });
      this.send(fe.close('S', SET_STATEMENT), { type: 'C', ...hidden });
      this.send(fe.parse(SET_STATEMENT, text), { type: 'P', ...hidden });
      this.send(fe.bind(SET_STATEMENT, SET_STATEMENT), { type: 'B', ...hidden });
      this.send(fe.execute(SET_STATEMENT), { type: 'E', ...hidden });
    }
    const ok = await this.settle();
    return error ?? (ok ? undefined : new Map([['M', 'skipped']]));
  }

  /** The refusal point: upstream fails here and the client gets `error`. */
  poison(error: Buffer): void {
    this.send(fe.bind('', POISON_STATEMENT), { type: 'poison', error });
  }

  /**
   * Waits until every message sent has been answered (asking upstream to
   * flush if no Sync is pending). False when upstream reported an error that
   * is not yet followed by a Sync: the caller then skips to Sync as well.
   */
  async settle(): Promise<boolean> {
    if (this.queue.length > 0 && this.queue.at(-1)!.type !== 'S') this.flush();
    while (this.queue.length > 0 && !this.gone) await new Promise<void>((r) => this.waiters.push(r));
    if (this.gone) throw this.gone;
    return !this.failed;
  }

  /** The upstream connection ended: nothing more will be answered. */
  abort(err: Error): void {
    this.gone = err;
    this.queue.length = 0;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private complete(outcome: Omit<Outcome, 'rows'> = {}): Entry | undefined {
    const head = this.queue.shift();
    head?.done?.({ ...outcome, rows: head.rows ?? 0 });
    return head;
  }

  /** One upstream frame while the pipeline is active. */
  handle(frame: Frame): void {
    const head = this.queue[0];
    const relay = () => this.hooks.sendClient(frame.raw);
    switch (frame.type) {
      case 'S': // ParameterStatus, BackendKeyData: the proxy reports its own (V117)
      case 'K':
        return;
      case '1': // ParseComplete, BindComplete, CloseComplete
      case '2':
      case '3':
        if (!this.complete()?.hidden) relay();
        break;
      case 'T':
        zeroColumnOrigins(frame.body);
        relay();
        if (head?.type === 'D') this.complete();
        break;
      case 'n': // NoData
        relay();
        if (head?.type === 'D') this.complete();
        break;
      case 'D':
        if (head) head.rows = (head.rows ?? 0) + 1;
        relay();
        break;
      case 'C': {
        const tag = new BufferReader(frame.body).cstring();
        if (!head?.hidden) relay();
        // COPY sends no DataRow: its tag carries the count.
        const copied = /^COPY (\d+)$/.exec(tag);
        if (head && copied) head.rows = Number(copied[1]);
        this.complete({ tag });
        break;
      }
      case 'I': // EmptyQueryResponse
        relay();
        this.complete();
        break;
      case 's': // PortalSuspended
        relay();
        this.complete({ suspended: true });
        break;
      case 'E':
        this.error(frame);
        break;
      case 'N': // rebuilt like errors: upstream ran the rewritten text (sanitize.ts)
        // The proxy gives the SET LOCAL warning of its own hidden SETs itself (extended-local.ts).
        if (head?.hidden && parseNoticeFields(frame.body).get('C') === '25P01') break;
        this.hooks.sendClient(
          encodeNotice('N', sanitizeFields(parseNoticeFields(frame.body), head?.sql ?? '')),
        );
        break;
      case 'Z': {
        const status = String.fromCharCode(frame.body[0] ?? 0x49) as TransactionStatus;
        this.beforeReady?.(status, this.erred);
        this.erred = false;
        relay();
        if (head?.type === 'S') this.queue.shift();
        this.hooks.onReady(status);
        break;
      }
      default: // ParameterDescription, notices, notifications, COPY out data
        relay();
    }
    if (this.queue.length === 0) this.wake();
  }

  private error(frame: Frame): void {
    const fields = parseNoticeFields(frame.body);
    const head = this.queue[0];
    const safe = () => encodeNotice('E', sanitizeFields(fields, head?.sql ?? ''));
    this.erred = true;
    if (head && head.type !== 'S') {
      this.hooks.sendClient(head.type === 'poison' && head.error ? head.error : safe());
      this.complete({ error: fields });
      // PostgreSQL skips every message up to the Sync: they get no answer.
      while (this.queue.length > 0 && this.queue[0]!.type !== 'S')
        this.queue.shift()!.done?.({ rows: 0, skipped: true });
      this.failed = !this.queue.some((e) => e.type === 'S');
      return;
    }
    // An error answering Sync itself (e.g. COMMIT failing) or outside any message.
    this.hooks.sendClient(safe());
  }
}

/**
 * The upstream frame reader as the relay sees it: frames go to the pipeline
 * while it expects answers, and to the relay otherwise. Subclassing keeps
 * relay.ts unchanged (it takes a FrameReader); all state lives in `inner`.
 */
export class DemuxReader extends FrameReader {
  constructor(
    private readonly inner: FrameReader,
    private readonly pipeline: ExtendedPipeline,
  ) {
    super();
  }
  override push(chunk: Buffer): void {
    this.inner.push(chunk);
  }
  override get pending(): number {
    return this.inner.pending;
  }
  override next(): Frame | null {
    for (let f = this.inner.next(); f; f = this.inner.next()) {
      if (!this.pipeline.active) return f;
      this.pipeline.handle(f);
    }
    return null;
  }
}
