/**
 * Nodes the rewriter built itself and that the final checks must treat as
 * its own (secure.ts):
 *
 * - trusted subtrees: the inner SELECT of a catalog subquery. It is a fixed
 *   template whose only inputs are names from the policy set, emitted as
 *   string constants; it may call functions a user may not (current_database()
 *   of the real database, jsonb_populate_record over catalog rows), so the
 *   function allowlist and the identity replacement skip it.
 * - admitted calls: a catalog function call or reg* cast that the function
 *   rewrite (functions.ts in this directory) has wrapped in its visibility
 *   guard. Only the call node itself is admitted; its arguments (user
 *   expressions) are still checked.
 *
 * Membership is by object identity (WeakSet), so nothing a user writes can
 * claim it, and a parse of the deparsed text never inherits it.
 */
const trustedSubtrees = new WeakSet<object>();
const admittedCalls = new WeakSet<object>();

export function trustSubtree(node: object): void {
  trustedSubtrees.add(node);
}

export function isTrustedSubtree(node: object): boolean {
  return trustedSubtrees.has(node);
}

export function admitCall<T extends object>(node: T): T {
  admittedCalls.add(node);
  return node;
}

export function isAdmittedCall(node: object): boolean {
  return admittedCalls.has(node);
}
