// The control API's routes over ControlPlaneService: parse, check, call,
// answer. Nothing here decides about computes.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ApiError, badRequest } from './api-error.js';
import type { ControlPlaneService } from './control-plane-service.js';
import type { SuspendTier } from './drivers/driver.js';
import { readJsonBody, sendError, sendJson } from './http-io.js';

export interface ApiHandlerOptions {
  service: ControlPlaneService;
  /** Bearer token every /api route requires; undefined = dev mode, no auth. */
  token?: string;
  logger: Logger;
  /** GET /api/v1/projects/{id}/usage; the route answers 404 without it. */
  usage?: (projectId: string, query: URLSearchParams) => Promise<unknown>;
  /** GET /api/v1/usage: every project's usage (the billing export). */
  allUsage?: (query: URLSearchParams) => Promise<unknown>;
  /** GET /api/v1/usage/metrics: per-project usage counters in Prometheus' text format. */
  usageMetrics?: () => Promise<string>;
  /** Added to /healthz: which control plane answered, whether it leads. */
  health?: () => Record<string, unknown>;
}

type Body = Record<string, unknown> | undefined;
interface Answer {
  status: number;
  body?: unknown;
  /** The body is Prometheus text, not JSON. */
  text?: boolean;
}
type Handler = (params: string[], body: () => Promise<Body>, query: URLSearchParams) => Promise<Answer>;

interface Route {
  method: string;
  /** Path segments; ':' marks a parameter. */
  segments: string[];
  handler: Handler;
}

const MAX_WAKE_TIMEOUT_MS = 600_000;

export function createApiHandler(o: ApiHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const s = o.service;
  const routes: Route[] = [];
  const on = (method: string, path: string, handler: Handler) =>
    routes.push({ method, segments: path.split('/').filter(Boolean), handler });

  on('GET', '/healthz', async () => ok({ ok: true, ...o.health?.() }));
  on('GET', '/api/v1/projects', async () => ok({ projects: await s.listProjects() }));
  on('POST', '/api/v1/projects', async (_, body) => ({ status: 201, body: await s.createProject(await body()) }));
  on('GET', '/api/v1/projects/:id', async ([id]) => ok(await s.getProject(id!)));
  on('PATCH', '/api/v1/projects/:id', async ([id], body) => ok(await s.updateProject(id!, await body())));
  on('DELETE', '/api/v1/projects/:id', async ([id]) => (await s.deleteProject(id!), { status: 204 }));
  on('POST', '/api/v1/projects/:id/compute', async ([id]) => ({ status: 201, body: await s.createCompute(id!) }));
  on('POST', '/api/v1/projects/:id/wake', async ([id], body) => ok(await s.wakeProject(id!, timeoutOf(await body(), s))));
  on('GET', '/api/v1/compute/:id', async ([id]) => ok(await s.getCompute(id!)));
  on('DELETE', '/api/v1/compute/:id', async ([id]) => (await s.deleteCompute(id!), { status: 204 }));
  on('POST', '/api/v1/compute/:id/suspend', async ([id], body) => ok(await s.suspendCompute(id!, tierOf(await body()))));
  on('POST', '/api/v1/compute/:id/resume', async ([id], body) => ok(await s.resumeCompute(id!, timeoutOf(await body(), s))));
  on('POST', '/api/v1/compute/:id/kill-query', async ([id], body) => ok(await s.killQuery(id!, threadOf(await body()))));
  on('GET', '/api/v1/greeting', async () => ok(await s.computeGreeting()));
  // The user name travels in the query string, as data: a path segment of '..' or
  // '%2e%2e' is folded away by URL parsers on either side.
  on('GET', '/api/v1/projects/:id/roles', async ([id], _, query) => ok(await s.role(id!, userOf(query), query.get('fresh') === '1')));
  if (o.usage) on('GET', '/api/v1/projects/:id/usage', async ([id], _, query) => ok(await o.usage!(id!, query)));
  if (o.allUsage) on('GET', '/api/v1/usage', async (_, __, query) => ok(await o.allUsage!(query)));
  if (o.usageMetrics) on('GET', '/api/v1/usage/metrics', async () => ({ status: 200, body: await o.usageMetrics!(), text: true }));

  const expected = o.token === undefined ? undefined : digest(o.token);

  return (req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://control-plane');
        const path = url.pathname;
        const segments = path.split('/').filter(Boolean);
        if (expected && segments[0] === 'api') checkBearer(req, expected);
        const { route, params } = match(routes, req.method ?? 'GET', segments);
        const answer = await route.handler(params, () => readJsonBody(req), url.searchParams);
        if (answer.text) res.writeHead(answer.status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(String(answer.body));
        else sendJson(res, answer.status, answer.body);
      } catch (err) {
        sendError(res, err, o.logger, req);
      }
    })();
  };
}

function ok(body: unknown): Answer {
  return { status: 200, body };
}

function match(routes: Route[], method: string, segments: string[]): { route: Route; params: string[] } {
  const allowed: string[] = [];
  for (const route of routes) {
    const params = matchSegments(route.segments, segments);
    if (!params) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  if (allowed.length) throw new ApiError(405, 'method_not_allowed', `${method} is not allowed here; use ${allowed.join(' or ')}`);
  throw new ApiError(404, 'not_found', `no such endpoint: /${segments.join('/')}`);
}

function matchSegments(pattern: string[], segments: string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i]!.startsWith(':')) {
      try {
        params.push(decodeURIComponent(segments[i]!));
      } catch {
        throw badRequest('invalid_path', `path segment '${segments[i]}' is not valid percent-encoding`);
      }
    } else if (pattern[i] !== segments[i]) {
      return undefined;
    }
  }
  return params;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Compares digests so the time taken says nothing about the token, not even its length. */
function checkBearer(req: IncomingMessage, expected: Buffer): void {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
    throw new ApiError(401, 'unauthorized', 'a valid bearer token is required (Authorization: Bearer <token>)');
  }
}

function userOf(query: URLSearchParams): string {
  const users = query.getAll('user');
  if (users.length !== 1) throw badRequest('invalid_user', 'give exactly one user name: ?user=<name>');
  return users[0]!;
}

function tierOf(body: Body): SuspendTier {
  const tier = body?.tier ?? 'stop';
  if (tier !== 'freeze' && tier !== 'stop') throw badRequest('invalid_tier', `tier must be "freeze" or "stop", not ${JSON.stringify(tier)}`);
  return tier;
}

/** A compute thread id, as KILL takes it. */
function threadOf(body: Body): number {
  const t = body?.thread;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1) throw badRequest('invalid_thread', 'thread must be a positive integer (a compute connection id)');
  return t;
}

function timeoutOf(body: Body, s: ControlPlaneService): number {
  const t = body?.timeoutMs;
  if (t === undefined) return s.wakeTimeoutMs;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_WAKE_TIMEOUT_MS) {
    throw badRequest('invalid_timeout', `timeoutMs must be an integer from 1 to ${MAX_WAKE_TIMEOUT_MS}`);
  }
  return t;
}
