/** Pure attribute rules (§4.11.1, §4.11.2, §4.3 PUT) and the user/role name rules; no database. */
import { describe, expect, it } from 'vitest';
import {
  checkDefinitionRule,
  validateUserAttributes,
  valueReason,
  type DefinitionFields,
} from '../../src/identity/attribute-values.js';
import { checkRoleNameRule, checkUsernameRule } from '../../src/identity/names.js';

describe('value validation (§4.11.1)', () => {
  it.each([
    ['x'.repeat(1024), 'string', null],
    ['x'.repeat(1025), 'string', 'value exceeds 1024 character limit'],
    ['é'.repeat(513), 'string', 'value exceeds 1024 character limit'], // bytes, not chars
    ['-9223372036854775808', 'integer', null],
    ['+42', 'integer', null],
    ['9223372036854775808', 'integer', "'9223372036854775808' is not a valid integer"],
    [' 1', 'integer', "' 1' is not a valid integer"],
    ['1.0', 'integer', "'1.0' is not a valid integer"],
    ['true', 'boolean', null],
    ['True', 'boolean', "'True' is not a valid boolean (must be 'true' or 'false')"],
    ['["a","b"]', 'list', null],
    ['{"a":1}', 'list', `'{"a":1}' is not a valid JSON array`],
    ['[1]', 'list', 'list element at index 0 is not a string'],
    [JSON.stringify(['a', 'x'.repeat(1025)]), 'list', 'list element at index 1 exceeds 1024 character limit'],
    [JSON.stringify(Array(101).fill('a')), 'list', 'list cannot exceed 100 elements'],
  ] as const)('%s as %s', (value, type, reason) => {
    expect(valueReason(value, type)).toBe(reason);
  });
});

describe('definition rule (§4.11.2)', () => {
  const def = (over: Partial<DefinitionFields>): DefinitionFields => ({
    key: 'tenant',
    entity_type: 'user',
    value_type: 'string',
    default_value: null,
    allowed_values: null,
    ...over,
  });
  const cases: [Partial<DefinitionFields>, string, string][] = [
    [{ key: '' }, 'key', 'key must be 1-64 characters'],
    [{ key: 'k'.repeat(65) }, 'key', 'key must be 1-64 characters'],
    [{ key: '1abc' }, 'key', 'key must start with a letter'],
    [{ key: 'a-b' }, 'key', 'key must contain only letters, digits, and underscores'],
    [{ entity_type: 'group' }, 'entity_type', 'entity_type must be one of: user, table, column'],
    [{ key: 'roles' }, 'key', "'roles' is a reserved attribute key for user entities"],
    [{ value_type: 'float' }, 'value_type', 'value_type must be one of: string, integer, boolean, list'],
    [
      { value_type: 'integer', default_value: 'x' },
      'default_value',
      "invalid default_value: 'x' is not a valid integer",
    ],
    [
      { value_type: 'integer', allowed_values: ['1', 'two'] },
      'allowed_values',
      "invalid allowed_value 'two': 'two' is not a valid integer",
    ],
    [
      { default_value: 'c', allowed_values: ['a', 'b'] },
      'default_value',
      'default_value must be in allowed_values',
    ],
    [{ default_value: 'c', allowed_values: [] }, 'default_value', 'default_value must be in allowed_values'],
    [
      { value_type: 'list', default_value: '["a","z"]', allowed_values: ['a'] },
      'default_value',
      "default_value element 'z' is not in allowed_values",
    ],
  ];
  it.each(cases)('%j → %s', (over, field, message) => {
    expect(() => checkDefinitionRule(def(over))).toThrow(message);
    expect(() => checkDefinitionRule(def(over))).toThrow(expect.objectContaining({ field }));
  });
  it('accepts valid definitions', () => {
    expect(() => checkDefinitionRule(def({}))).not.toThrow();
    expect(() => checkDefinitionRule(def({ key: 'roles', entity_type: 'table' }))).not.toThrow();
    expect(() =>
      checkDefinitionRule(def({ value_type: 'list', default_value: '["a"]', allowed_values: ['a', 'b'] })),
    ).not.toThrow();
    expect(() => checkDefinitionRule(def({ value_type: 'boolean', default_value: 'false' }))).not.toThrow();
  });
});

describe('user attribute values (§4.3 PUT)', () => {
  const defs = [
    { key: 'tenant', value_type: 'string', allowed_values: [] },
    { key: 'level', value_type: 'integer', allowed_values: null },
    { key: 'depts', value_type: 'list', allowed_values: ['eng', 'sec'] },
  ];
  it.each([
    [{ other: 'x' }, "Unknown attribute key 'other'. Define it first via attribute definitions."],
    [{ depts: 'eng' }, "Attribute 'depts' has type 'list' — value must be a JSON array"],
    [{ depts: ['eng', 3] }, "Invalid value for attribute 'depts': list element at index 1 is not a string"],
    [
      { depts: ['eng', 'ops'] },
      `List element 'ops' for attribute 'depts' is not in allowed values: ["eng", "sec"]`,
    ],
    [{ level: 5 }, "Attribute 'level' has type 'integer' — value must be a string"],
    [{ level: 'five' }, "Invalid value for attribute 'level': 'five' is not a valid integer"],
  ])('%j → %s', (attributes, message) => {
    expect(() => validateUserAttributes(defs, attributes)).toThrow(message);
  });
  it('accepts valid maps; an empty allowed list is no constraint', () => {
    const attrs = { tenant: 'anything', level: '-3', depts: ['sec'] };
    expect(validateUserAttributes(defs, attrs)).toEqual(attrs);
    expect(validateUserAttributes(defs, {})).toEqual({});
  });
});

describe('name rules', () => {
  it('usernames', () => {
    expect(checkUsernameRule('al')).toBe('Username must be between 3 and 50 characters');
    expect(checkUsernameRule('a'.repeat(51))).toBe('Username must be between 3 and 50 characters');
    expect(checkUsernameRule('_alice')).toBe('Username must start with a letter');
    expect(checkUsernameRule('al ice')).toBe(
      'Username may only contain letters, digits, underscores, dots, and hyphens',
    );
    expect(checkUsernameRule('a.l-i_c3')).toBeNull();
  });
  it('role names', () => {
    expect(checkRoleNameRule('9lives')).toBe('Role name must start with a letter');
    expect(checkRoleNameRule('data.eng-team_1')).toBeNull();
  });
});
