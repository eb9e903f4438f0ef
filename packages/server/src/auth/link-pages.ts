import type { FastifyInstance } from 'fastify';

/**
 * Minimal pages behind the emailed and printed links, until the console serves
 * its own: each reads the secret from the URL fragment (which never reaches the
 * server), removes it from the address bar, and POSTs it to the API.
 */
const PAGES: Record<string, { title: string; form: string }> = {
  '/sign_in/code': {
    title: 'Sign in',
    form: '<label>Code from the email <input name="code" autocomplete="one-time-code" maxlength="8" required></label><button>Sign in</button>',
  },
  '/sign_in/bootstrap': { title: 'Sign in', form: '' },
  '/confirm': { title: 'Confirm your email', form: '' },
  '/accept_invitation': { title: 'Join the workspace', form: '' },
  '/reset_password': {
    title: 'Choose a new password',
    form: '<label>New password <input name="password" type="password" autocomplete="new-password" minlength="12" required></label><button>Save</button>',
  },
};

const MFA_FORM =
  '<label>Code from your authenticator app, or a recovery code <input name="mfa" autocomplete="one-time-code" required></label><button>Continue</button>';

const SCRIPT = `
const page = document.body.dataset.page;
const secret = decodeURIComponent(location.hash.slice(1));
history.replaceState(null, '', location.pathname);
const form = document.querySelector('form');
const status = document.getElementById('status');
const say = (text) => { status.textContent = text; };

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-emisar-csrf': '1' },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error ? data.error.message : 'Something went wrong.');
  return data;
}

async function signedIn() {
  const me = await fetch('/api/v1/me', { credentials: 'same-origin' }).then((r) => r.json());
  const names = (me.accounts || []).map((a) => a.name + ' (' + a.slug + ')').join(', ');
  form.hidden = true;
  say('Signed in as ' + me.user.email + (names ? '. Workspaces: ' + names : '.'));
}

async function afterPrimary(result) {
  if (result.status !== 'mfa_required') return signedIn();
  say('Enter your second factor.');
  form.innerHTML = ${JSON.stringify(MFA_FORM)};
  form.hidden = false;
  form.onsubmit = async (event) => {
    event.preventDefault();
    const value = form.elements.mfa.value.trim();
    const body = /^\\d{6}$/.test(value) ? { code: value } : { recovery_code: value };
    try { await post('/api/v1/sign_in/mfa', body); await signedIn(); } catch (error) { say(error.message); }
  };
}

const run = (action) => action().catch((error) => say(error.message));

if (page === '/sign_in/code') {
  if (secret) form.elements.code.value = secret;
  form.onsubmit = (event) => {
    event.preventDefault();
    run(async () => afterPrimary(await post('/api/v1/sign_in/code', { code: form.elements.code.value })));
  };
} else if (page === '/reset_password') {
  form.onsubmit = (event) => {
    event.preventDefault();
    run(async () => {
      await post('/api/v1/password/reset', { token: secret, password: form.elements.password.value });
      form.hidden = true;
      say('Password changed. Every session was signed out; sign in again.');
    });
  };
} else if (!secret) {
  say('This link is incomplete: open it exactly as it arrived.');
} else if (page === '/sign_in/bootstrap') {
  run(async () => afterPrimary(await post('/api/v1/sign_in/bootstrap', { token: secret })));
} else if (page === '/confirm') {
  run(async () => { await post('/api/v1/email/confirm', { token: secret }); say('Email confirmed.'); });
} else if (page === '/accept_invitation') {
  run(async () => afterPrimary(await post('/api/v1/invitations/accept', { token: secret })));
}
`;

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export const LINK_PAGE_PATHS = Object.keys(PAGES);

export function registerLinkPages(app: FastifyInstance): void {
  for (const [path, page] of Object.entries(PAGES)) {
    app.get(path, async (_request, reply) => {
      reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
      return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(page.title)} · emisar</title><script type="module" src="/_emisar/link-page.js"></script></head><body data-page="${escapeHtml(path)}"><h1>${escapeHtml(page.title)}</h1><form${page.form ? '' : ' hidden'}>${page.form}</form><p id="status" role="status"></p></body></html>`;
    });
  }
  app.get('/_emisar/link-page.js', async (_request, reply) => {
    reply.header('cache-control', 'no-cache').type('text/javascript; charset=utf-8');
    return SCRIPT;
  });
}
