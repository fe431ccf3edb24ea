// Reading JSON requests and writing JSON answers on bare node:http, with the
// limits an API facing the network needs: bounded bodies, errors that are
// always `{"error":{"code","message"}}`, and internal detail kept in the log.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ApiError, badRequest } from './api-error.js';

export const MAX_BODY_BYTES = 64 * 1024;

/** The request's JSON object, or undefined for an empty body. */
export async function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Record<string, unknown> | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw badRequest('invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest('invalid_body', 'request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'body_too_large', `request body exceeds ${limit} bytes`);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  if (status === 204) {
    res.writeHead(204).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** ApiErrors go out as they are; anything else is logged and answered with a generic 500. */
export function sendError(res: ServerResponse, err: unknown, log: Logger, req: IncomingMessage): void {
  if (err instanceof ApiError) {
    if (err.status === 413) res.setHeader('connection', 'close'); // the rest of the body is not read
    if (err.status === 401) res.setHeader('www-authenticate', 'Bearer');
    sendJson(res, err.status, err.toJSON());
    return;
  }
  log.error({ err, method: req.method, url: req.url }, 'request failed');
  sendJson(res, 500, { error: { code: 'internal_error', message: 'internal error; see the control-plane log' } });
}
