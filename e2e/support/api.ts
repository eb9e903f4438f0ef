import { isTerminal } from '../../packages/server/src/runs/tables.js';
import { eventually } from './wait.js';

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A run as the REST API returns it (the fields the tests read). */
export interface Run {
  id: string;
  request_id: string;
  status: string;
  status_reason: string | null;
  action_id: string;
  exit_code: number | null;
  output: { complete: boolean | null; [field: string]: unknown };
  [field: string]: unknown;
}

export interface OutputChunk {
  seq: number;
  stream: string;
  data: string;
  [field: string]: unknown;
}

/** An automation client: `Authorization: Bearer emk-…` against one node. */
export class ApiClient {
  constructor(
    readonly url: string,
    readonly key: string,
  ) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpResult<T>> {
    const response = await fetch(this.url + path, {
      method,
      headers: {
        authorization: `Bearer ${this.key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }
}

/** The run a run route answered with (the run view itself). */
export function runOf(body: unknown): Run {
  const run = body as Run;
  if (typeof run?.id !== 'string')
    throw new Error(`no run in ${JSON.stringify(body).slice(0, 500)}`);
  return run;
}

export interface RunRequest {
  runner: string;
  action_id: string;
  args?: Record<string, unknown>;
  reason: string;
  [field: string]: unknown;
}

/** The REST run routes of one account, for one caller (API key or session browser). */
export class Runs {
  constructor(
    private readonly client: Pick<ApiClient, 'request'>,
    private readonly slug: string,
  ) {}

  get base(): string {
    return `/api/v1/accounts/${this.slug}/runs`;
  }

  /** POST …/runs; throws unless 201. */
  async create(request: RunRequest, headers: Record<string, string> = {}): Promise<Run> {
    const response = await this.client.request(
      'POST',
      this.base,
      { args: {}, ...request },
      headers,
    );
    if (response.status !== 201) {
      throw new Error(`create run: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return runOf(response.body);
  }

  async get(id: string, wait?: string): Promise<Run> {
    const response = await this.client.request(
      'GET',
      `${this.base}/${id}${wait ? `?wait=${wait}` : ''}`,
    );
    if (response.status !== 200) {
      throw new Error(`get run: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return runOf(response.body);
  }

  /** Long-polls (10 s at a time) until the run is terminal; no deadline of its own. */
  async waitTerminal(id: string): Promise<Run> {
    return eventually(async () => {
      const run = await this.get(id, '10s');
      return isTerminal(run.status) ? run : undefined;
    }, 0);
  }

  /** Polls until the run reaches `status` (or any terminal status, which then fails the check). */
  async waitStatus(id: string, status: string): Promise<Run> {
    return eventually(async () => {
      const run = await this.get(id);
      if (run.status === status) return run;
      if (isTerminal(run.status))
        throw new Error(`run ended ${run.status} (${run.status_reason}), not ${status}`);
      return undefined;
    }, 50);
  }

  /** GET …/output?after_seq=N, every page. */
  async output(id: string): Promise<OutputChunk[]> {
    const chunks: OutputChunk[] = [];
    for (;;) {
      const after = chunks.at(-1)?.seq ?? 0;
      const response = await this.client.request<{
        chunks?: OutputChunk[];
        output?: OutputChunk[];
      }>('GET', `${this.base}/${id}/output?after_seq=${after}`);
      if (response.status !== 200) {
        throw new Error(`run output: ${response.status} ${JSON.stringify(response.body)}`);
      }
      const page = response.body.chunks ?? response.body.output ?? [];
      if (page.length === 0) return chunks;
      chunks.push(...page);
    }
  }
}

/** Concatenated stdout of output chunks, in seq order. */
export function stdoutOf(chunks: OutputChunk[]): string {
  return [...chunks]
    .sort((a, b) => a.seq - b.seq)
    .filter((c) => c.stream === 'stdout')
    .map((c) => c.data)
    .join('');
}

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * A live Server-Sent Events subscription (`GET …/events`), collecting events
 * until closed.
 */
export class SseStream {
  readonly events: SseEvent[] = [];
  private readonly controller = new AbortController();
  private readonly done: Promise<void>;
  status = 0;

  constructor(url: string, headers: Record<string, string>) {
    this.done = this.read(url, headers).catch((error: unknown) => {
      if (!this.controller.signal.aborted) throw error;
    });
  }

  private async read(url: string, headers: Record<string, string>): Promise<void> {
    const response = await fetch(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: this.controller.signal,
    });
    this.status = response.status;
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const piece of response.body) {
      buffer += decoder.decode(piece as Uint8Array, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event.event = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') event.id = value;
        }
        event.data = data.join('\n');
        if (data.length > 0) this.events.push(event);
        end = buffer.indexOf('\n\n');
      }
    }
  }

  /** Waits until the stream is open (headers received). */
  async opened(): Promise<number> {
    return eventually(() => this.status || undefined, 10);
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}
