/**
 * Discovery jobs and the stored catalog (api-contract §4.8, §8): submit a
 * job (202), poll it, cancel it, follow its Server-Sent Events, and read the
 * stored catalog.
 *
 * One DiscoveryJobs runner per admin server: created when these routes are
 * registered; when the server closes, open event streams are ended and
 * running jobs cancelled before the listener waits for its connections.
 *
 * Status and cancel do not look at the data source in the path (quirk Q13,
 * replicated: a job id alone identifies the job); the event stream checks it
 * first (404 DS). Quirk Q14 is fixed by the engine: the stream ends after
 * the terminal event, and a finished job's terminal events are sent at once.
 * Events are single `data: <JSON>` lines; `: ping` comments every 15 s keep
 * idle proxies from closing the stream.
 */
import type { ServerResponse } from 'node:http';
import { DiscoveryJobs, parseDiscoverRequest, type DiscoverRequest } from '../../catalog/jobs.js';
import { InvalidError, NotFoundError } from '../../store/repo-errors.js';
import { getCatalog } from '../../store/repos/catalog.js';
import { requireDataSource } from '../../store/repos/datasources.js';
import { principalOf } from '../auth/guard.js';
import type { Api, ApiContext } from '../context.js';
import { PlainTextError } from '../errors.js';
import {
  DiscoverBody,
  JobAccepted,
  JobParams,
  JobViewSchema,
  StoredCatalogSchema,
} from '../schemas/catalog.js';
import { adminErrors, IdParams, NoContent, security } from '../schemas/common.js';
import { SECURITY_HEADERS } from '../server.js';
import type { DataSourceRouteDeps } from './datasource-deps.js';

const tags = ['discovery'];
const DEFAULT_PING_MS = 15_000;

/** Set by server.ts's onSend hook on normal replies; a hijacked reply needs them written by hand. */
const STREAM_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
  ...SECURITY_HEADERS,
};

function parseBody(body: unknown): DiscoverRequest {
  try {
    return parseDiscoverRequest(body);
  } catch (error) {
    if (!(error instanceof InvalidError)) throw error;
    throw new PlainTextError(
      422,
      `Failed to deserialize the JSON body into the target type: ${error.message}`,
    );
  }
}

function writeEvent(res: ServerResponse, text: string): void {
  if (!res.destroyed && !res.writableEnded) res.write(text);
}

export function catalogRoutes(deps: DataSourceRouteDeps) {
  return async function registerCatalogRoutes(api: Api, context: ApiContext): Promise<void> {
    const { db } = context.store;
    const jobs = new DiscoveryJobs({
      store: context.store,
      cipher: deps.cipher,
      logger: deps.logger,
      ...(deps.upstreamTimeouts ? { timeouts: deps.upstreamTimeouts } : {}),
    });
    const openStreams = new Set<AbortController>();
    api.addHook('preClose', async () => {
      for (const stream of openStreams) stream.abort();
      await jobs.close();
    });

    api.post(
      '/datasources/:id/discover',
      {
        schema: {
          tags,
          summary: 'Start a discovery, save or sync job (one running job per data source)',
          security,
          params: IdParams,
          body: DiscoverBody,
          response: { 202: JobAccepted, ...adminErrors },
        },
      },
      async (request, reply) => {
        const parsed = parseBody(request.body);
        const accepted = await jobs.submit(request.params.id, parsed, principalOf(request).id);
        return reply.code(202).send(accepted);
      },
    );

    api.get(
      '/datasources/:id/discover/:job_id',
      {
        schema: {
          tags,
          summary: 'Poll a job',
          security,
          params: JobParams,
          response: { 200: JobViewSchema, ...adminErrors },
        },
      },
      async (request) => {
        const view = jobs.get(request.params.job_id);
        if (!view) throw new NotFoundError('Job not found');
        return view;
      },
    );

    api.delete(
      '/datasources/:id/discover/:job_id',
      {
        schema: {
          tags,
          summary: 'Cancel a running job',
          security,
          params: JobParams,
          response: { 204: NoContent, ...adminErrors },
        },
      },
      async (request, reply) => {
        if (!jobs.cancel(request.params.job_id)) throw new NotFoundError('Job not found or not running');
        return reply.code(204).send(null);
      },
    );

    api.get(
      '/datasources/:id/discover/:job_id/events',
      {
        schema: {
          tags,
          summary: "Server-Sent Events of a job (text/event-stream), ending after the job's end",
          security,
          params: JobParams,
          response: { ...adminErrors },
        },
      },
      async (request, reply) => {
        await requireDataSource(db, request.params.id);
        const { job_id } = request.params;
        if (!jobs.get(job_id)) throw new NotFoundError('Job not found');
        if (request.method === 'HEAD') return reply.code(200).type('text/event-stream').send('');

        const abort = new AbortController();
        const events = jobs.events(job_id, abort.signal);
        if (!events) throw new NotFoundError('Job not found'); // pruned in between
        reply.hijack();
        const res = reply.raw;
        // Headers set by earlier hooks (CORS) live on the reply, which a hijacked stream bypasses.
        for (const [name, value] of Object.entries(reply.getHeaders())) {
          if (value !== undefined) res.setHeader(name, value);
        }
        res.writeHead(200, STREAM_HEADERS);
        res.flushHeaders();
        openStreams.add(abort);
        res.on('close', () => abort.abort());
        const ping = setInterval(() => writeEvent(res, ': ping\n\n'), deps.eventPingMs ?? DEFAULT_PING_MS);
        try {
          for await (const event of events) writeEvent(res, `data: ${JSON.stringify(event)}\n\n`);
        } catch (error) {
          deps.logger.warn({ err: (error as Error).message }, 'discovery event stream failed');
        } finally {
          clearInterval(ping);
          openStreams.delete(abort);
          if (!res.writableEnded) res.end();
        }
      },
    );

    api.get(
      '/datasources/:id/catalog',
      {
        schema: {
          tags,
          summary: 'The stored catalog, selected or not (no upstream contact)',
          security,
          params: IdParams,
          response: { 200: StoredCatalogSchema, ...adminErrors },
        },
      },
      async (request) => getCatalog(db, request.params.id),
    );
  };
}
