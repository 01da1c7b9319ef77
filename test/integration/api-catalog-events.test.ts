/**
 * The discovery job event stream (api-contract §4.8 SSE), read over a real
 * HTTP connection (inject does not stream) on both store engines: headers,
 * `data:` JSON lines, `: ping` keep-alive comments, the terminal events with the stream closed after them
 * (Q14 fixed, also for a job that had already ended), cancellation, the
 * 404s, authentication, and a server shutdown with a stream still open.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_ENGINES } from '../support/stores.js';
import {
  expectNoSecretLeak,
  fullSelection,
  MISSING_ID,
  openDataSourceApi,
  type DataSourceApi,
} from './api-datasources-support.js';
import { silentServer } from './catalog-jobs-fixture.js';

interface Stream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Raw body chunks so far. */
  body: () => string;
  /** Resolves with the whole body when the server ends the response. */
  ended: Promise<string>;
  close(): void;
}

function openStream(base: string, path: string, token: string | null): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      `${base}${path}`,
      { headers: token === null ? {} : { authorization: `Bearer ${token}` } },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        const ended = new Promise<string>((done, fail) => {
          response.on('end', () => done(body));
          response.on('error', fail);
        });
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: () => body,
          ended,
          close: () => request.destroy(),
        });
      },
    );
    request.on('error', reject);
  });
}

/** The JSON of each `data:` line; other lines must be SSE comments. */
function events(body: string): unknown[] {
  const lines = body.split('\n').filter((line) => line !== '');
  for (const line of lines) expect(line.startsWith('data: ') || line.startsWith(':')).toBe(true);
  return lines.filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)));
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each(STORE_ENGINES)('API discovery event stream on %s', (engine) => {
  let api: DataSourceApi;
  let ds: string;
  let base: string;
  beforeEach(async () => {
    api = await openDataSourceApi(engine, { eventPingMs: 50 });
    ds = await api.createDataSource();
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await expectNoSecretLeak(api);
    await api.dispose();
  });

  const submit = async (body: unknown, target = ds) =>
    (await api.call('POST', `/api/v1/datasources/${target}/discover`, { body })).json.job_id as string;
  const eventsPath = (jobId: string, target = ds) => `/api/v1/datasources/${target}/discover/${jobId}/events`;

  it('streams progress, then result and done, as data lines, and closes after them', async () => {
    const jobId = await submit(fullSelection());
    const stream = await openStream(base, eventsPath(jobId), api.token);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream');
    expect(stream.headers['cache-control']).toBe('no-cache');
    expect(stream.headers['x-content-type-options']).toBe('nosniff');
    expect(stream.headers['x-frame-options']).toBe('DENY');
    const received = events(await stream.ended);
    expect(received.slice(-2)).toEqual([{ type: 'result', data: { ok: true } }, { type: 'done' }]);
    for (const event of received.slice(0, -2)) {
      expect(event).toMatchObject({
        type: 'progress',
        phase: expect.stringMatching(/^(connecting|querying|saving)$/),
      });
    }
    expect(stream.body()).not.toContain('event:');
  });

  it('replays the terminal events of a finished job at once (success and failure)', async () => {
    const done = await api.runJob(ds, { action: 'discover_schemas' });
    const replay = await openStream(base, eventsPath(done.job_id as string), api.token);
    expect(events(await replay.ended)).toEqual([{ type: 'result', data: done.result }, { type: 'done' }]);
    const failed = await api.runJob(ds, {
      action: 'save_catalog',
      schemas: [
        { schema_name: 'a', schema_alias: 'x', is_selected: true, tables: [] },
        { schema_name: 'b', schema_alias: 'x', is_selected: true, tables: [] },
      ],
    });
    const failure = await openStream(base, eventsPath(failed.job_id as string), api.token);
    expect(events(await failure.ended)).toEqual([{ type: 'error', message: failed.error }]);
  });

  it('ends with a cancelled event when the job is cancelled while streaming', async () => {
    const silent = await silentServer();
    try {
      const hung = await api.createDataSource('hung', {
        config: { ...api.upstreamConfig, host: '127.0.0.1', port: silent.port },
      });
      const jobId = await submit({ action: 'discover_schemas' }, hung);
      const stream = await openStream(base, eventsPath(jobId, hung), api.token);
      expect(stream.status).toBe(200);
      await until(() => stream.body().includes(': ping\n\n'), 'a keep-alive comment');
      const cancel = await api.call('DELETE', `/api/v1/datasources/${hung}/discover/${jobId}`);
      expect(cancel.status).toBe(204);
      const received = events(await stream.ended);
      expect(received.at(-1)).toEqual({ type: 'cancelled' });
      expect(received.slice(0, -1).every((e) => (e as { type: string }).type === 'progress')).toBe(true);
    } finally {
      await silent.close();
    }
  });

  it('answers 404 DS before 404 job, and authenticates first', async () => {
    const jobId = await submit({ action: 'discover_schemas' });
    const noDs = await openStream(base, eventsPath(jobId, MISSING_ID), api.token);
    expect([noDs.status, JSON.parse(await noDs.ended)]).toEqual([404, { error: 'Data source not found' }]);
    const noJob = await openStream(base, eventsPath('nope'), api.token);
    expect([noJob.status, JSON.parse(await noJob.ended)]).toEqual([404, { error: 'Job not found' }]);
    const noToken = await openStream(base, eventsPath(jobId, 'not-a-uuid'), null);
    expect([noToken.status, await noToken.ended]).toEqual([401, 'Missing or invalid Authorization header']);
    const badId = await openStream(base, eventsPath(jobId, 'not-a-uuid'), api.token);
    expect(badId.status).toBe(400);
    const head = await api.call('HEAD', eventsPath(jobId));
    expect([head.status, head.headers['content-type'], head.text]).toEqual([200, 'text/event-stream', '']);
  });

  it('ends open streams and cancels running jobs when the server closes', async () => {
    const silent = await silentServer();
    try {
      const hung = await api.createDataSource('hung', {
        config: { ...api.upstreamConfig, host: '127.0.0.1', port: silent.port },
      });
      const jobId = await submit({ action: 'discover_schemas' }, hung);
      const stream = await openStream(base, eventsPath(jobId, hung), api.token);
      expect(stream.status).toBe(200);
      const started = Date.now();
      await api.closeServer();
      await stream.ended;
      expect(Date.now() - started).toBeLessThan(4_000); // not the 5 s connect timeout
    } finally {
      await silent.close();
    }
  });
});
