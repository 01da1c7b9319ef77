/**
 * The event stream of one discovery job (api-contract §4.8 SSE).
 *
 * Subscribers get only the events emitted after they subscribed (no replay,
 * as in BR) — except for a job that has already ended, whose terminal events
 * (`result` + `done`, `error`, or `cancelled`) are delivered at once so a
 * late subscriber is not left waiting forever (the contract's suggested
 * improvement). `stream()` wraps this as an async iterator that finishes
 * after the terminal event, or earlier when its `return()` is called or its
 * AbortSignal fires (the SSE client went away).
 */
import type { JobEvent } from './job-types.js';

type Listener = (event: JobEvent) => void;

export class JobEventChannel {
  private readonly listeners = new Set<Listener>();
  private terminal: readonly JobEvent[] | null = null;

  get ended(): boolean {
    return this.terminal !== null;
  }

  emit(event: JobEvent): void {
    if (this.terminal) return;
    for (const listener of [...this.listeners]) listener(event);
  }

  /** Emits the terminal events and remembers them for late subscribers. */
  end(events: readonly JobEvent[]): void {
    if (this.terminal) return;
    for (const event of events) this.emit(event);
    this.terminal = events;
    this.listeners.clear();
  }

  /** Returns the unsubscribe function. For an ended job, the terminal events arrive on the next tick. */
  subscribe(listener: Listener): () => void {
    const terminal = this.terminal;
    if (terminal) {
      let active = true;
      queueMicrotask(() => {
        if (active) for (const event of terminal) listener(event);
      });
      return () => void (active = false);
    }
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  stream(signal?: AbortSignal): AsyncIterableIterator<JobEvent> {
    const queue: JobEvent[] = [];
    let finished = false;
    let wake: (() => void) | null = null;
    const isTerminal = (e: JobEvent) => e.type === 'done' || e.type === 'error' || e.type === 'cancelled';
    const finish = () => {
      finished = true;
      unsubscribe();
      signal?.removeEventListener('abort', finish);
      wake?.();
    };
    const unsubscribe = this.subscribe((event) => {
      if (finished) return;
      queue.push(event);
      wake?.();
    });
    if (signal?.aborted) finish();
    else signal?.addEventListener('abort', finish, { once: true });

    const iterator: AsyncIterableIterator<JobEvent> = {
      next: async () => {
        for (;;) {
          const event = queue.shift();
          if (event) {
            if (isTerminal(event)) finish();
            return { value: event, done: false };
          }
          if (finished) return { value: undefined, done: true };
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      },
      return: async () => {
        queue.length = 0;
        finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}
