/**
 * Seeds the admin store for the demo: the `tenant` attribute, the demo users,
 * the `demo_ecommerce` data source (open mode) with its discovered catalog,
 * the demo policies of demo/policies.yaml with their assignments, and the
 * relationships and column anchors that carry the tenant filter to
 * `order_items` and `payments` (which have no `org` column).
 *
 * Everything goes through the repository functions the management API uses
 * — the policies through the policy YAML import — inside one audited
 * transaction, so the demo's admin audit log shows what was created and a
 * failure leaves nothing half-seeded.
 */
import pg from 'pg';
import { discoverWholeSchema } from '../catalog/discover.js';
import { importPoliciesInTransaction } from '../policy/yaml-import.js';
import type { SecretCipher } from '../secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../store/audited.js';
import type { Store } from '../store/db.js';
import { SYSTEM_ACTOR_ID, schemaId, tableId } from '../store/ids.js';
import { createAttributeDefinition } from '../store/repos/attributes.js';
import { findCatalogTable, saveCatalog } from '../store/repos/catalog.js';
import { createColumnAnchor } from '../store/repos/column-anchors.js';
import { setUserAccess } from '../store/repos/datasource-access.js';
import { createDataSource, findDataSourceByName } from '../store/repos/datasources.js';
import { createRelationship } from '../store/repos/relationships.js';
import { createUser, getUserByUsername, updateUser } from '../store/repos/users.js';
import { DEMO_DATABASE, DEMO_TENANTS } from './dataset.js';
import { readDemoPoliciesText } from './policies.js';

export const DEMO_USER_PASSWORD = 'Demo1234!';

/** alice → acme, bob → globex, charlie → stark (the documented demo accounts). */
export const DEMO_USERS: ReadonlyArray<{ username: string; tenant: string }> = [
  { username: 'alice', tenant: 'acme' },
  { username: 'bob', tenant: 'globex' },
  { username: 'charlie', tenant: 'stark' },
];

/** Child tables without `org` whose tenant comes from their order. */
const ANCHORED_TABLES = ['order_items', 'payments'] as const;

export interface DemoUpstream {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface DemoAdminSeedResult {
  /** False when the store already had the demo data source (nothing was written). */
  seeded: boolean;
  dataSourceId: string;
}

export async function seedDemoAdminStore(
  store: Store,
  cipher: SecretCipher,
  upstream: DemoUpstream,
): Promise<DemoAdminSeedResult> {
  const existing = await findDataSourceByName(store.db, DEMO_DATABASE);
  if (existing) return { seeded: false, dataSourceId: existing.id };

  const catalog = await readUpstreamCatalog(upstream);
  const policies = readDemoPoliciesText();
  const dataSourceId = await auditedTransaction(store, SYSTEM_ACTOR_ID, async (tx) => {
    const userIds = await seedUsers(tx);
    const dataSource = await createDataSource(tx, cipher, {
      name: DEMO_DATABASE,
      ds_type: 'postgres',
      config: {
        host: upstream.host,
        port: upstream.port,
        database: DEMO_DATABASE,
        username: upstream.user,
        password: upstream.password,
        sslmode: 'disable',
      },
      access_mode: 'open',
      grantCreator: false,
    });
    await setUserAccess(tx, dataSource.id, userIds);
    await saveCatalog(tx, dataSource.id, catalog.selection, catalog.columns);
    await seedAnchors(tx, dataSource.id);
    // The policy YAML import path (POST /policies/import), inside this transaction.
    await importPoliciesInTransaction(tx, policies);
    return dataSource.id;
  });
  return { seeded: true, dataSourceId };
}

async function seedUsers(tx: AuditedTx): Promise<string[]> {
  await createAttributeDefinition(tx, {
    key: 'tenant',
    entity_type: 'user',
    display_name: 'Tenant',
    value_type: 'string',
    allowed_values: [...DEMO_TENANTS],
    description: 'Organisation whose rows the user may see (demo row filter tenant-isolation)',
  });
  const ids: string[] = [];
  for (const { username, tenant } of DEMO_USERS) {
    const user =
      (await getUserByUsername(tx.db, username)) ??
      (await createUser(tx, { username, password: DEMO_USER_PASSWORD }));
    await updateUser(tx, user.id, { attributes: { tenant } });
    ids.push(user.id);
  }
  return ids;
}

/** Every table of the upstream's public schema, all columns selected. */
async function readUpstreamCatalog(upstream: DemoUpstream) {
  const client = new pg.Client({ ...upstream, database: DEMO_DATABASE });
  await client.connect();
  try {
    return await discoverWholeSchema(client, 'public');
  } finally {
    await client.end();
  }
}

/** `<child>.order_id → orders.id`, and an anchor resolving `org` through it. */
async function seedAnchors(tx: AuditedTx, dataSourceId: string): Promise<void> {
  const orders = await requireTable(tx, dataSourceId, 'orders');
  for (const child of ANCHORED_TABLES) {
    const childTable = await requireTable(tx, dataSourceId, child);
    const relationship = await createRelationship(tx, dataSourceId, {
      child_table_id: childTable,
      child_column_name: 'order_id',
      parent_table_id: orders,
      parent_column_name: 'id',
    });
    await createColumnAnchor(tx, dataSourceId, {
      child_table_id: childTable,
      resolved_column_name: 'org',
      relationship_id: relationship.id,
    });
  }
}

async function requireTable(tx: AuditedTx, dataSourceId: string, table: string): Promise<string> {
  const id = tableId(schemaId(dataSourceId, 'public'), table);
  if (!(await findCatalogTable(tx.db, id))) throw new Error(`demo upstream has no table public.${table}`);
  return id;
}
