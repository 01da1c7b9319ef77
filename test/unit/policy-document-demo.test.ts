import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEMO_POLICIES_PATH, loadDemoPolicies } from '../../src/demo/policies.js';
import { parsePolicyDocument, serializePolicyDocument } from '../../src/policy/document.js';

const text = readFileSync(new URL('../../demo/policies.yaml', import.meta.url), 'utf8');

describe('demo/policies.yaml', () => {
  const result = parsePolicyDocument(text);

  it('is a valid policy document', () => {
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.errors).toEqual([]);
  });

  it('holds exactly the six documented demo policies', () => {
    if (!result.ok) throw new Error(result.error);
    const all = [{ datasource: 'demo_ecommerce', scope: 'all', user: null, role: null, priority: 100 }];
    const summary = result.document.policies.map((p) => [p.name, p.policy_type, p.assignments]);
    expect(summary).toEqual([
      ['tenant-isolation', 'row_filter', all],
      ['mask-ssn-partial', 'column_mask', all],
      ['mask-ssn-full', 'column_mask', []],
      ['hide-credit-card', 'column_deny', all],
      ['hide-product-financials', 'column_deny', all],
      ['admin-full-access', 'column_allow', []],
    ]);
  });

  it('targets and definitions match the demo schema reference', () => {
    if (!result.ok) throw new Error(result.error);
    const byName = new Map(result.document.policies.map((p) => [p.name, p]));
    expect(byName.get('tenant-isolation')).toMatchObject({
      targets: [
        { schemas: ['public'], tables: ['customers', 'orders', 'products', 'support_tickets'] },
        { schemas: ['public'], tables: ['order_items', 'payments'] },
      ],
      definition: { filter_expression: 'org = {user.tenant}' },
    });
    expect(byName.get('mask-ssn-partial')).toMatchObject({
      targets: [{ schemas: ['public'], tables: ['customers'], columns: ['ssn'] }],
      definition: { mask_expression: `'***-**-' || RIGHT(ssn, 4)` },
    });
    expect(byName.get('mask-ssn-full')?.definition).toEqual({ mask_expression: `'[RESTRICTED]'` });
    expect(byName.get('hide-credit-card')?.targets).toEqual([
      { schemas: ['public'], tables: ['customers'], columns: ['credit_card'] },
    ]);
    expect(byName.get('hide-product-financials')?.targets).toEqual([
      { schemas: ['public'], tables: ['products'], columns: ['cost_price', 'margin'] },
    ]);
    expect(byName.get('admin-full-access')).toMatchObject({
      targets: [{ schemas: ['*'], tables: ['*'], columns: ['*'] }],
      definition: null,
    });
    for (const policy of result.document.policies) expect(policy.is_enabled).toBe(true);
  });

  it('survives an export/import round trip', () => {
    if (!result.ok) throw new Error(result.error);
    expect(parsePolicyDocument(serializePolicyDocument(result.document))).toEqual(result);
  });

  it('is what loadDemoPolicies returns', () => {
    expect(DEMO_POLICIES_PATH.endsWith('demo/policies.yaml')).toBe(true);
    if (result.ok) expect(loadDemoPolicies()).toEqual(result.document);
  });
});
