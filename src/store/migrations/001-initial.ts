/**
 * The initial schema: one table per entity of the management API
 * (api-contract §5). Written once with Kysely's schema builder and only
 * engine-neutral types (text, integer), so SQLite and PostgreSQL get the same
 * tables, constraints and indexes. Forward-only: there is no `down`.
 * Primary keys say NOT NULL explicitly: SQLite would otherwise accept NULL ids.
 */
import { sql, type Kysely, type CreateTableBuilder } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema
type Db = Kysely<any>;

const flag = (t: CreateTableBuilder<string>, name: string, dflt: 0 | 1) =>
  t.addColumn(name, 'integer', (c) => c.notNull().defaultTo(dflt));

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('proxy_user')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('scram_verifier', 'text', (c) => c.notNull())
    .$call((t) => flag(t, 'is_admin', 0))
    .$call((t) => flag(t, 'is_active', 1))
    .addColumn('email', 'text')
    .addColumn('display_name', 'text')
    .addColumn('attributes', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('last_login_at', 'text')
    .addColumn('password_changed_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('role')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text')
    .$call((t) => flag(t, 'is_active', 1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('role_member')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('role_id', 'text', (c) => c.notNull().references('role.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('proxy_user.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('role_member_role_user_uq', ['role_id', 'user_id'])
    .execute();
  await db.schema.createIndex('role_member_user_idx').on('role_member').column('user_id').execute();

  await db.schema
    .createTable('role_inheritance')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('parent_role_id', 'text', (c) => c.notNull().references('role.id').onDelete('cascade'))
    .addColumn('child_role_id', 'text', (c) => c.notNull().references('role.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('role_inheritance_uq', ['parent_role_id', 'child_role_id'])
    .addCheckConstraint('role_inheritance_not_self', sql`parent_role_id <> child_role_id`)
    .execute();

  await db.schema
    .createTable('data_source')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('ds_type', 'text', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('secure_config', 'text', (c) => c.notNull().defaultTo(''))
    .$call((t) => flag(t, 'is_active', 1))
    .addColumn('access_mode', 'text', (c) =>
      c
        .notNull()
        .defaultTo('policy_required')
        .check(sql`access_mode IN ('open', 'policy_required')`),
    )
    .addColumn('last_sync_at', 'text')
    .addColumn('last_sync_result', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('data_source_access')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('user_id', 'text')
    .addColumn('role_id', 'text')
    .addColumn('data_source_id', 'text', (c) => c.notNull().references('data_source.id').onDelete('cascade'))
    .addColumn('assignment_scope', 'text', (c) =>
      c
        .notNull()
        .defaultTo('user')
        .check(sql`assignment_scope IN ('user', 'role', 'all')`),
    )
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  // NULLs are distinct in a plain unique index; coalescing makes scope `all` unique too.
  await sql`CREATE UNIQUE INDEX data_source_access_uq ON data_source_access
      (assignment_scope, COALESCE(user_id, ''), COALESCE(role_id, ''), data_source_id)`.execute(db);

  await db.schema
    .createTable('discovered_schema')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('data_source_id', 'text', (c) => c.notNull().references('data_source.id').onDelete('cascade'))
    .addColumn('schema_name', 'text', (c) => c.notNull())
    .addColumn('schema_alias', 'text')
    .$call((t) => flag(t, 'is_selected', 0))
    .addColumn('discovered_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('discovered_schema_uq', ['data_source_id', 'schema_name'])
    .execute();

  await db.schema
    .createTable('discovered_table')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('discovered_schema_id', 'text', (c) =>
      c.notNull().references('discovered_schema.id').onDelete('cascade'),
    )
    .addColumn('table_name', 'text', (c) => c.notNull())
    .addColumn('table_type', 'text', (c) => c.notNull())
    .$call((t) => flag(t, 'is_selected', 0))
    .addColumn('discovered_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('discovered_table_uq', ['discovered_schema_id', 'table_name'])
    .execute();

  await db.schema
    .createTable('discovered_column')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('discovered_table_id', 'text', (c) =>
      c.notNull().references('discovered_table.id').onDelete('cascade'),
    )
    .addColumn('column_name', 'text', (c) => c.notNull())
    .addColumn('ordinal_position', 'integer', (c) => c.notNull())
    .addColumn('data_type', 'text', (c) => c.notNull())
    .addColumn('udt_name', 'text')
    .$call((t) => flag(t, 'is_nullable', 1))
    .addColumn('column_default', 'text')
    .addColumn('arrow_type', 'text')
    .$call((t) => flag(t, 'is_selected', 1))
    .addColumn('discovered_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('discovered_column_uq', ['discovered_table_id', 'column_name'])
    .execute();

  await db.schema
    .createTable('policy')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text')
    .addColumn('policy_type', 'text', (c) =>
      c
        .notNull()
        .check(
          sql`policy_type IN ('row_filter', 'column_mask', 'column_allow', 'column_deny', 'table_deny')`,
        ),
    )
    .addColumn('targets', 'text', (c) => c.notNull())
    .addColumn('definition', 'text')
    .$call((t) => flag(t, 'is_enabled', 1))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('decision_function_id', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('policy_version')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('policy_id', 'text', (c) => c.notNull().references('policy.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('snapshot', 'text', (c) => c.notNull())
    .addColumn('change_type', 'text', (c) =>
      c.notNull().check(sql`change_type IN ('create', 'update', 'delete', 'assignment_change')`),
    )
    .addColumn('changed_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('policy_version_policy_idx').on('policy_version').column('policy_id').execute();

  await db.schema
    .createTable('policy_assignment')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('policy_id', 'text', (c) => c.notNull().references('policy.id').onDelete('cascade'))
    .addColumn('data_source_id', 'text', (c) => c.notNull().references('data_source.id').onDelete('cascade'))
    .addColumn('user_id', 'text')
    .addColumn('role_id', 'text')
    .addColumn('assignment_scope', 'text', (c) =>
      c.notNull().check(sql`assignment_scope IN ('user', 'role', 'all')`),
    )
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(100))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('policy_assignment_uq', ['policy_id', 'data_source_id', 'user_id'])
    .execute();
  await db.schema
    .createIndex('policy_assignment_ds_idx')
    .on('policy_assignment')
    .column('data_source_id')
    .execute();

  await db.schema
    .createTable('attribute_definition')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('entity_type', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('value_type', 'text', (c) =>
      c.notNull().check(sql`value_type IN ('string', 'integer', 'boolean', 'list')`),
    )
    .addColumn('default_value', 'text')
    .addColumn('allowed_values', 'text')
    .addColumn('description', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('attribute_definition_uq', ['key', 'entity_type'])
    .execute();

  await db.schema
    .createTable('decision_function')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text')
    .addColumn('language', 'text', (c) => c.notNull().defaultTo('javascript'))
    .addColumn('decision_fn', 'text', (c) => c.notNull())
    .addColumn('decision_config', 'text')
    .addColumn('evaluate_context', 'text', (c) =>
      c.notNull().check(sql`evaluate_context IN ('session', 'query')`),
    )
    .addColumn('on_error', 'text', (c) =>
      c
        .notNull()
        .defaultTo('deny')
        .check(sql`on_error IN ('deny', 'skip')`),
    )
    .addColumn('log_level', 'text', (c) => c.notNull().defaultTo('off'))
    .$call((t) => flag(t, 'is_enabled', 1))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  // Audit logs have no foreign keys: rows outlive the users and data sources they name.
  await db.schema
    .createTable('query_audit_log')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('data_source_id', 'text', (c) => c.notNull())
    .addColumn('datasource_name', 'text', (c) => c.notNull())
    .addColumn('original_query', 'text', (c) => c.notNull())
    .addColumn('rewritten_query', 'text')
    .addColumn('policies_applied', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('execution_time_ms', 'integer')
    .addColumn('client_ip', 'text')
    .addColumn('client_info', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('success')
        .check(sql`status IN ('success', 'error', 'denied')`),
    )
    .addColumn('error_message', 'text')
    .execute();
  await db.schema.createIndex('query_audit_user_idx').on('query_audit_log').column('user_id').execute();
  await db.schema.createIndex('query_audit_ds_idx').on('query_audit_log').column('data_source_id').execute();
  await db.schema.createIndex('query_audit_created_idx').on('query_audit_log').column('created_at').execute();

  await db.schema
    .createTable('admin_audit_log')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('resource_type', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('changes', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('admin_audit_resource_idx')
    .on('admin_audit_log')
    .columns(['resource_type', 'resource_id'])
    .execute();
  await db.schema.createIndex('admin_audit_created_idx').on('admin_audit_log').column('created_at').execute();

  await db.schema
    .createTable('table_relationship')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('data_source_id', 'text', (c) => c.notNull().references('data_source.id').onDelete('cascade'))
    .addColumn('child_table_id', 'text', (c) =>
      c.notNull().references('discovered_table.id').onDelete('cascade'),
    )
    .addColumn('child_column_name', 'text', (c) => c.notNull())
    .addColumn('parent_table_id', 'text', (c) =>
      c.notNull().references('discovered_table.id').onDelete('cascade'),
    )
    .addColumn('parent_column_name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .execute();

  await db.schema
    .createTable('column_anchor')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('data_source_id', 'text', (c) => c.notNull().references('data_source.id').onDelete('cascade'))
    .addColumn('child_table_id', 'text', (c) =>
      c.notNull().references('discovered_table.id').onDelete('cascade'),
    )
    .addColumn('resolved_column_name', 'text', (c) => c.notNull())
    .addColumn('relationship_id', 'text', (c) => c.references('table_relationship.id').onDelete('restrict'))
    .addColumn('actual_column_name', 'text')
    .addColumn('designated_at', 'text', (c) => c.notNull())
    .addColumn('designated_by', 'text', (c) => c.notNull())
    .addUniqueConstraint('column_anchor_uq', ['data_source_id', 'child_table_id', 'resolved_column_name'])
    .addCheckConstraint(
      'column_anchor_one_target',
      sql`(relationship_id IS NULL) <> (actual_column_name IS NULL)`,
    )
    .execute();
}
