import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  parsePolicyDocument,
  policyNameError,
  serializePolicyDocument,
  type PolicyDocument,
} from '../../src/policy/document.js';

const rowFilter = () => ({
  name: 'tenant-isolation',
  policy_type: 'row_filter',
  targets: [{ schemas: ['public'], tables: ['orders'] }],
  definition: { filter_expression: 'org = {user.tenant}' },
});

function parse(policies: unknown[]) {
  const result = parsePolicyDocument(YAML.stringify({ version: 1, policies }));
  if (!result.ok) throw new Error(result.error);
  return result;
}

/** The single error of a one-policy document. */
function errorOf(policy: Record<string, unknown>) {
  const { errors, document } = parse([policy]);
  expect(document.policies).toEqual([]);
  expect(errors).toHaveLength(1);
  return errors[0]!;
}

/** Nested aliases that expand to 10^6 nodes: must be refused, not expanded. */
function billionLaughs(): string {
  const lines = ['a: &l0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= 5; i++)
    lines.push(
      `l${i}: &l${i} [${Array(10)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  return lines.join('\n');
}

describe('parsePolicyDocument: document level', () => {
  it.each([
    ['version: 1\npolicies: [\n', /^Invalid YAML: /],
    ['a: 1\na: 2\n', /^Invalid YAML: Map keys must be unique at line 2, column 1$/],
    ['version: 1\npolicies: []\n---\nversion: 1\n', /^Invalid YAML: /],
    [billionLaughs(), /^Invalid YAML: Excessive alias count/],
    ['', /must be a YAML mapping/],
    ['- 1\n', /must be a YAML mapping/],
    ['policies: []\n', /^Missing 'version'/],
    ['version: 2\npolicies: []\n', /^Unsupported policy document version 2/],
    ["version: '1'\npolicies: []\n", /^Unsupported policy document version "1"/],
    ['version: 1\n', /^Missing 'policies'/],
    ['version: 1\npolicies: {}\n', /^'policies' must be a list/],
    ['version: 1\npolicies: []\nextra: true\n', /^Unknown key 'extra'/],
  ])('%j → error', (text, message) => {
    const result = parsePolicyDocument(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(message);
  });

  it('accepts an empty policy list', () => {
    expect(parsePolicyDocument('version: 1\npolicies: []\n')).toEqual({
      ok: true,
      document: { version: 1, policies: [] },
      errors: [],
    });
  });
});

describe('parsePolicyDocument: entries', () => {
  it('normalizes a valid entry with defaults', () => {
    const { document, errors } = parse([rowFilter()]);
    expect(errors).toEqual([]);
    expect(document.policies).toEqual([
      {
        name: 'tenant-isolation',
        policy_type: 'row_filter',
        description: null,
        is_enabled: true,
        targets: [{ schemas: ['public'], tables: ['orders'] }],
        definition: { filter_expression: 'org = {user.tenant}' },
        decision_function: null,
        assignments: null,
      },
    ]);
  });

  it('reads assignments, inferring scope and defaulting priority', () => {
    const { document, errors } = parse([
      {
        ...rowFilter(),
        is_enabled: false,
        description: 'd',
        decision_function: 'business-hours',
        assignments: [
          { datasource: 'prod' },
          { datasource: 'staging', user: 'alice', priority: 50 },
          { datasource: 'staging', role: 'analysts', scope: 'role', priority: -3 },
        ],
      },
    ]);
    expect(errors).toEqual([]);
    const [policy] = document.policies;
    expect(policy).toMatchObject({
      is_enabled: false,
      description: 'd',
      decision_function: 'business-hours',
    });
    expect(policy!.assignments).toEqual([
      { datasource: 'prod', scope: 'all', user: null, role: null, priority: 100 },
      { datasource: 'staging', scope: 'user', user: 'alice', role: null, priority: 50 },
      { datasource: 'staging', scope: 'role', user: null, role: 'analysts', priority: -3 },
    ]);
  });

  it('keeps `assignments: []` distinct from an absent key', () => {
    const { document } = parse([{ ...rowFilter(), assignments: [] }]);
    expect(document.policies[0]!.assignments).toEqual([]);
  });

  it('keeps extra definition keys (§6.2) and drops definition for types without one', () => {
    const { document } = parse([
      { ...rowFilter(), definition: { filter_expression: 'true', note: 'x' } },
      { name: 'deny', policy_type: 'table_deny', targets: [{ schemas: ['*'], tables: ['internal_*'] }] },
    ]);
    expect(document.policies.map((p) => p.definition)).toEqual([
      { filter_expression: 'true', note: 'x' },
      null,
    ]);
  });

  it.each([
    [{ name: undefined }, 'name', "'name' is required"],
    [{ name: 42 }, 'name', "'name' must be a string"],
    [{ name: '' }, 'name', 'Policy name must be between 1 and 100 characters'],
    [{ name: ' x' }, 'name', 'Policy name must not have leading or trailing whitespace'],
    [{ name: 'a/b' }, 'name', 'Policy name contains invalid characters'],
    [{ policy_type: undefined }, 'policy_type', "'policy_type' is required"],
    [{ description: 3 }, 'description', "'description' must be a string"],
    [{ is_enabled: 'yes' }, 'is_enabled', "'is_enabled' must be a boolean"],
    [{ decision_function: 7 }, 'decision_function', "'decision_function' must be a string"],
    [{ decision_function: '' }, 'decision_function', "'decision_function' must not be empty"],
    [{ colour: 'red' }, 'colour', "Unknown key 'colour'"],
    [{ targets: [] }, 'targets', "'targets' must not be empty"],
    [{ targets: undefined }, 'targets', "'targets' must not be empty"],
    [
      { targets: [{ schemas: ['s'], tables: [] }] },
      'targets[0].tables',
      "targets[0]: 'tables' must not be empty",
    ],
    [
      { targets: [{ schemas: [], tables: ['t'] }] },
      'targets[0].schemas',
      "targets[0]: 'schemas' must not be empty",
    ],
    [
      { targets: [{ schemas: ['s'], tables: ['t'], columns: [] }] },
      'targets[0].columns',
      "targets[0]: 'row_filter' must not have 'columns'",
    ],
    [
      { targets: [{ schemas: ['s'], tables: [''] }] },
      'targets[0].tables[0]',
      "targets[0]: 'tables' patterns must not be empty",
    ],
    [{ targets: [{ schemas: ['s'], tables: ['t'], x: 1 }] }, 'targets[0].x', "targets[0]: unknown key 'x'"],
    [
      { definition: undefined },
      'definition',
      "row_filter policy requires a 'definition' with 'filter_expression'",
    ],
    [
      { definition: 'org = 1' },
      'definition',
      "row_filter policy requires a 'definition' with 'filter_expression'",
    ],
    [
      { definition: {} },
      'definition.filter_expression',
      "row_filter: missing required field 'filter_expression'",
    ],
    [
      { definition: { filter_expression: 1 } },
      'definition.filter_expression',
      "row_filter: 'filter_expression' must be a string",
    ],
    [{ assignments: { datasource: 'x' } }, 'assignments', "'assignments' must be a list"],
    [{ assignments: ['x'] }, 'assignments[0]', 'Assignment must be a mapping'],
    [{ assignments: [{}] }, 'assignments[0].datasource', "'datasource' is required"],
    [
      { assignments: [{ datasource: '' }] },
      'assignments[0].datasource',
      "'datasource' must be a non-empty string",
    ],
    [
      { assignments: [{ datasource: 'd', user: 5 }] },
      'assignments[0].user',
      "'user' must be a non-empty string",
    ],
    [
      { assignments: [{ datasource: 'd', user: 'a', role: 'r' }] },
      'assignments[0]',
      "Assignment must not have both 'user' and 'role'",
    ],
    [
      { assignments: [{ datasource: 'd', scope: 'user' }] },
      'assignments[0].scope',
      "scope 'user' requires user",
    ],
    [
      { assignments: [{ datasource: 'd', scope: 'role' }] },
      'assignments[0].scope',
      "scope 'role' requires role",
    ],
    [
      { assignments: [{ datasource: 'd', scope: 'all', role: 'r' }] },
      'assignments[0].scope',
      "scope 'all' must not have user or role",
    ],
    [
      { assignments: [{ datasource: 'd', scope: 'everyone' }] },
      'assignments[0].scope',
      "scope must be 'user', 'role', or 'all'",
    ],
    [
      { assignments: [{ datasource: 'd', priority: 1.5 }] },
      'assignments[0].priority',
      "'priority' must be a 32-bit integer",
    ],
    [
      { assignments: [{ datasource: 'd', priority: 2 ** 31 }] },
      'assignments[0].priority',
      "'priority' must be a 32-bit integer",
    ],
    [
      { assignments: [{ datasource: 'd', priority: '1' }] },
      'assignments[0].priority',
      "'priority' must be a 32-bit integer",
    ],
    [{ assignments: [{ datasource: 'd', prio: 1 }] }, 'assignments[0].prio', "Unknown key 'prio'"],
    [
      {
        assignments: [
          { datasource: 'd', user: 'a' },
          { datasource: 'd', user: 'a', priority: 1 },
        ],
      },
      'assignments[1]',
      'Duplicate assignment (same datasource and scope as assignments[0])',
    ],
  ])('%j → %s', (change, field, error) => {
    const policy: Record<string, unknown> = { ...rowFilter(), ...change };
    for (const key of Object.keys(change)) if (policy[key] === undefined) delete policy[key];
    const name = typeof policy.name === 'string' ? policy.name : null;
    expect(errorOf(policy)).toEqual({ index: 0, name, field, error });
  });

  it('reports every disagreement between scope and user/role', () => {
    const { errors } = parse([
      { ...rowFilter(), assignments: [{ datasource: 'd', scope: 'user', role: 'r' }] },
    ]);
    expect(errors.map((e) => [e.field, e.error])).toEqual([
      ['assignments[0].scope', "scope 'user' requires user"],
      ['assignments[0].scope', "scope 'user' must not have role"],
    ]);
  });

  it('validates column_mask definitions and columns', () => {
    const mask = { name: 'm', policy_type: 'column_mask', targets: [{ schemas: ['s'], tables: ['t'] }] };
    expect(parse([mask]).errors).toEqual([
      {
        index: 0,
        name: 'm',
        field: 'targets[0].columns',
        error: "targets[0]: 'column_mask' requires non-empty 'columns'",
      },
      {
        index: 0,
        name: 'm',
        field: 'definition',
        error: "column_mask policy requires a 'definition' with 'mask_expression'",
      },
    ]);
    const wrongKey = {
      ...mask,
      targets: [{ schemas: ['s'], tables: ['t'], columns: ['c'] }],
      definition: { filter_expression: 'x' },
    };
    expect(parse([wrongKey]).errors).toEqual([
      {
        index: 0,
        name: 'm',
        field: 'definition.mask_expression',
        error: "column_mask: missing required field 'mask_expression'",
      },
    ]);
  });

  it('rejects a definition on types without one', () => {
    const deny = {
      name: 'd',
      policy_type: 'column_deny',
      targets: [{ schemas: ['s'], tables: ['t'], columns: ['c'] }],
      definition: { mask_expression: 'x' },
    };
    expect(errorOf(deny)).toEqual({
      index: 0,
      name: 'd',
      field: 'definition',
      error: "'column_deny' policy must not have a 'definition'",
    });
  });

  it('reports an unknown policy_type without type-dependent noise', () => {
    expect(errorOf({ ...rowFilter(), policy_type: 'row_mask' })).toEqual({
      index: 0,
      name: 'tenant-isolation',
      field: 'policy_type',
      error: expect.stringContaining('Unknown policy_type "row_mask"'),
    });
  });

  it('reports non-mapping entries and duplicate names with their index', () => {
    const { document, errors } = parse([rowFilter(), 'oops', { ...rowFilter(), description: 'again' }]);
    expect(document.policies.map((p) => p.name)).toEqual(['tenant-isolation']);
    expect(errors).toEqual([
      { index: 1, name: null, field: '', error: 'Policy entry must be a mapping' },
      {
        index: 2,
        name: 'tenant-isolation',
        field: 'name',
        error: "Duplicate policy name 'tenant-isolation' in document (first at policies[0])",
      },
    ]);
  });

  it('keeps valid entries next to invalid ones', () => {
    const { document, errors } = parse([{ ...rowFilter(), name: 'bad', targets: [] }, rowFilter()]);
    expect(document.policies.map((p) => p.name)).toEqual(['tenant-isolation']);
    expect(errors.map((e) => [e.index, e.field])).toEqual([[0, 'targets']]);
  });
});

describe('policyNameError', () => {
  it('accepts the documented character set', () => {
    expect(policyNameError(`Mask SSN (v2): "last-4" it's_ok.`)).toBeNull();
    expect(policyNameError('x'.repeat(100))).toBeNull();
    expect(policyNameError('x'.repeat(101))).toBe('Policy name must be between 1 and 100 characters');
    expect(policyNameError('   ')).toBe('Policy name must be between 1 and 100 characters');
    expect(policyNameError('ssn\tmask')).toBe('Policy name contains invalid characters');
    expect(policyNameError('ümlaut')).toBe('Policy name contains invalid characters');
  });
});

