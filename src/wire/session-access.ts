/**
 * What a user may do on a data source right now: whether the user is
 * active and granted the data source (user, role — active roles only — or
 * all scope; the data source active), and if so its connection settings and
 * the user's resolved policy set. Start-up (auth.ts) asks it once per
 * connection; the session registry (session-registry.ts) asks again after
 * every admin change, which is how a policy change reaches open sessions and
 * how a deactivated user's sessions end.
 */
import { loadPolicyInputs } from '../policy/load.js';
import { loadPolicyParser, resolveSessionPolicySet } from '../policy/resolve.js';
import type { SessionPolicySet } from '../policy/session.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { Store } from '../store/db.js';
import { canUserConnect } from '../store/repos/datasource-access.js';
import { type DataSourceConnection, getDataSourceConnection } from '../store/repos/datasources.js';
import { activeRoleClosureForUser } from '../store/repos/roles.js';
import { getUserById } from '../store/repos/users.js';

export type SessionAccess =
  | { granted: true; dataSource: DataSourceConnection; policy: SessionPolicySet }
  | { granted: false; reason: 'user inactive' | 'user deleted' | 'not granted' };

/**
 * `dataSource` by name at start-up (what the client asked for), by id
 * afterwards (a renamed data source keeps its sessions).
 */
export async function loadSessionAccess(
  store: Store,
  cipher: SecretCipher,
  userId: string,
  dataSource: { name: string } | { id: string },
): Promise<SessionAccess> {
  const { db } = store;
  const user = await getUserById(db, userId);
  if (!user) return { granted: false, reason: 'user deleted' };
  if (!user.is_active) return { granted: false, reason: 'user inactive' };
  let name: string;
  if ('name' in dataSource) name = dataSource.name;
  else {
    const row = await db
      .selectFrom('data_source')
      .select('name')
      .where('id', '=', dataSource.id)
      .executeTakeFirst();
    if (!row) return { granted: false, reason: 'not granted' };
    name = row.name;
  }
  const roles = await activeRoleClosureForUser(db, userId);
  const roleIds = roles.map((r) => r.id);
  if (!(await canUserConnect(db, name, userId, roleIds))) return { granted: false, reason: 'not granted' };
  const connection = await getDataSourceConnection(db, cipher, { name });
  await loadPolicyParser();
  const policy = resolveSessionPolicySet(await loadPolicyInputs(db, connection.id, userId));
  return { granted: true, dataSource: connection, policy };
}
