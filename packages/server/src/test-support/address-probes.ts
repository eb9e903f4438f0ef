import { hashPassword } from '../auth/sign-in.js';
import { SESSION_COOKIE } from '../http/auth.js';
import { seedWorkspace } from './accounts.js';
import { signUp, startTestApp, type TestApp } from './app.js';

/** One answer of the server, as an attacker sees it. */
export interface Answer {
  /** Status, headers (the date's value left out), cookies and body, as one text. */
  transcript: string;
  /** `name=value` of the sign-in nonce cookie, when one was set. */
  nonceCookie: string | null;
  ms: number;
}

export const PROBE_NAMES = [
  'ask for a sign-in code',
  'sign in with a password',
  'ask for a password reset',
  'sign up',
  'use a wrong code',
  'invite',
] as const;
export type ProbeName = (typeof PROBE_NAMES)[number];

/** A request that names an address: sign-in, reset, sign-up, invitation. */
export interface Probe {
  name: ProbeName;
  /** Asks the server about one address; only this request is timed. */
  ask(address: string): Promise<Answer>;
}

/** POSTs like a browser of our origin and records the whole answer and its time. */
export async function send(
  h: TestApp,
  path: string,
  body: unknown,
  cookie?: string,
): Promise<Answer> {
  const started = process.hrtime.bigint();
  const response = await fetch(h.url + path, {
    method: 'POST',
    headers: {
      origin: h.config.baseUrl,
      'content-type': 'application/json',
      ...(cookie ? { cookie } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const headers = [...response.headers]
    .filter(([name]) => name !== 'set-cookie')
    .map(([name, value]) => `${name}: ${name === 'date' ? '(date)' : value}`)
    .sort();
  const cookies = response.headers.getSetCookie();
  const nonce = cookies.find((c) => /^emisar_sign_in=[^;]/.test(c));
  return {
    transcript: [
      String(response.status),
      ...headers,
      ...cookies.map((c) => `set-cookie: ${c}`),
      '',
      text,
    ].join('\n'),
    nonceCookie: nonce ? nonce.split(';')[0]! : null,
    ms,
  };
}

/** A registered, confirmed person with a name, a password and a workspace of their own. */
export async function register(h: TestApp, email: string): Promise<void> {
  const { owner } = await seedWorkspace(h.storage.db, { email, name: email, clock: h.clock });
  await h.storage.db
    .updateTable('users')
    .set({
      full_name: 'Registered Person',
      password_hash: await hashPassword('the right password'),
    })
    .where('id', '=', owner.id)
    .execute();
}

/**
 * Every route that takes an address, asked the way an attacker would. The
 * invitation probe acts as the owner of a workspace `probe-co` it signs up.
 */
export async function addressProbes(h: TestApp): Promise<Record<ProbeName, Probe>> {
  const owner = await signUp(h, 'owner@probe.test', 'Probe Co');
  const ownerCookie = `${SESSION_COOKIE}=${owner.jar.get(SESSION_COOKIE)!.value}`;
  const probes: Probe[] = [
    {
      name: 'ask for a sign-in code',
      ask: (email) => send(h, '/api/v1/sign_in/code/request', { email }),
    },
    {
      name: 'sign in with a password',
      ask: (email) => send(h, '/api/v1/sign_in/password', { email, password: 'not the password' }),
    },
    {
      name: 'ask for a password reset',
      ask: (email) => send(h, '/api/v1/password/forgot', { email }),
    },
    {
      name: 'sign up',
      ask: (email) => send(h, '/api/v1/sign_up', { email, workspace_name: 'Probe' }),
    },
    {
      name: 'use a wrong code',
      async ask(email) {
        const asked = await send(h, '/api/v1/sign_in/code/request', { email });
        return send(h, '/api/v1/sign_in/code', { code: '222222' }, asked.nonceCookie ?? undefined);
      },
    },
    {
      name: 'invite',
      async ask(email) {
        const path = '/api/v1/accounts/probe-co/invitations';
        const answer = await send(h, path, { email, role: 'viewer' }, ownerCookie);
        // Withdrawn, so a registered address can be invited again.
        const id = /"id":"([0-9a-f-]{36})"/.exec(answer.transcript)?.[1];
        if (id) {
          await fetch(`${h.url}${path}/${id}`, {
            method: 'DELETE',
            headers: { origin: h.config.baseUrl, cookie: ownerCookie },
          });
        }
        return answer;
      },
    },
  ];
  return Object.fromEntries(probes.map((p) => [p.name, p])) as Record<ProbeName, Probe>;
}

/**
 * Addresses of one probe: `known` ones are registered by the caller, `fresh`
 * ones never are (each is asked about once). Both kinds have the same length,
 * so an echoed address does not change a content length.
 */
export function addressesOf(probe: Probe) {
  const domain = `${probe.name.replaceAll(' ', '-')}.test`;
  return {
    known: (n: number) => `known-${String(n).padStart(3, '0')}@${domain}`,
    fresh: (n: number) => `fresh-${String(n).padStart(3, '0')}@${domain}`,
  };
}

/** The test app with every probe ready (its owner signed up). */
export async function startProbeHarness(): Promise<{
  h: TestApp;
  probes: Record<ProbeName, Probe>;
}> {
  const h = await startTestApp();
  return { h, probes: await addressProbes(h) };
}
