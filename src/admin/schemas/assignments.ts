/** Wire form of policy assignments (api-contract §3.4, §4.7): schemas and the presenter. */
import { Type } from '@sinclair/typebox';
import type { PolicyAssignment } from '../../store/repos/policy-assignments.js';
import { toApiTimestamp } from '../../store/time.js';
import { Nullable, Timestamp, Uuid } from './common.js';

export const PolicyAssignmentSchema = Type.Object({
  id: Uuid(),
  policy_id: Uuid(),
  policy_name: Type.String({ description: '"" if the policy no longer exists' }),
  data_source_id: Uuid(),
  datasource_name: Type.String(),
  user_id: Nullable(Uuid()),
  username: Nullable(Type.String()),
  role_id: Nullable(Uuid()),
  role_name: Nullable(Type.String()),
  assignment_scope: Type.String({ description: 'user | role | all' }),
  priority: Type.Integer({ description: 'lower = higher precedence' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const INT32 = { minimum: -2147483648, maximum: 2147483647 };

/** `scope` is checked by the handler (400 with BR's messages), not by the schema. */
export const CreateAssignmentBody = Type.Object({
  policy_id: Uuid(),
  user_id: Type.Optional(Nullable(Uuid())),
  role_id: Type.Optional(Nullable(Uuid())),
  scope: Type.Optional(Nullable(Type.String({ description: 'inferred from the ids when absent' }))),
  priority: Type.Optional(Type.Integer({ ...INT32, description: 'default 100; null is a 422' })),
});

export const AssignmentParams = Type.Object({ id: Uuid(), assignment_id: Uuid() });

export const presentAssignment = (a: PolicyAssignment) => ({
  ...a,
  created_at: toApiTimestamp(a.created_at),
  updated_at: toApiTimestamp(a.updated_at),
});
