/** Pure role-graph rules (no database): closure, effective members, cycle and depth checks. */
import { describe, expect, it } from 'vitest';
import {
  activeRoleClosure,
  ancestors,
  buildRoleGraph,
  cycleIfAdded,
  depthIfAdded,
  descendants,
  effectiveMembers,
  MAX_ROLE_DEPTH,
} from '../../src/identity/role-graph.js';

/** `"a>b"` = a is the parent of b. */
const graph = (...edges: string[]) =>
  buildRoleGraph(
    edges.map((e) => {
      const [parentId = '', childId = ''] = e.split('>');
      return { parentId, childId };
    }),
  );

/** r0 > r1 > … > rN: r0 is the top ancestor. */
const chain = (n: number) => graph(...Array.from({ length: n }, (_, i) => `r${i}>r${i + 1}`));

describe('role graph', () => {
  it('walks ancestors and descendants with BFS distances', () => {
    const g = graph('a>b', 'b>c', 'a>c', 'x>c');
    expect([...ancestors(g, 'c')]).toEqual([
      ['b', 1],
      ['a', 1],
      ['x', 1],
    ]);
    expect(Object.fromEntries(descendants(g, 'a'))).toEqual({ b: 1, c: 1 });
    expect(ancestors(g, 'a').size).toBe(0);
  });

  describe('active role closure (§5.3)', () => {
    const g = graph('top>mid', 'mid>leaf', 'other>leaf');
    it('includes direct active roles and active ancestors', () => {
      expect(activeRoleClosure(g, ['leaf'], () => true)).toEqual(['leaf', 'mid', 'other', 'top']);
    });
    it('an inactive role is neither included nor traversed', () => {
      expect(activeRoleClosure(g, ['leaf'], (id) => id !== 'mid')).toEqual(['leaf', 'other']);
      expect(activeRoleClosure(g, ['leaf'], (id) => id !== 'leaf')).toEqual([]);
      expect(activeRoleClosure(g, ['leaf', 'top'], (id) => id !== 'leaf')).toEqual(['top']);
    });
    it('stops after 10 levels', () => {
      const long = chain(12); // r12 is the bottom
      const closure = activeRoleClosure(long, ['r12'], () => true);
      expect(closure).toHaveLength(11); // r12 plus 10 ancestors
      expect(closure.at(-1)).toBe('r2');
    });
    it('de-duplicates direct roles', () => {
      expect(activeRoleClosure(g, ['mid', 'mid'], () => true)).toEqual(['mid', 'top']);
    });
  });

  it('effective members: direct wins, else the nearest descendant', () => {
    const g = graph('a>b', 'b>c', 'a>d');
    const members: Record<string, string[]> = { a: ['u1'], b: ['u2', 'u1'], c: ['u2', 'u3'], d: ['u4'] };
    const result = effectiveMembers(g, 'a', (id) => members[id] ?? []);
    expect(Object.fromEntries(result)).toEqual({
      u1: { kind: 'direct' },
      u2: { kind: 'via', roleId: 'b' },
      u4: { kind: 'via', roleId: 'd' },
      u3: { kind: 'via', roleId: 'c' },
    });
  });

  describe('cycle detection', () => {
    it('self link', () => {
      expect(cycleIfAdded(graph(), 'a', 'a')).toEqual(['a', 'a', 'a']);
    });
    it('two-node cycle', () => {
      expect(cycleIfAdded(graph('c>p'), 'p', 'c')).toEqual(['c', 'p', 'c']);
    });
    it('longer chain, following the existing edges down from the child', () => {
      // c is the parent of a, a of b; making b a parent of c closes c → a → b → c.
      expect(cycleIfAdded(graph('c>a', 'a>b', 'x>b'), 'b', 'c')).toEqual(['c', 'a', 'b', 'c']);
    });
    it('no cycle for diamonds and unrelated roles', () => {
      expect(cycleIfAdded(graph('a>b', 'a>c', 'b>d'), 'c', 'd')).toBeNull();
      expect(cycleIfAdded(graph('a>b'), 'a', 'b')).toBeNull(); // existing edge is not a cycle
      expect(cycleIfAdded(graph(), 'x', 'y')).toBeNull();
    });
  });

  describe('depth check (≤ 10 edges)', () => {
    it('counts up + 1 + down', () => {
      expect(depthIfAdded(graph(), 'a', 'b')).toBe(1);
      expect(depthIfAdded(graph('g>p', 'c>k', 'k>l'), 'p', 'c')).toBe(4);
    });
    it('a chain of 10 edges is accepted, an 11th edge refused', () => {
      const nine = chain(9); // r0..r9, 9 edges
      expect(depthIfAdded(nine, 'r9', 'r10')).toBe(MAX_ROLE_DEPTH);
      const ten = chain(10);
      expect(depthIfAdded(ten, 'r10', 'r11')).toBe(11);
      expect(depthIfAdded(ten, 'top', 'r0')).toBe(11);
    });
    it('uses shortest (BFS) distances, as BR does', () => {
      // a reaches d by a 1-edge shortcut and a 3-edge path; BFS sees 1.
      const g = graph('a>b', 'b>c', 'c>d', 'a>d');
      expect(depthIfAdded(g, 'd', 'e')).toBe(3); // up: d→c (1), b (2), a (1 via shortcut) → max 2
    });
  });
});
