import { Browser } from '../../packages/server/src/test-support/browser.js';
import type { SmtpSink } from '../../packages/server/src/test-support/smtp-sink.js';
import {
  fragmentSecretFrom,
  signInCodeFrom,
} from '../../packages/server/src/test-support/smtp-sink.js';

export { Browser };

/**
 * People signing in through the real HTTP flows (emailed code, invitation link),
 * mail read from a real SMTP sink. `origin` is the public base URL (the CSRF
 * origin); `url` the node the browser talks to.
 */
export class People {
  constructor(
    private readonly smtp: SmtpSink,
    private readonly origin: string,
  ) {}

  browser(url: string = this.origin): Browser {
    return new Browser(url, this.origin);
  }

  /** Requests a sign-in code for `email` and signs in with it. */
  async signIn(email: string, url?: string): Promise<Browser> {
    const browser = this.browser(url);
    const requested = await browser.request('POST', '/api/v1/sign_in/code/request', { email });
    if (requested.status >= 300) throw new Error(`code request: ${requested.status}`);
    const code = signInCodeFrom((await this.smtp.next(email)).text ?? '', this.origin);
    const signedIn = await browser.request('POST', '/api/v1/sign_in/code', { code });
    if (signedIn.status !== 200) {
      throw new Error(`sign-in failed: ${JSON.stringify(signedIn.body)}`);
    }
    return browser;
  }

  /**
   * `owner` invites `email` with `role`; the invitee accepts from the email and is
   * signed in. New members reach no runner until granted: `owner` then grants
   * `runnerAccess` (default: every runner).
   */
  async invite(
    owner: Browser,
    slug: string,
    email: string,
    role: string,
    runnerAccess: Record<string, unknown> = { mode: 'all' },
  ): Promise<Browser> {
    const invited = await owner.request('POST', `/api/v1/accounts/${slug}/invitations`, {
      email,
      role,
    });
    if (invited.status !== 201) throw new Error(`invite: ${JSON.stringify(invited.body)}`);
    const token = fragmentSecretFrom(
      (await this.smtp.next(email)).text ?? '',
      '/accept_invitation',
    );
    const member = this.browser();
    const accepted = await member.request('POST', '/api/v1/invitations/accept', { token });
    if (accepted.status !== 200) throw new Error(`accept: ${JSON.stringify(accepted.body)}`);
    const base = `/api/v1/accounts/${slug}/members`;
    const listed = await owner.request<{ members: { id: string; email: string }[] }>('GET', base);
    const id = listed.body.members.find((m) => m.email === email)?.id;
    const granted = await owner.request('PATCH', `${base}/${id}`, { runner_access: runnerAccess });
    if (granted.status !== 200) throw new Error(`grant reach: ${JSON.stringify(granted.body)}`);
    return member;
  }
}
