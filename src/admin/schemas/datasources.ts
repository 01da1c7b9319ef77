/**
 * Wire form of data sources (api-contract §3.2, §4.4, §4.5, §4.6): schemas
 * and the presenter. `config` carries the visible connection fields only;
 * the password never leaves the store (it is not in `DataSource.config`, and
 * the response schema serialises declared fields only).
 */
import { Type } from '@sinclair/typebox';
import type { DataSource } from '../../store/repos/datasources.js';
import { toApiTimestamp } from '../../store/time.js';
import { Nullable, PageQuery, Timestamp, Uuid } from './common.js';

export const DataSourceSchema = Type.Object(
  {
    id: Uuid(),
    name: Type.String(),
    ds_type: Type.String(),
    config: Type.Record(Type.String(), Type.Unknown(), {
      description: 'non-secret connection fields (host, port, database, username, sslmode)',
    }),
    is_active: Type.Boolean(),
    access_mode: Type.String({ description: 'open | policy_required' }),
    last_sync_at: Nullable(Timestamp),
    last_sync_result: Type.Unknown({ description: 'drift report of the last sync_catalog (§8.6), or null' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { description: 'Data source (§3.2); never carries the password' },
);

const FieldSchema = Type.Object({
  key: Type.String(),
  label: Type.String(),
  field_type: Type.String({ description: 'text | number | select | textarea' }),
  options: Type.Optional(Type.Array(Type.String())),
  required: Type.Boolean(),
  is_secret: Type.Boolean(),
  default_value: Type.Optional(Type.String()),
});

export const DataSourceTypeSchema = Type.Object({
  ds_type: Type.String(),
  label: Type.String(),
  fields: Type.Array(FieldSchema),
});

export const DataSourceListQuery = Type.Object({ ...PageQuery, search: Type.Optional(Type.String()) });

/** `config` is any JSON here: its shape is checked by the config split (422 with BR's messages). */
export const CreateDataSourceBody = Type.Object({
  name: Type.String(),
  ds_type: Type.String(),
  config: Type.Unknown({ description: 'flat object with every field of the type, secret ones included' }),
  access_mode: Type.Optional(Nullable(Type.String({ description: 'default policy_required' }))),
});

/** All optional; null = unchanged (§1.3). `config` is partial; a secret sent as "" keeps the stored one. */
export const UpdateDataSourceBody = Type.Object({
  name: Type.Optional(Nullable(Type.String())),
  is_active: Type.Optional(Nullable(Type.Boolean())),
  config: Type.Optional(Type.Unknown()),
  access_mode: Type.Optional(Nullable(Type.String())),
});

export const TestConnectionResult = Type.Object({
  success: Type.Boolean(),
  message: Type.Optional(Type.String()),
});

export const UserIdsBody = Type.Object({ user_ids: Type.Array(Uuid()) });
export const RoleIdsBody = Type.Object({ role_ids: Type.Array(Uuid()) });
export const AccessRoleSchema = Type.Object({ id: Uuid(), name: Type.String(), is_active: Type.Boolean() });

export const presentDataSource = (ds: DataSource) => ({
  ...ds,
  last_sync_at: ds.last_sync_at === null ? null : toApiTimestamp(ds.last_sync_at),
  created_at: toApiTimestamp(ds.created_at),
  updated_at: toApiTimestamp(ds.updated_at),
});
