/**
 * Policy YAML over HTTP (api-contract §7): `GET /policies/export` (not read
 * as a policy id), `POST /policies/import[?dry_run=true]` with the four YAML
 * content types, 415 for others, 400 for unusable documents, 422 with the
 * full report and nothing written, dry runs that write nothing, the audit
 * rows of a real import, and export → import round trips.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRowsOf } from '../support/api.js';
import { STORE_ENGINES } from '../support/stores.js';
import { openPolicyApi, type PolicyTestApi } from './api-policies-fixture.js';

const DOC = `version: 1
policies:
  - name: tenant-isolation
    policy_type: row_filter
    description: Rows of the tenant
    targets:
      - schemas: [public]
        tables: ["*"]
    definition:
      filter_expression: org = {user.tenant}
    assignments:
      - datasource: prod
      - datasource: prod
        user: bob
        priority: 50
  - name: hide-ssn
    policy_type: column_deny
    targets:
      - schemas: ["*"]
        tables: [customers]
        columns: [ssn]
`;

describe.each(STORE_ENGINES)('API policy YAML on %s', (engine) => {
  let api: PolicyTestApi;
  beforeEach(async () => {
    api = await openPolicyApi(engine);
    await api.seedDataSource('prod', { public: { orders: ['id', 'org'] } });
    await api.seedUser('bob');
  });
  afterEach(() => api.dispose());

  const importYaml = (body: string, query = '', type = 'text/plain') =>
    api.call('POST', `/api/v1/policies/import${query}`, { body, headers: { 'content-type': type } });
  const counts = async () => ({
    policies: (await api.store.db.selectFrom('policy').selectAll().execute()).length,
    assignments: (await api.store.db.selectFrom('policy_assignment').selectAll().execute()).length,
    audit: (await auditRowsOf(api.store, 'policy')).length,
  });

  it('exports an empty document, then every policy with assignments by name', async () => {
    const empty = await api.call('GET', '/api/v1/policies/export');
    expect([empty.status, empty.headers['content-type'], empty.text]).toEqual([
      200,
      'application/yaml; charset=utf-8',
      'version: 1\npolicies: []\n',
    ]);
    expect((await importYaml(DOC)).status).toBe(200);
    const full = await api.call('GET', '/api/v1/policies/export');
    expect(full.status).toBe(200);
    expect(full.text).toContain('name: hide-ssn');
    expect(full.text.indexOf('hide-ssn')).toBeLessThan(full.text.indexOf('tenant-isolation'));
    expect(full.text).toContain('user: bob');
    expect(full.text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/); // names, never ids
    expect(await auditRowsOf(api.store, 'policy')).toHaveLength(4); // export writes nothing

    const dry = await importYaml(full.text, '?dry_run=true');
    expect(dry.json.summary).toEqual({
      created: 0,
      updated: 0,
      unchanged: 2,
      assignments_added: 0,
      assignments_removed: 0,
    });
    const post = await api.call('POST', '/api/v1/policies/export');
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
  });

  it('imports all or nothing: created policies, assignments and their audit rows', async () => {
    const r = await importYaml(DOC, '', 'application/x-yaml; charset=utf-8');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      dry_run: false,
      summary: { created: 2, updated: 0, unchanged: 0, assignments_added: 2, assignments_removed: 0 },
      errors: [],
    });
    const byName = Object.fromEntries(r.json.policies.map((p: { name: string }) => [p.name, p]));
    expect(byName['tenant-isolation']).toMatchObject({ action: 'created', version: 3 });
    const stored = await api.call('GET', `/api/v1/policies/${byName['tenant-isolation'].id}`);
    expect(stored.json).toMatchObject({ version: 3, description: 'Rows of the tenant', assignment_count: 2 });
    const audit = await auditRowsOf(api.store, 'policy', byName['tenant-isolation'].id);
    expect(audit.map((a) => [a.action, a.actor_id])).toEqual([
      ['create', api.admin.id],
      ['assign', api.admin.id],
      ['assign', api.admin.id],
    ]);
    const again = await importYaml(DOC, '', 'text/yaml');
    expect([again.status, again.json.summary.unchanged]).toEqual([200, 2]);
    const yamlType = await importYaml(
      DOC.replace('Rows of the tenant', 'Tenant rows'),
      '',
      'application/yaml',
    );
    expect(yamlType.json.policies.find((p: { name: string }) => p.name === 'tenant-isolation')).toMatchObject(
      {
        action: 'updated',
        version: 4,
      },
    );
  });

  it('dry runs report without writing; entry errors are a 422 report with nothing written', async () => {
    const before = await counts();
    const dry = await importYaml(DOC, '?dry_run=true');
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({
      dry_run: true,
      summary: { created: 2, assignments_added: 2 },
      errors: [],
    });
    expect(dry.json.policies.every((p: { id: unknown }) => p.id === null)).toBe(true);
    expect(await counts()).toEqual(before);

    const broken = DOC.replace('user: bob', 'user: nobody').replace('org = {user.tenant}', 'upper(org) = 1');
    for (const query of ['', '?dry_run=true', '?dry_run=false']) {
      const r = await importYaml(broken, query);
      expect(r.status, query).toBe(422);
      expect(r.json.dry_run).toBe(query === '?dry_run=true');
      expect(r.json.errors).toEqual([
        {
          index: 0,
          name: 'tenant-isolation',
          field: 'definition.filter_expression',
          error: expect.stringMatching(/^Invalid filter expression: Function 'upper'/),
        },
        {
          index: 0,
          name: 'tenant-isolation',
          field: 'assignments[1].user',
          error: "User 'nobody' not found",
        },
      ]);
    }
    expect(await counts()).toEqual(before);
  });

  it('answers 400 for unusable documents, 415 for other content types, 400 for a bad dry_run', async () => {
    const cases: [string, string][] = [
      ['version: [', 'Invalid YAML: '],
      ['- 1', 'Policy document must be a YAML mapping'],
      ['policies: []', "Missing 'version' (must be 1)"],
      ['version: 2\npolicies: []', 'Unsupported policy document version 2 (must be 1)'],
      ['version: 1', "Missing 'policies'"],
      ['version: 1\npolicies: {}', "'policies' must be a list"],
      ['', 'Policy document must be a YAML mapping'],
    ];
    for (const [body, message] of cases) {
      const r = await importYaml(body);
      expect(r.status, body).toBe(400);
      expect(r.json.error.startsWith(message), `${body}: ${r.json.error}`).toBe(true);
    }
    const latin1 = await api.app.inject({
      method: 'POST',
      url: '/api/v1/policies/import',
      payload: Buffer.from('version: 1\npolicies: []\n# caf\xe9\n', 'latin1'),
      headers: { 'content-type': 'text/plain; charset=latin1', authorization: `Bearer ${api.token}` },
    });
    expect([latin1.statusCode, latin1.json()]).toEqual([
      400,
      { error: 'Invalid YAML: the document is not valid UTF-8' },
    ]);
    for (const type of ['application/json', '']) {
      const r = await importYaml(DOC, '', type);
      expect(r.status, type).toBe(415);
      expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    }
    const bad = await importYaml(DOC, '?dry_run=yes');
    expect([bad.status, bad.text]).toEqual([
      400,
      'Failed to deserialize query string: dry_run: provided string was not `true` or `false`',
    ]);
    expect(await counts()).toEqual({ policies: 0, assignments: 0, audit: 0 });
  });
});
