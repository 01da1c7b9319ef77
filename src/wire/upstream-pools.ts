/**
 * The upstream pools of one proxy server: one UpstreamPool per data source,
 * keyed by its connection settings (password included, so a changed
 * configuration gets a new pool while the old one's idle connections
 * expire). Two data sources with identical settings share a pool: after the
 * reset their connections are interchangeable. A pool that holds nothing is
 * forgotten; `close` closes them all when the proxy stops.
 */
import { createHash } from 'node:crypto';
import { PoolClosed, type PoolOptions, UpstreamPool } from './upstream-pool.js';
import type { UpstreamSettings } from './upstream.js';

/** The pools of one proxy server, one per distinct connection settings. */
export class UpstreamPools {
  private readonly pools = new Map<string, UpstreamPool>();
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** The pool for these settings (created on first use). */
  for(settings: UpstreamSettings): UpstreamPool {
    if (this.closed) throw new PoolClosed('the upstream pools are closed');
    const key = poolKey(settings);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new UpstreamPool({ ...settings }, this.options, (p) => {
        if (this.pools.get(key) === p) this.pools.delete(key);
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Every pool currently known (for stats and tests). */
  all(): UpstreamPool[] {
    return [...this.pools.values()];
  }

  close(): void {
    this.closed = true;
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }
}

/** A digest, so map keys never hold the password in clear. */
function poolKey(s: UpstreamSettings): string {
  const parts = [s.host, String(s.port), s.database, s.username, s.password, s.sslmode];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}
