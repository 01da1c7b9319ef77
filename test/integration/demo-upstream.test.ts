import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TENANTS, luhnCheckDigit } from '../../src/demo/dataset.js';
import { buildDemoDataset, ensureDemoDatabase, seedDemoUpstream } from '../../src/demo/upstream-seed.js';
import { createTestDatabase, dropTestDatabase, serverUrl } from '../support/postgres.js';

const databases: string[] = [];
const clients: pg.Client[] = [];

async function freshClient(): Promise<pg.Client> {
  const { name, url } = await createTestDatabase('demo');
  databases.push(name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  clients.push(client);
  return client;
}

async function scalar<T>(client: pg.ClientBase, sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await client.query(sql, params);
  return Object.values(rows[0] as object)[0] as T;
}

const CUSTOMERS_CHECKSUM = `SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM customers c`;

afterAll(async () => {
  for (const client of clients) await client.end();
  for (const name of databases) await dropTestDatabase(name);
});

describe('demo upstream seed', () => {
  let db: pg.Client;
  beforeAll(async () => {
    db = await freshClient();
    const summary = await seedDemoUpstream(db);
    expect(summary.rows).toMatchObject({ organizations: 3, customers: 30, products: 60, orders: 102 });
    expect(summary.rows.support_tickets).toBe(150);
    expect(summary.rows.internal_metrics).toBe(10);
  });

  it('has the documented tables and columns in public', async () => {
    const { rows } = await db.query<{ table_name: string; columns: string }>(
      `SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) AS columns
         FROM information_schema.columns WHERE table_schema = 'public' GROUP BY table_name ORDER BY table_name`,
    );
    const ts = 'timestamp with time zone';
    expect(Object.fromEntries(rows.map((r) => [r.table_name, r.columns]))).toEqual({
      customers: `id uuid, org text, first_name text, last_name text, email text, phone text, ssn text, credit_card text, created_at ${ts}`,
      internal_metrics: `metric text, value numeric, recorded_at ${ts}`,
      order_items: `id uuid, order_id uuid, product_id uuid, quantity integer, unit_price numeric, created_at ${ts}`,
      orders: `id uuid, org text, customer_id uuid, status text, total_amount numeric, created_at ${ts}, updated_at ${ts}`,
      organizations: `name text, created_at ${ts}`,
      payments: `id uuid, order_id uuid, amount numeric, payment_method text, status text, processed_at ${ts}, created_at ${ts}`,
      products: `id uuid, org text, name text, description text, price numeric, cost_price numeric, margin numeric, created_at ${ts}`,
      support_tickets: `id uuid, org text, customer_id uuid, subject text, status text, created_at ${ts}`,
    });
  });

  it('has 10 customers, 20 products, 34 orders and 50 tickets per tenant', async () => {
    const { rows } = await db.query(
      `SELECT o.name,
              (SELECT count(*)::int FROM customers WHERE org = o.name) AS customers,
              (SELECT count(*)::int FROM products WHERE org = o.name) AS products,
              (SELECT count(*)::int FROM orders WHERE org = o.name) AS orders,
              (SELECT count(*)::int FROM support_tickets WHERE org = o.name) AS tickets
         FROM organizations o ORDER BY o.name`,
    );
    expect(rows).toEqual(
      DEMO_TENANTS.map((name) => ({ name, customers: 10, products: 20, orders: 34, tickets: 50 })),
    );
  });

  it('keeps order totals, item prices and payments consistent', async () => {
    const mismatched = await scalar<number>(
      db,
      `SELECT count(*)::int FROM orders o
        WHERE o.total_amount <> (SELECT sum(quantity * unit_price) FROM order_items WHERE order_id = o.id)`,
    );
    expect(mismatched).toBe(0);
    const itemCounts = await db.query(
      `SELECT min(n)::int AS min, max(n)::int AS max FROM (SELECT count(*) AS n FROM order_items GROUP BY order_id) x`,
    );
    expect(itemCounts.rows[0]).toEqual({ min: 1, max: 4 });
    expect(
      await scalar<number>(
        db,
        `SELECT count(*)::int FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items WHERE order_id = o.id)`,
      ),
    ).toBe(0);
    const wrongPrice = await scalar<number>(
      db,
      `SELECT count(*)::int FROM order_items i JOIN products p ON p.id = i.product_id JOIN orders o ON o.id = i.order_id
        WHERE i.unit_price <> p.price OR p.org <> o.org`,
    );
    expect(wrongPrice).toBe(0);
    // Exactly one payment, for the full amount, per paid order; none for pending/cancelled ones.
    const payments = await scalar<number>(
      db,
      `SELECT count(*)::int FROM orders o
        WHERE (SELECT count(*) FROM payments p WHERE p.order_id = o.id AND p.amount = o.total_amount)
           <> CASE WHEN o.status IN ('pending', 'cancelled') THEN 0 ELSE 1 END`,
    );
    expect(payments).toBe(0);
    expect(
      await scalar<number>(
        db,
        `SELECT count(*)::int FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.status IN ('pending','cancelled')`,
      ),
    ).toBe(0);
    const statuses = await db.query(`SELECT org, count(DISTINCT status)::int AS n FROM orders GROUP BY org`);
    for (const row of statuses.rows) expect(row.n).toBe(5);
  });

  it('enforces foreign keys and keeps references inside the tenant', async () => {
    const fks = await scalar<number>(
      db,
      `SELECT count(*)::int FROM information_schema.table_constraints
        WHERE table_schema = 'public' AND constraint_type = 'FOREIGN KEY'`,
    );
    expect(fks).toBe(9);
    await expect(
      db.query(
        `INSERT INTO payments (id, order_id, amount, payment_method, status) VALUES (gen_random_uuid(), gen_random_uuid(), 1, 'paypal', 'completed')`,
      ),
    ).rejects.toMatchObject({ code: '23503' });
    await expect(db.query(`UPDATE orders SET status = 'lost'`)).rejects.toMatchObject({
      code: '23514',
    });
    const crossTenant = await scalar<number>(
      db,
      `SELECT (SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.org <> o.org)
            + (SELECT count(*) FROM support_tickets t JOIN customers c ON c.id = t.customer_id WHERE c.org <> t.org)`,
    );
    expect(Number(crossTenant)).toBe(0);
  });

  it('gives payments and order_items no org column', async () => {
    const { rows } = await db.query(
      `SELECT table_name FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name = 'org' ORDER BY table_name`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(['customers', 'orders', 'products', 'support_tickets']);
  });

  it('refuses to seed over existing tables unless asked to drop them', async () => {
    const before = await scalar<string>(db, CUSTOMERS_CHECKSUM);
    await expect(seedDemoUpstream(db)).rejects.toMatchObject({ code: '42P07' });
    expect(await scalar<string>(db, CUSTOMERS_CHECKSUM)).toBe(before);
    await db.query(`DELETE FROM support_tickets`);
    const summary = await seedDemoUpstream(db, { dropExisting: true });
    expect(summary.rows.support_tickets).toBe(150);
    expect(await scalar<string>(db, CUSTOMERS_CHECKSUM)).toBe(before);
    expect(await scalar<number>(db, `SELECT count(*)::int FROM support_tickets`)).toBe(150);
  });
});

describe('demo data set', () => {
  it('is deterministic', async () => {
    expect(buildDemoDataset()).toEqual(buildDemoDataset());
    const [a, b] = [await freshClient(), await freshClient()];
    await seedDemoUpstream(a);
    await seedDemoUpstream(b);
    for (const table of ['customers', 'products', 'orders', 'order_items', 'payments', 'support_tickets']) {
      const checksum = `SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM ${table} t`;
      expect(await scalar<string>(a, checksum), table).toBe(await scalar<string>(b, checksum));
    }
  });

  it('has well-formed fake personal data', () => {
    const data = buildDemoDataset();
    const emails = new Set<string>();
    for (const c of data.customers) {
      expect(c.ssn).toMatch(/^\d{3}-\d{2}-\d{4}$/);
      expect(c.credit_card).toMatch(/^4111-\d{4}-\d{4}-\d{4}$/);
      const digits = c.credit_card.replaceAll('-', '');
      expect(luhnCheckDigit(digits.slice(0, 15))).toBe(Number(digits[15]));
      expect(c.phone).toMatch(/^\+1-555-\d{3}-\d{4}$/);
      expect(c.email).toBe(`${c.first_name}.${c.last_name}@${c.org}.example`.toLowerCase());
      emails.add(c.email);
    }
    expect(emails.size).toBe(30);
    expect(luhnCheckDigit('411111111111111')).toBe(1);
    for (const p of data.products) {
      expect(Number(p.cost_price)).toBeLessThan(Number(p.price));
      expect(p.margin).toMatch(/^0\.\d{4}$/);
    }
    const epoch = Date.UTC(2026, 0, 1);
    for (const o of data.orders) expect(Date.parse(o.updated_at)).toBeLessThan(epoch);
  });
});

describe('ensureDemoDatabase', () => {
  it('creates and seeds once, then leaves the data alone', async () => {
    const database = `demo_ensure_${process.pid}`;
    databases.push(database);
    const first = await ensureDemoDatabase(serverUrl(), { database });
    expect(first).toMatchObject({
      createdDatabase: true,
      seeded: true,
      summary: { rows: { customers: 30 } },
    });
    expect(first.url.endsWith(`/${database}`)).toBe(true);

    const client = new pg.Client({ connectionString: first.url });
    await client.connect();
    clients.push(client);
    await client.query(`UPDATE customers SET first_name = 'Changed' WHERE email LIKE '%@acme.example'`);
    const before = await scalar<string>(client, CUSTOMERS_CHECKSUM);

    const second = await ensureDemoDatabase(serverUrl(), { database });
    expect(second).toEqual({ url: first.url, createdDatabase: false, seeded: false, summary: null });
    expect(await scalar<string>(client, CUSTOMERS_CHECKSUM)).toBe(before);
  });

  it('seeds exactly once when called concurrently', async () => {
    const database = `demo_race_${process.pid}`;
    databases.push(database);
    const results = await Promise.all([1, 2, 3].map(() => ensureDemoDatabase(serverUrl(), { database })));
    expect(results.filter((r) => r.seeded)).toHaveLength(1);
    expect(results.filter((r) => r.createdDatabase)).toHaveLength(1);
  });
});
