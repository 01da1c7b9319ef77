/**
 * The role inheritance DAG as pure functions over an edge list (api-contract
 * §4.13, §5.2, §5.3). The store loads the (small) edge table once per call and
 * everything else is computed here, identically on both engines and testable
 * without a database.
 *
 * Direction: an edge `{parentId, childId}` means the child inherits from the
 * parent. "Up" walks to parents (ancestors), "down" to children (descendants).
 */

/** Longest allowed chain, in edges. */
export const MAX_ROLE_DEPTH = 10;

export interface RoleEdge {
  parentId: string;
  childId: string;
}

export interface RoleGraph {
  parents: ReadonlyMap<string, readonly string[]>;
  children: ReadonlyMap<string, readonly string[]>;
}

export function buildRoleGraph(edges: Iterable<RoleEdge>): RoleGraph {
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  const push = (map: Map<string, string[]>, key: string, value: string) => {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  };
  for (const e of edges) {
    push(parents, e.childId, e.parentId);
    push(children, e.parentId, e.childId);
  }
  return { parents, children };
}

/**
 * BFS from `start` along `next`, returning each reached node with its shortest
 * distance, in visit order. `start` itself is not included. `maxDepth` bounds
 * the distance; `admit` filters nodes (a refused node is neither included nor
 * traversed).
 */
function bfs(
  start: readonly string[],
  next: ReadonlyMap<string, readonly string[]>,
  options: { maxDepth?: number; admit?: (id: string) => boolean } = {},
): Map<string, number> {
  const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
  const seen = new Set(start);
  const reached = new Map<string, number>();
  let frontier = [...start];
  for (let depth = 1; frontier.length > 0 && depth <= maxDepth; depth++) {
    const following: string[] = [];
    for (const id of frontier) {
      for (const n of next.get(id) ?? []) {
        if (seen.has(n) || (options.admit && !options.admit(n))) continue;
        seen.add(n);
        reached.set(n, depth);
        following.push(n);
      }
    }
    frontier = following;
  }
  return reached;
}

/** Ancestors of a role with their BFS distance (ignores `is_active`). */
export const ancestors = (graph: RoleGraph, roleId: string): Map<string, number> =>
  bfs([roleId], graph.parents);

/** Descendants of a role with their BFS distance (ignores `is_active`). */
export const descendants = (graph: RoleGraph, roleId: string): Map<string, number> =>
  bfs([roleId], graph.children);

/**
 * §5.3 active role closure: the user's direct roles that are active, plus
 * every ancestor reachable through active roles only, at most
 * MAX_ROLE_DEPTH levels above a direct role. An inactive role cuts the chain.
 * Order: direct roles first (in the given order), then BFS order.
 */
export function activeRoleClosure(
  graph: RoleGraph,
  directRoleIds: readonly string[],
  isActive: (roleId: string) => boolean,
): string[] {
  const start = [...new Set(directRoleIds)].filter(isActive);
  return [...start, ...bfs(start, graph.parents, { maxDepth: MAX_ROLE_DEPTH, admit: isActive }).keys()];
}

export type MemberSource = { kind: 'direct' } | { kind: 'via'; roleId: string };

/**
 * §4.13 effective members: every user who is a direct member of the role or
 * of a descendant (inactive roles included). One entry per user; `direct`
 * wins, otherwise the nearest descendant (BFS order) the user belongs to.
 */
export function effectiveMembers(
  graph: RoleGraph,
  roleId: string,
  membersOf: (roleId: string) => readonly string[],
): Map<string, MemberSource> {
  const result = new Map<string, MemberSource>();
  for (const userId of membersOf(roleId)) result.set(userId, { kind: 'direct' });
  for (const descendant of descendants(graph, roleId).keys()) {
    for (const userId of membersOf(descendant)) {
      if (!result.has(userId)) result.set(userId, { kind: 'via', roleId: descendant });
    }
  }
  return result;
}

/**
 * If adding `parentId` as a parent of `childId` would close a cycle, the
 * cycle as role ids: child, the existing chain down from the child to the
 * parent, child again (`c → a → b → c`). A self link gives
 * `[child, parent, child]`. Null when the edge is acyclic.
 */
export function cycleIfAdded(graph: RoleGraph, parentId: string, childId: string): string[] | null {
  if (parentId === childId) return [childId, parentId, childId];
  // A cycle exists iff the parent is already a descendant of the child; the
  // BFS predecessor links give the shortest such chain.
  const previous = new Map<string, string>();
  const queue = [childId];
  const seen = new Set(queue);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    for (const n of graph.children.get(id) ?? []) {
      if (seen.has(n)) continue;
      seen.add(n);
      previous.set(n, id);
      if (n === parentId) {
        const path = [n];
        for (let at = previous.get(n); at !== undefined; at = previous.get(at)) path.unshift(at);
        return [...path, childId];
      }
      queue.push(n);
    }
  }
  return null;
}

/**
 * §4.13 depth check: `up` = greatest BFS distance from the parent to an
 * ancestor, `down` = greatest BFS distance from the child to a descendant;
 * the edge yields a chain of `up + 1 + down` edges.
 */
export function depthIfAdded(graph: RoleGraph, parentId: string, childId: string): number {
  const longest = (m: Map<string, number>) => Math.max(0, ...m.values());
  return longest(ancestors(graph, parentId)) + 1 + longest(descendants(graph, childId));
}
