import { createEnrollmentKey } from '../../credentials/enrollment-keys.js';
import { insertAccount } from '../../test-support/accounts.js';
import type { TestApp } from '../../test-support/app.js';

/** An account with an enrollment key (single-use unless told otherwise). */
export async function accountWithKey(
  h: Pick<TestApp, 'db' | 'clock'>,
  options: { plan?: string; reusable?: boolean; pinnedGroup?: string | null } = {},
): Promise<{ accountId: string; key: string; keyId: string }> {
  const accountId = await insertAccount(h.db, options.plan ?? 'free');
  const key = await newEnrollmentKey(h, accountId, options);
  return { accountId, ...key };
}

export async function newEnrollmentKey(
  h: Pick<TestApp, 'db' | 'clock'>,
  accountId: string,
  options: { reusable?: boolean; pinnedGroup?: string | null } = {},
): Promise<{ key: string; keyId: string }> {
  const created = await createEnrollmentKey(
    h.db,
    {
      accountId,
      name: 'test',
      reusable: options.reusable ?? false,
      maxUses: null,
      pinnedGroup: options.pinnedGroup ?? null,
      createdBy: null,
    },
    h.clock,
  );
  return { key: created.secret, keyId: created.id };
}

export function registration(hostname: string, extra: Record<string, unknown> = {}) {
  return { external_id: hostname, hostname, labels: {}, version: '0.1.0', ...extra };
}

/** POST /runner/register over real HTTP. */
export async function register(
  url: string,
  key: string | null,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/runner/register`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function refresh(
  url: string,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/runner/token/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: '{}',
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
