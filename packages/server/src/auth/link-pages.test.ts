import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../http/auth.js';
import { mintBootstrapLink } from '../members/bootstrap-link.js';
import { signUp, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { LINK_PAGE_PATHS } from './link-pages.js';

/**
 * Runs the link page's script against a stand-in DOM whose fetch goes to the
 * real server through a cookie-jar browser.
 */
async function openLink(browser: Browser, link: URL) {
  const page = await browser.request<string>('GET', link.pathname);
  expect(page.status).toBe(200);
  expect(page.body).toContain('src="/_emisar/link-page.js"');
  const script = await browser.request<string>('GET', '/_emisar/link-page.js');
  const status = { textContent: '' };
  const form = {
    hidden: false,
    innerHTML: '',
    elements: {} as Record<string, { value: string }>,
    onsubmit: null,
  };
  const addressBar = { replaced: '' };
  const settled: Promise<unknown>[] = [];
  runInNewContext(script.body, {
    document: {
      body: { dataset: { page: link.pathname } },
      querySelector: () => form,
      getElementById: () => status,
    },
    location: { hash: link.hash, pathname: link.pathname },
    history: {
      replaceState: (_s: unknown, _t: string, url: string) => (addressBar.replaced = url),
    },
    fetch: (path: string, init: { method?: string; body?: string } = {}) => {
      const call = browser
        .request(init.method ?? 'GET', path, init.body ? JSON.parse(init.body) : undefined, {
          'x-emisar-csrf': '1',
        })
        .then((r) => ({ ok: r.status < 300, json: async () => r.body }));
      settled.push(call);
      return call;
    },
    JSON,
    decodeURIComponent,
  });
  await expect.poll(() => status.textContent).not.toBe('');
  await Promise.all(settled);
  return { status, addressBar };
}

describe('link pages', () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp();
  });
  afterAll(() => h.close());

  it('serves every link page as HTML with the same-origin script', async () => {
    for (const path of LINK_PAGE_PATHS) {
      const response = await h.browser().request<string>('GET', path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/text\/html/);
      expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    }
  });

  it('the bootstrap page reads the fragment, clears it, POSTs it and ends signed in', async () => {
    await signUp(h, 'first@example.test', 'First');
    const minted = await mintBootstrapLink(h.storage.db, h.config.baseUrl, h.clock);
    const browser = h.browser();
    const { status, addressBar } = await openLink(browser, new URL(minted!.link));
    expect(addressBar.replaced).toBe('/sign_in/bootstrap');
    expect(status.textContent).toBe('Signed in as first@example.test. Workspaces: First (first)');
    expect(browser.cookieNames()).toEqual([SESSION_COOKIE]);
  });

  it('an incomplete link says so and posts nothing', async () => {
    const { status } = await openLink(h.browser(), new URL(`${h.config.baseUrl}/confirm`));
    expect(status.textContent).toMatch(/incomplete/);
  });
});
