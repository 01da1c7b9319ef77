/**
 * Rewrite caches of the data plane, one pair per data source (a cache belongs
 * to one gate configuration, see sql/rewrite.ts): the exact-text memo and the
 * literal-normalized templates. Keys carry the policy-set fingerprint, so
 * sessions with equal policies share entries and a policy change misses.
 */
import { LruCache } from '../sql/cache.js';
import type { NormalizedTemplate } from '../sql/normalized.js';
import type { RewriteResult } from '../sql/rewrite.js';

export interface RewriteCaches {
  cache: LruCache<RewriteResult>;
  templates: LruCache<NormalizedTemplate>;
}

const EXACT_ENTRIES = 4096;
const TEMPLATE_ENTRIES = 2048;

const byDataSource = new Map<string, RewriteCaches>();

export function rewriteCachesFor(dataSourceId: string): RewriteCaches {
  let caches = byDataSource.get(dataSourceId);
  if (!caches) {
    caches = { cache: new LruCache(EXACT_ENTRIES), templates: new LruCache(TEMPLATE_ENTRIES) };
    byDataSource.set(dataSourceId, caches);
  }
  return caches;
}
