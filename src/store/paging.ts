/**
 * Pagination rules of the API (api-contract §1.9): page < 1 becomes 1,
 * page_size above the max is clamped, and either `0 → empty data` or
 * `clamped to ≥ 1` depending on the endpoint.
 */
export interface PageRequest {
  page?: number | undefined;
  pageSize?: number | undefined;
}

export interface PageRule {
  defaultSize: number;
  maxSize: number;
  /** true: page_size 0 returns no rows; false: page_size is clamped to at least 1. */
  zeroMeansEmpty: boolean;
}

export interface EffectivePage {
  page: number;
  pageSize: number;
  offset: number;
  /** Rows to fetch; 0 means skip the query and return `[]`. */
  limit: number;
}

export interface Paginated<T> {
  data: T[];
  total: number;
  page: number;
  page_size: number;
}

export function effectivePage(request: PageRequest, rule: PageRule): EffectivePage {
  const page = Math.max(1, Math.floor(request.page ?? 1));
  let pageSize = Math.min(rule.maxSize, Math.floor(request.pageSize ?? rule.defaultSize));
  if (!rule.zeroMeansEmpty) pageSize = Math.max(1, pageSize);
  pageSize = Math.max(0, pageSize);
  return { page, pageSize, offset: (page - 1) * pageSize, limit: pageSize };
}
