import { resolveAccountAccess } from '../access/index.js';
import type { AccountQueries } from '../accounts/index.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import { UnauthorizedError } from '../core/errors.js';
import type { KeyPrincipal } from '../core/principal.js';
import type { Db } from '../core/tx.js';

/** An mcp key's access to its own workspace, with every check a REST call makes. */
export async function resolveKeyAccess(
  deps: { db: Db; clock: Clock; accounts: Pick<AccountQueries, 'findLiveAccountById'> },
  principal: KeyPrincipal,
): Promise<AccountAccess> {
  const account = await deps.accounts.findLiveAccountById(deps.db, principal.key.accountId);
  if (!account) throw new UnauthorizedError();
  return resolveAccountAccess(deps.db, principal, account.slug, deps.clock);
}
