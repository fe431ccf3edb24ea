// A small client for the control API in tests: JSON in, status and parsed JSON out.
import { request } from 'undici';

export interface ApiAnswer {
  status: number;
  // Tests inspect arbitrary JSON shapes.
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export type ApiCall = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiAnswer>;

export function controlApi(baseUrl: string, token?: string): ApiCall {
  return async (method, path, body, headers = {}) => {
    const res = await request(`${baseUrl}${path}`, {
      method: method as 'GET',
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
}
