// Small things every Kubernetes call here needs: reading the errors
// `@kubernetes/client-node` throws, and tying a call to an AbortSignal. Shared by the
// proxy's direct Kubernetes mode and the control plane's Kubernetes driver.
import { ApiException, Observable, type ConfigurationOptions, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

/** The HTTP status of a failed API call (ApiException, or a failed watch request). */
export function kubeStatusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => kubeStatusCode(err) === 404;
export const isAlreadyExists = (err: unknown): boolean => kubeStatusCode(err) === 409;

/**
 * A one-line description of a failed call. ApiException's own message embeds
 * the whole body and the response headers; the Status object's `message`
 * (e.g. `statefulsets.apps "x" is forbidden: ...`) is what an operator needs.
 */
export function kubeErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const status = parseStatus(err.body);
    const text = status?.message ?? status?.reason ?? 'no details';
    return `HTTP ${err.code}: ${text}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

function parseStatus(body: unknown): { message?: string; reason?: string } | undefined {
  if (body && typeof body === 'object') return body as { message?: string; reason?: string };
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body) as { message?: string; reason?: string };
  } catch {
    return body ? { message: body.slice(0, 200) } : undefined;
  }
}

/**
 * Per-call options that abort the HTTP request with `signal`: a hung API
 * server costs a bounded wait and no lingering socket.
 */
export function abortable(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