describe('serializePolicyDocument', () => {
  const doc: PolicyDocument = {
    version: 1,
    policies: [
      {
        name: 'hide-pii',
        policy_type: 'column_deny',
        description: null,
        is_enabled: false,
        targets: [{ schemas: ['*'], tables: ['*'], columns: ['ssn', 'credit_*'] }],
        definition: { leftover: true },
        decision_function: 'business-hours',
        assignments: [
          { datasource: 'prod', scope: 'all', user: null, role: null, priority: 100 },
          { datasource: 'prod', scope: 'role', user: null, role: 'analysts', priority: 10 },
          { datasource: 'staging', scope: 'user', user: 'alice', role: null, priority: -1 },
        ],
      },
      {
        name: 'mask-email',
        policy_type: 'column_mask',
        description: 'Domain only: keeps joins working',
        is_enabled: true,
        targets: [{ schemas: ['public'], tables: ['customers'], columns: ['email'] }],
        definition: { mask_expression: `'***@' || SPLIT_PART(email, '@', 2)` },
        decision_function: null,
        assignments: null,
      },
    ],
  };
  const expected: PolicyDocument = {
    ...doc,
    policies: [{ ...doc.policies[0]!, definition: null }, doc.policies[1]!],
  };

  it('round-trips through parsePolicyDocument', () => {
    const text = serializePolicyDocument(doc);
    expect(parsePolicyDocument(text)).toEqual({ ok: true, document: expected, errors: [] });
    expect(serializePolicyDocument(expected)).toBe(text);
  });

  it('omits null keys, definitions of types without one, and implicit scope', () => {
    const text = serializePolicyDocument(doc);
    expect(text).not.toMatch(/null|leftover|scope:/);
    // mask-email has no assignments key, so only hide-pii's appears.
    expect(text.match(/assignments:/g)).toHaveLength(1);
    expect(text).toContain(
      '      - schemas: ["*"]\n        tables: ["*"]\n        columns: [ssn, credit_*]\n',
    );
    expect(text.startsWith('version: 1\npolicies:\n  - name: hide-pii\n')).toBe(true);
  });

  it('serializes an empty document', () => {
    const text = serializePolicyDocument({ version: 1, policies: [] });
    expect(parsePolicyDocument(text)).toEqual({
      ok: true,
      document: { version: 1, policies: [] },
      errors: [],
    });
  });
});
