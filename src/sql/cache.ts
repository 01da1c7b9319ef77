/**
 * Memo of rewrite results keyed by (policy-set fingerprint, statement text).
 *
 * The fingerprint changes with anything that changes the policy set (design
 * §3: policy, assignment, role, attribute or catalog change), so stale
 * entries are never hit again and simply age out of the LRU: invalidation is
 * implicit. The session's search path is part of the key because it changes
 * name resolution. Errors are not cached (they are cheap and must stay
 * identical to the uncached path).
 */
export class LruCache<V> {
  private readonly map = new Map<string, V>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity = 2000) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    // Map preserves insertion order: re-inserting marks the entry most recent.
    this.map.delete(key);
    this.map.set(key, v);
    this.hits++;
    return v;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}

export function rewriteCacheKey(fingerprint: string, searchPath: readonly string[], sql: string): string {
  return `${fingerprint}\u0000${searchPath.join('\u0001')}\u0000${sql}`;
}
