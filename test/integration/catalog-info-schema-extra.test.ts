/**
 * The information_schema views beyond the original list (info-schema-types.ts,
 * info-schema-usage.ts, info-schema-privileges.ts), through the rewriter on
 * PostgreSQL 15 and 18 (threat model F2, V103–V106, V110).
 *
 * The security fixture (fixture.ts) gets extra objects: a plain table
 * `products` (serial, named CHECK, domain, composite and enum columns, two of
 * them denied), a denied table `vault` with a CHECK of the same name and a
 * foreign key to products, a filtered table `tenants_list` whose domain has a
 * CHECK and default naming tenants, views over visible, hidden and denied
 * objects, a trigger, a user function, a collation in the hidden schema and
 * an upstream role holding grants. For alice every view shows the visible
 * objects with the values the real view has, and none of the hidden ones;
 * for a user without policies the filtered views equal the real ones.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CatalogSchemaInput } from '../../src/policy/inputs.js';
import { describeEachUpstream, serverUrl, type Upstream } from '../support/postgres.js';
import {
  alicePolicies,
  CATALOG,
  loadParsers,
  openSecurityDb,
  outcomeText,
  policy,
  resolve,
  type Outcome,
  type SecurityDb,
} from '../security/fixture.js';

const SECRET = 'VAULTSECRETVALUE';
const cols = (...spec: [string, string][]) =>
  spec.map(([name, udtName], i) => ({ name, udtName, ordinal: i + 1 }));

const EXTRA_CATALOG: CatalogSchemaInput[] = CATALOG.map((s) =>
  s.name !== 'public'
    ? s
    : {
        ...s,
        tables: [
          ...s.tables,
          {
            name: 'products',
            tableType: 'TABLE',
            columns: cols(
              ['id', 'int4'],
              ['name', 'text'],
              ['price', 'numeric'],
              ['qty', 'positive_int'],
              ['size', 'dims'],
              ['secret_note', 'secret_code'],
              ['hidden_kind', 'secret_kind'],
            ),
          },
          {
            name: 'product_parts',
            tableType: 'TABLE',
            columns: cols(['id', 'int4'], ['product_id', 'int4']),
          },
          {
            name: 'vault',
            tableType: 'TABLE',
            columns: cols(['id', 'int8'], ['code', 'text'], ['product_id', 'int4'], ['meta', 'vault_meta']),
          },
          { name: 'tenants_list', tableType: 'TABLE', columns: cols(['id', 'int4'], ['org', 'tenant_name']) },
          { name: 'product_names', tableType: 'VIEW', columns: cols(['id', 'int4'], ['name', 'text']) },
          {
            name: 'product_secrets',
            tableType: 'VIEW',
            columns: cols(['id', 'int4'], ['secret_note', 'text']),
          },
          { name: 'locked_view', tableType: 'VIEW', columns: cols(['id', 'int8'], ['one', 'int4']) },
        ],
      },
);

const extraSchema = (role: string) => `
  CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
  CREATE DOMAIN tenant_name AS text DEFAULT 'acme' CHECK (VALUE <> 'globex');
  CREATE DOMAIN secret_code AS text CHECK (VALUE <> '${SECRET}');
  CREATE TYPE secret_kind AS ENUM ('alpha', 'beta');
  CREATE TYPE dims AS (width int, height int, kind secret_kind);
  CREATE TYPE vault_meta AS (vault_label text);
  CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL,
    price numeric CONSTRAINT price_positive CHECK (price > 0), qty positive_int, size dims,
    secret_note secret_code, hidden_kind secret_kind);
  CREATE TABLE vault (id bigserial PRIMARY KEY, code text CONSTRAINT price_positive CHECK (code <> '${SECRET}'),
    product_id int CONSTRAINT product_ref REFERENCES products, meta vault_meta);
  CREATE SEQUENCE vault_extra_seq;
  CREATE TABLE product_parts (id int PRIMARY KEY, product_id int REFERENCES products);
  CREATE TABLE tenants_list (id int CONSTRAINT product_ref PRIMARY KEY, org tenant_name);
  CREATE FUNCTION vault_fn(vault_arg int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT vault_arg';
  CREATE FUNCTION vault_trigger_fn() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
  CREATE TRIGGER vault_trigger BEFORE INSERT ON products FOR EACH ROW EXECUTE FUNCTION vault_trigger_fn();
  CREATE VIEW product_names AS SELECT id, name FROM products;
  CREATE VIEW product_secrets AS SELECT id, secret_note FROM products;
  CREATE VIEW locked_view AS SELECT id, vault_fn(1) AS one FROM vault;
  CREATE COLLATION public.visible_coll FROM "C";
  CREATE COLLATION analytics.vault_coll FROM "C";
  GRANT SELECT, INSERT ON products, customers TO ${role};
  GRANT USAGE ON DOMAIN positive_int TO ${role};
  GRANT ${role} TO CURRENT_USER;
`;

function alice() {
  return resolve({
    catalog: EXTRA_CATALOG,
    policies: [
      ...alicePolicies(),
      policy('deny-vault', 'table_deny', [{ schemas: ['public'], tables: ['vault'] }]),
      policy('deny-product-secrets', 'column_deny', [
        {
          schemas: ['public'],
          tables: ['products', 'product_secrets'],
          columns: ['secret_note', 'hidden_kind'],
        },
      ]),
      policy('tenant-list', 'row_filter', [{ schemas: ['public'], tables: ['tenants_list'] }], {
        filter_expression: 'org = {user.tenant}',
      }),
    ],
  });
}
const open = () => resolve({ catalog: EXTRA_CATALOG, policies: [] });

describeEachUpstream('information_schema views beyond the base list', (upstream: Upstream) => {
  let db: SecurityDb;
  const role = `upstream_reader_${randomBytes(4).toString('hex')}`;
  const rows = (o: Outcome): unknown[][] => {
    expect(o).toHaveProperty('rows');
    return (o as { rows: string[] }).rows.map((r) => JSON.parse(r) as unknown[]);
  };
  /** alice's rows of `sql`, after checking they hold no hidden name, canary or upstream role. */
  const asAlice = async (sql: string): Promise<unknown[][]> => {
    const got = await db.run(sql, alice());
    const text = outcomeText(got);
    expect(db.leaks(got), sql).toEqual([]);
    for (const hidden of [
      SECRET,
      'vault',
      'secret_',
      'hidden_kind',
      'salaries',
      'credit_card',
      'analytics',
      role,
    ])
      expect(text, `${sql}: ${hidden}`).not.toContain(hidden);
    expect(text, sql).not.toContain(db.client.database!);
    return rows(got);
  };
  /** The real view's rows, with the upstream database name as alice sees it. */
  const direct = async (sql: string): Promise<unknown[][]> =>
    rows(await db.exec(sql)).map((r) =>
      JSON.parse(JSON.stringify(r).replaceAll(db.client.database!, 'shop')),
    );

  beforeAll(async () => {
    await loadParsers();
    db = await openSecurityDb(upstream, alice);
    await db.client.query(`CREATE ROLE ${role}`);
    await db.client.query(extraSchema(role));
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    const admin = new pg.Client({ connectionString: serverUrl('postgres', upstream) });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
  });

  it('sequences: the visible table serial is shown as the real view shows it; the hidden ones are not', async () => {
    const sql = "SELECT * FROM information_schema.sequences WHERE sequence_schema = 'public'";
    expect(await asAlice(sql)).toEqual(await direct(`${sql} AND sequence_name = 'products_id_seq'`));
    expect((await direct(sql)).length).toBe(3);
  });

  it('check_constraints: visible CHECKs and NOT NULLs with their clause; not a hidden table’s same-named CHECK', async () => {
    const sql =
      "SELECT * FROM information_schema.check_constraints WHERE constraint_schema IN ('public', 'information_schema')";
    const got = await asAlice(sql);
    const real = await direct(sql);
    const clause = (name: string) => real.filter((r) => r[2] === name).map((r) => r[3]);
    expect(clause('price_positive')).toHaveLength(2);
    expect(got.filter((r) => r[2] === 'price_positive')).toEqual([
      ['shop', 'public', 'price_positive', clause('price_positive').find((c) => !String(c).includes(SECRET))],
    ]);
    expect(got.map((r) => r[2])).toContain('positive_int_check');
    expect(got.map((r) => r[2])).toContain('yes_or_no_check');
    // tenant_name is used by a filtered table: its CHECK (which names a tenant) stays hidden.
    expect(got.map((r) => r[2])).not.toContain('tenant_name_check');
    // NOT NULL of products.name: a pg_constraint row on 18, a pseudo-constraint on 15.
    expect(got.map((r) => r[3])).toContain('name IS NOT NULL');
    expect(got.every((r) => real.some((x) => JSON.stringify(x) === JSON.stringify(r)))).toBe(true);
    expect(rows(await db.run(sql, open())).sort()).toEqual(real.sort());
  });

  it('table_constraints shows the NOT NULLs of visible columns on every version', async () => {
    const got = await asAlice(
      "SELECT constraint_type FROM information_schema.table_constraints WHERE table_name = 'products'",
    );
    expect(got.filter((r) => r[0] === 'CHECK')).toHaveLength(3); // price_positive, name, id NOT NULL
  });

  it('domains and domain_constraints: visible domains, defaults and constraints only where they may be shown', async () => {
    const domains = await asAlice(
      'SELECT domain_catalog, domain_schema, domain_name, data_type, domain_default FROM information_schema.domains',
    );
    const names = domains.map((r) => r[2]);
    expect(names).toEqual(
      expect.arrayContaining(['positive_int', 'tenant_name', 'cardinal_number', 'yes_or_no']),
    );
    expect(domains).toContainEqual(['shop', 'public', 'positive_int', 'integer', null]);
    // tenant_name's default names a tenant and the table using it is filtered: hidden (the real view has it).
    expect(domains).toContainEqual(['shop', 'public', 'tenant_name', 'text', null]);
    expect(
      await direct("SELECT domain_default FROM information_schema.domains WHERE domain_name = 'tenant_name'"),
    ).toEqual([["'acme'::text"]]);
    const constraints = await asAlice(
      'SELECT constraint_name, domain_name FROM information_schema.domain_constraints',
    );
    expect(constraints).toContainEqual(['positive_int_check', 'positive_int']);
    expect(constraints).toContainEqual(['cardinal_number_domain_check', 'cardinal_number']);
    expect(constraints.map((r) => r[0])).not.toContain('tenant_name_check');
    const usage = await asAlice(
      "SELECT udt_name, domain_name FROM information_schema.domain_udt_usage WHERE domain_schema = 'public'",
    );
    expect(usage.sort()).toEqual([
      ['int4', 'positive_int'],
      ['text', 'tenant_name'],
    ]);
    for (const v of ['domains', 'domain_constraints', 'domain_udt_usage']) {
      const sql = `SELECT * FROM information_schema.${v}`;
      expect(rows(await db.run(sql, open())).sort(), v).toEqual((await direct(sql)).sort());
    }
  });

  it('column_domain_usage and column_udt_usage: visible columns with visible types only', async () => {
    expect(
      await asAlice(
        "SELECT domain_name, table_name, column_name FROM information_schema.column_domain_usage WHERE table_schema = 'public'",
      ),
    ).toEqual(
      [
        ['positive_int', 'products', 'qty'],
        ['tenant_name', 'tenants_list', 'org'],
      ].sort(),
    );
    const udt = await asAlice(
      "SELECT udt_catalog, udt_schema, udt_name, table_catalog, table_schema, column_name FROM information_schema.column_udt_usage WHERE table_name = 'products'",
    );
    expect(udt.sort()).toEqual([
      ['shop', 'pg_catalog', 'int4', 'shop', 'public', 'id'],
      ['shop', 'pg_catalog', 'int4', 'shop', 'public', 'qty'],
      ['shop', 'pg_catalog', 'numeric', 'shop', 'public', 'price'],
      ['shop', 'pg_catalog', 'text', 'shop', 'public', 'name'],
      ['shop', 'public', 'dims', 'shop', 'public', 'size'],
    ]);
    for (const v of ['column_domain_usage', 'column_udt_usage']) {
      const sql = `SELECT * FROM information_schema.${v} WHERE table_schema = 'public'`;
      expect(rows(await db.run(sql, open())).sort(), v).toEqual((await direct(sql)).sort());
    }
  });

  it('attributes and user_defined_types: visible composite types, without attributes of hidden types', async () => {
    const sql = "SELECT * FROM information_schema.attributes WHERE udt_schema = 'public'";
    const got = await asAlice(sql);
    expect(got.map((r) => r[3]).sort()).toEqual(['height', 'width']);
    expect(got).toEqual(
      expect.arrayContaining(await direct(`${sql} AND attribute_name IN ('width', 'height')`)),
    );
    expect(
      await asAlice(
        "SELECT user_defined_type_name FROM information_schema.user_defined_types WHERE user_defined_type_schema = 'public'",
      ),
    ).toEqual([['dims']]);
    expect(
      await direct(
        "SELECT count(*)::int FROM information_schema.user_defined_types WHERE user_defined_type_schema = 'public'",
      ),
    ).toEqual([[2]]);
  });

  it('collations: built-ins and those of visible schemas, as the real view has them', async () => {
    for (const v of ['collations', 'collation_character_set_applicability']) {
      const got = await asAlice(
        `SELECT * FROM information_schema.${v} WHERE collation_name IN ('C', 'POSIX', 'visible_coll', 'vault_coll')`,
      );
      expect(got.map((r) => r[2]).sort(), v).toEqual(['C', 'POSIX', 'visible_coll']);
      const sql = `SELECT * FROM information_schema.${v} WHERE collation_schema <> 'analytics'`;
      expect(rows(await db.run(sql, alice())).length, v).toBe((await direct(sql)).length);
    }
  });

  it('parameters: exactly the built-in routines’ parameters', async () => {
    const sql = 'SELECT * FROM information_schema.parameters';
    const got = await asAlice(sql);
    expect(got.length).toBeGreaterThan(1000);
    expect(got).toEqual(await direct(`${sql} WHERE specific_schema = 'pg_catalog'`));
    expect((await direct(sql)).some((r) => r[7] === 'vault_arg')).toBe(true);
  });

  it('triggers, routine usage and role membership are empty; enabled_roles is the Rowgate user', async () => {
    expect((await direct('SELECT * FROM information_schema.triggers')).length).toBeGreaterThan(0);
    expect((await direct('SELECT * FROM information_schema.applicable_roles')).length).toBeGreaterThan(0);
    for (const v of [
      'triggers',
      'triggered_update_columns',
      'applicable_roles',
      'administrable_role_authorizations',
      'routine_table_usage',
      'routine_column_usage',
      'routine_routine_usage',
      'routine_sequence_usage',
      'check_constraint_routine_usage',
    ])
      expect(await asAlice(`SELECT * FROM information_schema.${v}`), v).toEqual([]);
    expect(await asAlice('SELECT * FROM information_schema.enabled_roles')).toEqual([['alice']]);
    expect(await asAlice('SELECT * FROM information_schema.information_schema_catalog_name')).toEqual([
      ['shop'],
    ]);
  });

  it('table and column privileges: SELECT on each visible table and column, granted by and to the Rowgate user', async () => {
    const visible = [
      'customers',
      'employees',
      'locked_view',
      'orders',
      'payments',
      'product_names',
      'product_parts',
      'product_secrets',
      'products',
      'tenants_list',
    ];
    for (const v of ['table_privileges', 'role_table_grants']) {
      const got = await asAlice(`SELECT * FROM information_schema.${v}`);
      expect(got, v).toEqual(
        visible.map((t) => ['alice', 'alice', 'shop', 'public', t, 'SELECT', 'NO', 'YES']),
      );
    }
    for (const v of ['column_privileges', 'role_column_grants']) {
      const got = await asAlice(
        `SELECT * FROM information_schema.${v} WHERE table_name IN ('products', 'customers')`,
      );
      expect(got.map((r) => `${r[4]}.${r[5]}`).sort(), v).toEqual(
        [
          'customers.email',
          'customers.id',
          'customers.name',
          'customers.org',
          'customers.phone',
          'customers.referrer_id',
          'customers.ssn',
          'products.id',
          'products.name',
          'products.price',
          'products.qty',
          'products.size',
        ].sort(),
      );
      expect(new Set(got.map((r) => `${r[0]} ${r[1]} ${r[2]} ${r[3]} ${r[6]} ${r[7]}`)), v).toEqual(
        new Set(['alice alice shop public SELECT NO']),
      );
    }
    // The upstream has grants to another role: never shown.
    expect(
      (await direct(`SELECT * FROM information_schema.table_privileges WHERE grantee = '${role}'`)).length,
    ).toBe(4);
  });

  it('usage_privileges: USAGE on visible domains and collations only', async () => {
    for (const v of ['usage_privileges', 'role_usage_grants']) {
      const got = await asAlice(`SELECT * FROM information_schema.${v} WHERE object_schema <> 'pg_catalog'`);
      expect(got.sort(), v).toEqual([
        ['alice', 'alice', 'shop', 'information_schema', 'cardinal_number', 'DOMAIN', 'USAGE', 'NO'],
        ['alice', 'alice', 'shop', 'information_schema', 'character_data', 'DOMAIN', 'USAGE', 'NO'],
        ['alice', 'alice', 'shop', 'information_schema', 'sql_identifier', 'DOMAIN', 'USAGE', 'NO'],
        ['alice', 'alice', 'shop', 'information_schema', 'time_stamp', 'DOMAIN', 'USAGE', 'NO'],
        ['alice', 'alice', 'shop', 'information_schema', 'yes_or_no', 'DOMAIN', 'USAGE', 'NO'],
        ['alice', 'alice', 'shop', 'public', 'positive_int', 'DOMAIN', 'USAGE', 'NO'],
        ['alice', 'alice', 'shop', 'public', 'tenant_name', 'DOMAIN', 'USAGE', 'NO'],
        ['alice', 'alice', 'shop', 'public', 'visible_coll', 'COLLATION', 'USAGE', 'NO'],
      ]);
      expect(
        await asAlice(`SELECT count(*)::int FROM information_schema.${v} WHERE object_name = 'C'`),
      ).toEqual([[1]]);
    }
  });

  it('view usage: only views whose definition is shown, over visible objects', async () => {
    expect(
      await asAlice(
        'SELECT view_catalog, view_schema, view_name, table_catalog, table_schema, table_name FROM information_schema.view_table_usage',
      ),
    ).toEqual([['shop', 'public', 'product_names', 'shop', 'public', 'products']]);
    expect(
      await asAlice('SELECT view_name, table_name, column_name FROM information_schema.view_column_usage'),
    ).toEqual([
      ['product_names', 'products', 'id'],
      ['product_names', 'products', 'name'],
    ]);
    expect(await asAlice('SELECT * FROM information_schema.view_routine_usage')).toEqual([]);
    expect(
      (
        await direct(
          "SELECT * FROM information_schema.view_routine_usage WHERE specific_name LIKE 'vault_fn%'",
        )
      ).length,
    ).toBe(1);
    // For a user without policies: upstream's rows, except locked_view's — its definition calls the
    // user function vault_fn, so it is hidden (visible.ts) and so is what it uses.
    for (const v of ['view_table_usage', 'view_column_usage']) {
      const sql = `SELECT * FROM information_schema.${v} WHERE view_schema = 'public'`;
      const upstream = await direct(`${sql} AND view_name <> 'locked_view'`);
      expect(upstream.length, v).toBeGreaterThan(0);
      expect(rows(await db.run(sql, open())).sort(), v).toEqual(upstream.sort());
    }
  });

  it('constraint_table_usage: visible constraints and the visible table each uses', async () => {
    const got = await asAlice(
      "SELECT table_name, constraint_name FROM information_schema.constraint_table_usage WHERE table_name = 'products'",
    );
    // A foreign key uses the table it references: the hidden vault's key to products stays hidden,
    // although tenants_list's visible primary key has the same name.
    expect(got).toEqual([
      ['products', 'product_parts_product_id_fkey'],
      ['products', 'products_pkey'],
    ]);
    expect(
      (await direct("SELECT * FROM information_schema.constraint_table_usage WHERE table_name = 'products'"))
        .length,
    ).toBe(3);
    // The base views that pair a constraint name with a table or key follow the same rule.
    expect(
      await asAlice(
        "SELECT constraint_name, column_name FROM information_schema.constraint_column_usage WHERE table_name = 'products'",
      ),
    ).toEqual([
      ['price_positive', 'price'],
      ['product_parts_product_id_fkey', 'id'],
      // PostgreSQL 17+ has NOT NULL constraints in pg_constraint; 15 does not list them here.
      ...(upstream === 'postgres'
        ? [
            ['products_id_not_null', 'id'],
            ['products_name_not_null', 'name'],
          ]
        : []),
      ['products_pkey', 'id'],
    ]);
    expect(
      await asAlice(
        'SELECT constraint_name, unique_constraint_name FROM information_schema.referential_constraints',
      ),
    ).toEqual([['product_parts_product_id_fkey', 'products_pkey']]);
    expect(
      await direct(
        "SELECT constraint_name FROM information_schema.referential_constraints WHERE constraint_name = 'product_ref'",
      ),
    ).toEqual([['product_ref']]);
    for (const [v, schema] of [
      ['constraint_table_usage', 'table_schema'],
      ['constraint_column_usage', 'table_schema'],
      ['referential_constraints', 'constraint_schema'],
    ]) {
      const all = `SELECT * FROM information_schema.${v} WHERE ${schema} = 'public'`;
      expect(rows(await db.run(all, open())).sort(), v).toEqual((await direct(all)).sort());
    }
  });
});
