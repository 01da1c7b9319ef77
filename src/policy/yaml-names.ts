/**
 * Name resolution for the policy YAML import (api-contract §7.4): data
 * source, user, role and decision function names to ids, exact and
 * case-sensitive. Loaded once per import inside its transaction (four small
 * reads instead of one query per name), so every entry resolves against the
 * same state the import then writes to.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

export interface NameDirectory {
  dataSources: ReadonlyMap<string, string>;
  users: ReadonlyMap<string, string>;
  roles: ReadonlyMap<string, string>;
  decisionFunctions: ReadonlyMap<string, string>;
}

export async function loadNameDirectory(db: Kysely<Database>): Promise<NameDirectory> {
  const [dataSources, users, roles, decisionFunctions] = await Promise.all([
    db.selectFrom('data_source').select(['id', 'name']).execute(),
    db.selectFrom('proxy_user').select(['id', 'username as name']).execute(),
    db.selectFrom('role').select(['id', 'name']).execute(),
    db.selectFrom('decision_function').select(['id', 'name']).execute(),
  ]);
  const index = (rows: { id: string; name: string }[]) => new Map(rows.map((r) => [r.name, r.id]));
  return {
    dataSources: index(dataSources),
    users: index(users),
    roles: index(roles),
    decisionFunctions: index(decisionFunctions),
  };
}
