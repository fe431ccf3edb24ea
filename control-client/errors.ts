// Errors a resolver raises. The proxy maps each to what the client sees:
// an unknown project is indistinguishable from a wrong password, a failed
// wake names the project and the cause.

export class ProjectNotFoundError extends Error {
  override readonly name = 'ProjectNotFoundError';
  constructor(readonly project: string) {
    super(`project '${project}' does not exist`);
  }
}

/** quota_exceeded: the project's plan does not let it run now (the control plane said so; waking again will not help). */
export type WakeFailure = 'start_failed' | 'timeout' | 'control_api_unreachable' | 'control_api_error' | 'rate_limited' | 'quota_exceeded';

export class WakeError extends Error {
  override readonly name = 'WakeError';
  constructor(
    readonly project: string,
    readonly reason: WakeFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
