/**
 * Walks over parse trees (plain JSON from libpg-query): every plain object,
 * arrays entered, scalars skipped. Iterative, so deep trees (100 000 nested
 * NOTs) do not overflow the stack; an object is visited before its children.
 */
type Obj = Record<string, unknown>;

/** Whether `test` holds for some object of `tree`; stops at the first that does. */
export function someObject(tree: unknown, test: (o: Obj) => boolean): boolean {
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v as unknown[]) stack.push(x);
      continue;
    }
    const o = v as Obj;
    if (test(o)) return true;
    for (const key of Object.keys(o)) stack.push(o[key]);
  }
  return false;
}

/** Calls `visit` on every object of `tree` (it may throw to stop). */
export function forEachObject(tree: unknown, visit: (o: Obj) => void): void {
  someObject(tree, (o) => {
    visit(o);
    return false;
  });
}
