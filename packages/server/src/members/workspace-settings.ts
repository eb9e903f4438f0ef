import type { JsonObject } from '@emisar/protocol';
import type { AccountQueries, AccountSettings } from '../accounts/index.js';
import { recordAuditEvent } from '../audit/index.js';
import type { AccountAccess } from '../core/access.js';
import type { RequestContext } from '../core/context.js';
import { ForbiddenError } from '../core/errors.js';
import type { Db } from '../core/tx.js';

export type SettingsPatch = Partial<AccountSettings> & { name?: string };

export type ChangeSettings = (
  access: AccountAccess,
  patch: SettingsPatch,
  context: RequestContext,
) => Promise<{ settings: AccountSettings; name: string }>;

/** Changes a workspace's settings (and name) and audits what changed. */
export function settingsChanger(deps: {
  db: Db;
  accounts: Pick<AccountQueries, 'updateSettings'>;
}): ChangeSettings {
  const { db, accounts } = deps;
  return async (access, { name, ...patch }, context) => {
    const principal = access.principal;
    if (patch.require_mfa && principal.kind === 'session' && !principal.mfaVerified) {
      throw new ForbiddenError(
        'Set up multi-factor authentication yourself before requiring it of everyone.',
        'mfa_required',
      );
    }
    const before = access.account.settings;
    const settings: AccountSettings = { ...before, ...patch };
    const changed = Object.fromEntries(
      Object.entries(patch).filter(([k, v]) => before[k as keyof AccountSettings] !== v),
    ) as JsonObject;
    await db.transaction().execute(async (trx) => {
      await accounts.updateSettings(trx, access.account.id, settings, name);
      await recordAuditEvent(trx, {
        accountId: access.account.id,
        eventType: 'account.settings_changed',
        actor: access.actor,
        target: { kind: 'account', id: access.account.id, label: access.account.slug },
        payload: {
          changed,
          ...(name && name !== access.account.name
            ? { name: { from: access.account.name, to: name } }
            : {}),
        },
        context,
      });
    });
    return { settings, name: name ?? access.account.name };
  };
}
