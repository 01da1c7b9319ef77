/** Wire form of users (api-contract §3.1, §4.2, §4.3): schemas and the presenter. */
import { Type } from '@sinclair/typebox';
import type { User } from '../../store/repos/users.js';
import { toApiTimestamp } from '../../store/time.js';
import { Nullable, PageQuery, Timestamp, Uuid } from './common.js';

export const UserSchema = Type.Object(
  {
    id: Uuid(),
    username: Type.String(),
    is_admin: Type.Boolean(),
    is_active: Type.Boolean(),
    email: Nullable(Type.String()),
    display_name: Nullable(Type.String()),
    attributes: Type.Record(Type.String(), Type.Unknown(), {
      description: 'key → string, or string[] for list attributes',
    }),
    last_login_at: Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { description: 'User (§3.1); never carries credentials' },
);

export const LoginBody = Type.Object({ username: Type.String(), password: Type.String() });
export const LoginResponse = Type.Object({ token: Type.String(), user: UserSchema });

export const UserListQuery = Type.Object({ ...PageQuery, search: Type.Optional(Type.String()) });

export const CreateUserBody = Type.Object({
  username: Type.String(),
  password: Type.String(),
  is_admin: Type.Optional(Type.Boolean()),
  email: Type.Optional(Nullable(Type.String())),
  display_name: Type.Optional(Nullable(Type.String())),
});

/** All optional; null = unchanged (§1.3); `attributes` replaces the whole map. */
export const UpdateUserBody = Type.Object({
  is_admin: Type.Optional(Nullable(Type.Boolean())),
  is_active: Type.Optional(Nullable(Type.Boolean())),
  email: Type.Optional(Nullable(Type.String())),
  display_name: Type.Optional(Nullable(Type.String())),
  attributes: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
});

export const PasswordBody = Type.Object({ password: Type.String() });

export const presentUser = (user: User) => ({
  ...user,
  last_login_at: user.last_login_at === null ? null : toApiTimestamp(user.last_login_at),
  created_at: toApiTimestamp(user.created_at),
  updated_at: toApiTimestamp(user.updated_at),
});

export const EffectivePoliciesQuery = Type.Object({ datasource_id: Uuid() });

export const EffectivePolicySchema = Type.Object({
  policy_id: Uuid(),
  policy_name: Type.String(),
  policy_type: Type.String(),
  datasource_name: Type.String(),
  priority: Type.Integer(),
  source: Type.String({ description: "all users | direct | role '<name>' | inherited from '<name>'" }),
  is_enabled: Type.Boolean(),
});
