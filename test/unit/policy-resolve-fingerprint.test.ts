import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, fingerprintOf } from '../../src/policy/fingerprint.js';
import type { PolicyInputs } from '../../src/policy/inputs.js';
import { loadPolicyParser, resolveSessionPolicySet } from '../../src/policy/resolve.js';

function base(): PolicyInputs {
  return {
    dataSource: { id: 'ds', name: 'shop', accessMode: 'open' },
    catalog: [
      {
        name: 'public',
        alias: null,
        tables: [
          {
            name: 'customers',
            tableType: 'TABLE',
            columns: ['id', 'ssn', 'org'].map((name, i) => ({ name, udtName: 'text', ordinal: i + 1 })),
          },
        ],
      },
    ],
    user: { id: 'u1', username: 'alice', roleIds: [], attributes: { tenant: 'acme', unused: 'x' } },
    policies: [
      {
        id: 'p1',
        name: 'tenant',
        version: 1,
        policyType: 'row_filter',
        targets: [{ schemas: ['*'], tables: ['*'] }],
        definition: { filter_expression: 'org = {user.tenant}' },
        assignments: [{ scope: 'all', userId: null, roleId: null, priority: 100 }],
      },
      {
        id: 'p2',
        name: 'mask',
        version: 1,
        policyType: 'column_mask',
        targets: [{ schemas: ['*'], tables: ['*'], columns: ['ssn'] }],
        definition: { mask_expression: "'***'" },
        assignments: [{ scope: 'all', userId: null, roleId: null, priority: 100 }],
      },
    ],
    attributeDefinitions: [
      { key: 'tenant', valueType: 'string', defaultValue: null },
      { key: 'unused', valueType: 'string', defaultValue: null },
    ],
    anchors: [],
  };
}

const fp = (inputs: PolicyInputs) => resolveSessionPolicySet(inputs).fingerprint;

beforeAll(loadPolicyParser);

describe('fingerprint', () => {
  it('canonical JSON sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"z":1}]},"b":1}',
    );
    expect(fingerprintOf({ a: 1, b: 2 })).toBe(fingerprintOf({ b: 2, a: 1 }));
    expect(fingerprintOf({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('equal inputs → equal fingerprints, however ordered', () => {
    const a = base();
    const b = base();
    b.policies.reverse();
    b.attributeDefinitions.reverse();
    expect(fp(a)).toBe(fp(base()));
    expect(fp(a)).toBe(fp(b));
    // The same expression written differently (whitespace) resolves to the same tree.
    const c = base();
    c.policies[0]!.definition = { filter_expression: '  org   =   {user.tenant}' };
    expect(fp(c)).toBe(fp(a));
  });

  it('a value the set does not use does not change it (the set is what is hashed)', () => {
    const b = base();
    b.user.attributes = { tenant: 'acme', unused: 'y' };
    expect(fp(b)).toBe(fp(base()));
  });

  it.each([
    ['attribute value', (i: PolicyInputs) => (i.user.attributes = { tenant: 'globex' })],
    ['mask', (i: PolicyInputs) => (i.policies[1]!.definition = { mask_expression: "'###'" })],
    [
      'filter',
      (i: PolicyInputs) => (i.policies[0]!.definition = { filter_expression: 'org <> {user.tenant}' }),
    ],
    ['visible column', (i: PolicyInputs) => i.catalog[0]!.tables[0]!.columns.pop()],
    ['visible table', (i: PolicyInputs) => (i.catalog[0]!.tables[0]!.selected = false)],
    ['schema alias', (i: PolicyInputs) => (i.catalog[0]!.alias = 'sales')],
    ['policy version', (i: PolicyInputs) => (i.policies[0]!.version = 2)],
    ['access mode', (i: PolicyInputs) => (i.dataSource.accessMode = 'policy_required')],
    ['user', (i: PolicyInputs) => (i.user.username = 'bob')],
    ['column type', (i: PolicyInputs) => (i.catalog[0]!.tables[0]!.columns[0]!.udtName = 'int4')],
  ])('%s change → different fingerprint', (_label, change) => {
    const changed = base();
    change(changed);
    expect(fp(changed)).not.toBe(fp(base()));
  });
});
