/** Wire form of roles (api-contract §3.8, §4.13): schemas and presenters. */
import { Type } from '@sinclair/typebox';
import type { Role, RoleDetail } from '../../store/repos/roles.js';
import { toApiTimestamp } from '../../store/time.js';
import { Nullable, PageQuery, Timestamp, Uuid } from './common.js';

const roleFields = {
  id: Uuid(),
  name: Type.String(),
  description: Nullable(Type.String()),
  is_active: Type.Boolean(),
  direct_member_count: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
};

const RoleRef = Type.Object({ id: Uuid(), name: Type.String() });

export const RoleSchema = Type.Object(roleFields);

export const RoleDetailSchema = Type.Object({
  ...roleFields,
  effective_member_count: Type.Integer(),
  members: Type.Array(Type.Object({ id: Uuid('user id'), username: Type.String() })),
  parent_roles: Type.Array(RoleRef),
  child_roles: Type.Array(RoleRef),
  policy_assignments: Type.Array(
    Type.Object({
      policy_name: Type.String(),
      datasource_name: Type.String(),
      source: Type.String({ description: "direct | inherited from '<role>'" }),
      priority: Type.Integer(),
    }),
  ),
  datasource_access: Type.Array(
    Type.Object({ datasource_id: Uuid(), datasource_name: Type.String(), source: Type.String() }),
  ),
});

export const RoleImpactSchema = Type.Object({
  affected_users: Type.Integer(),
  affected_assignments: Type.Integer(),
});

export const EffectiveMemberSchema = Type.Object({
  user_id: Uuid(),
  username: Type.String(),
  source: Type.String({ description: "direct | via role '<descendant>'" }),
});

export const RoleListQuery = Type.Object({ ...PageQuery, search: Type.Optional(Type.String()) });
export const CreateRoleBody = Type.Object({
  name: Type.String(),
  description: Type.Optional(Nullable(Type.String())),
});
export const UpdateRoleBody = Type.Object({
  name: Type.Optional(Nullable(Type.String())),
  description: Type.Optional(Nullable(Type.String())),
  is_active: Type.Optional(Nullable(Type.Boolean())),
});
export const MembersBody = Type.Object({ user_ids: Type.Array(Uuid()) });
export const ParentBody = Type.Object({ parent_role_id: Uuid() });
export const MemberParams = Type.Object({ id: Uuid(), user_id: Uuid() });
export const ParentParams = Type.Object({ id: Uuid(), parent_id: Uuid() });

export const presentRole = (role: Role) => ({
  id: role.id,
  name: role.name,
  description: role.description,
  is_active: role.is_active,
  direct_member_count: role.direct_member_count,
  created_at: toApiTimestamp(role.created_at),
  updated_at: toApiTimestamp(role.updated_at),
});

export const presentRoleDetail = (role: RoleDetail) => ({ ...role, ...presentRole(role) });
