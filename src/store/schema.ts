/**
 * Row types of the admin store, shared by both engines.
 *
 * The schema is deliberately engine-neutral so that SQLite and PostgreSQL run
 * the same migrations and the same queries: ids are UUID text, timestamps are
 * fixed-width UTC text (`YYYY-MM-DDTHH:MM:SS.ffffff`, lexically sortable),
 * booleans are integers 0/1, JSON documents are text.
 */
import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

/** 0 or 1; see the module comment. */
export type Flag = number;
/** Fixed-width UTC timestamp text, see `store/time.ts`. */
export type Timestamp = string;
/** Column with a database default: optional on insert. */
type Defaulted<T> = ColumnType<T, T | undefined, T>;

export interface ProxyUserTable {
  id: string;
  username: string;
  password_hash: string;
  scram_verifier: string;
  is_admin: Defaulted<Flag>;
  is_active: Defaulted<Flag>;
  email: string | null;
  display_name: string | null;
  attributes: Defaulted<string>;
  last_login_at: Timestamp | null;
  password_changed_at: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RoleTable {
  id: string;
  name: string;
  description: string | null;
  is_active: Defaulted<Flag>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RoleMemberTable {
  id: string;
  role_id: string;
  user_id: string;
  created_at: Timestamp;
}

export interface RoleInheritanceTable {
  id: string;
  parent_role_id: string;
  child_role_id: string;
  created_at: Timestamp;
}

export interface DataSourceTable {
  id: string;
  name: string;
  ds_type: string;
  config: string;
  secure_config: Defaulted<string>;
  is_active: Defaulted<Flag>;
  access_mode: Defaulted<string>;
  last_sync_at: Timestamp | null;
  last_sync_result: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DataSourceAccessTable {
  id: string;
  user_id: string | null;
  role_id: string | null;
  data_source_id: string;
  assignment_scope: string;
  created_at: Timestamp;
}

export interface DiscoveredSchemaTable {
  id: string;
  data_source_id: string;
  schema_name: string;
  schema_alias: string | null;
  is_selected: Defaulted<Flag>;
  discovered_at: Timestamp;
}

export interface DiscoveredTableTable {
  id: string;
  discovered_schema_id: string;
  table_name: string;
  table_type: string;
  is_selected: Defaulted<Flag>;
  discovered_at: Timestamp;
}

export interface DiscoveredColumnTable {
  id: string;
  discovered_table_id: string;
  column_name: string;
  ordinal_position: number;
  data_type: string;
  /** Upstream type name (`pg_type.typname`, e.g. `int4`, `_text`): what the rewriter needs. */
  udt_name: string | null;
  is_nullable: Defaulted<Flag>;
  column_default: string | null;
  arrow_type: string | null;
  is_selected: Defaulted<Flag>;
  discovered_at: Timestamp;
}

export interface PolicyTable {
  id: string;
  name: string;
  description: string | null;
  policy_type: string;
  targets: string;
  definition: string | null;
  is_enabled: Defaulted<Flag>;
  version: Defaulted<number>;
  decision_function_id: string | null;
  created_by: string;
  updated_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PolicyVersionTable {
  id: string;
  policy_id: string;
  version: number;
  snapshot: string;
  change_type: string;
  changed_by: string;
  created_at: Timestamp;
}

export interface PolicyAssignmentTable {
  id: string;
  policy_id: string;
  data_source_id: string;
  user_id: string | null;
  role_id: string | null;
  assignment_scope: string;
  priority: Defaulted<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AttributeDefinitionTable {
  id: string;
  key: string;
  entity_type: string;
  display_name: string;
  value_type: string;
  default_value: string | null;
  allowed_values: string | null;
  description: string | null;
  created_by: string;
  updated_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DecisionFunctionTable {
  id: string;
  name: string;
  description: string | null;
  language: Defaulted<string>;
  /** Encrypted at rest (`secrets/cipher.ts`); never returned by the API in clear text to logs. */
  decision_fn: string;
  decision_config: string | null;
  evaluate_context: string;
  on_error: Defaulted<string>;
  log_level: Defaulted<string>;
  is_enabled: Defaulted<Flag>;
  version: Defaulted<number>;
  created_by: string;
  updated_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface QueryAuditLogTable {
  id: string;
  user_id: string;
  username: string;
  data_source_id: string;
  datasource_name: string;
  original_query: string;
  rewritten_query: string | null;
  policies_applied: Defaulted<string>;
  execution_time_ms: number | null;
  client_ip: string | null;
  client_info: string | null;
  created_at: Timestamp;
  status: Defaulted<string>;
  error_message: string | null;
  /** Rowgate addition (migration 002): rows returned; null when unknown. */
  rows_returned: number | null;
}

export interface AdminAuditLogTable {
  id: string;
  resource_type: string;
  resource_id: string;
  action: string;
  actor_id: string;
  changes: string | null;
  created_at: Timestamp;
}

export interface TableRelationshipTable {
  id: string;
  data_source_id: string;
  child_table_id: string;
  child_column_name: string;
  parent_table_id: string;
  parent_column_name: string;
  created_at: Timestamp;
  created_by: string | null;
}

export interface ColumnAnchorTable {
  id: string;
  data_source_id: string;
  child_table_id: string;
  resolved_column_name: string;
  relationship_id: string | null;
  actual_column_name: string | null;
  designated_at: Timestamp;
  designated_by: string;
}

export interface Database {
  proxy_user: ProxyUserTable;
  role: RoleTable;
  role_member: RoleMemberTable;
  role_inheritance: RoleInheritanceTable;
  data_source: DataSourceTable;
  data_source_access: DataSourceAccessTable;
  discovered_schema: DiscoveredSchemaTable;
  discovered_table: DiscoveredTableTable;
  discovered_column: DiscoveredColumnTable;
  policy: PolicyTable;
  policy_version: PolicyVersionTable;
  policy_assignment: PolicyAssignmentTable;
  attribute_definition: AttributeDefinitionTable;
  decision_function: DecisionFunctionTable;
  query_audit_log: QueryAuditLogTable;
  admin_audit_log: AdminAuditLogTable;
  table_relationship: TableRelationshipTable;
  column_anchor: ColumnAnchorTable;
}

export type ProxyUserRow = Selectable<ProxyUserTable>;
export type NewProxyUser = Insertable<ProxyUserTable>;
export type ProxyUserUpdate = Updateable<ProxyUserTable>;
export type RoleRow = Selectable<RoleTable>;
export type DataSourceRow = Selectable<DataSourceTable>;
export type DiscoveredSchemaRow = Selectable<DiscoveredSchemaTable>;
export type DiscoveredTableRow = Selectable<DiscoveredTableTable>;
export type DiscoveredColumnRow = Selectable<DiscoveredColumnTable>;
export type PolicyRow = Selectable<PolicyTable>;
export type PolicyAssignmentRow = Selectable<PolicyAssignmentTable>;
export type AttributeDefinitionRow = Selectable<AttributeDefinitionTable>;
export type DecisionFunctionRow = Selectable<DecisionFunctionTable>;
export type QueryAuditLogRow = Selectable<QueryAuditLogTable>;
export type AdminAuditLogRow = Selectable<AdminAuditLogTable>;
export type TableRelationshipRow = Selectable<TableRelationshipTable>;
export type ColumnAnchorRow = Selectable<ColumnAnchorTable>;
