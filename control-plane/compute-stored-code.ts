// What the roles answer says of a compute's stored code (accounts/stored-code.ts): the
// names transaction pooling pins on, as last read with the accounts (compute-roles.ts),
// and what the control plane says about them in its log.
import type { Logger } from 'pino';
import type { ComputeAccounts } from '../accounts/account.js';
import { STORED_CODE_PROCEDURE, type StoredCode } from '../accounts/stored-code.js';
import { CONTROL_USER } from './control-account.js';
import type { ComputeRecord } from './records.js';

/** What makes a compute provisioned before the stored-code procedure poolable again. */
const ADVICE = `to pool it, the project's owner creates ${STORED_CODE_PROCEDURE} and grants EXECUTE on it to ${CONTROL_USER} (README, "Stored code and transaction pooling")`;

/**
 * The compute's stored code as last read. A compute that never ran (resumeCount 0)
 * holds only what provisioning put there, none of which pins; any other compute not
 * read yet (or read by a control plane from before stored code was) is unknown, never
 * "none": proxies then pin.
 */
export function storedCodeOf(accounts: ComputeAccounts | undefined, compute: ComputeRecord | undefined): StoredCode {
  if (accounts?.storedCode) return accounts.storedCode;
  if (compute && compute.resumeCount === 0 && compute.control && !accounts) return { readAt: compute.createdAt, names: [] };
  const reason = !compute ? 'the project has no compute' : accounts ? 'read by a control plane from before stored code was read' : 'not read yet';
  return { readAt: accounts?.readAt ?? compute?.createdAt ?? new Date(0).toISOString(), names: null, reason };
}

/** Says when a compute's stored code that pins changed, and once when it cannot be listed (until it can). */
export class StoredCodeNotes {
  private readonly unknown = new Set<string>();

  constructor(private readonly logger: Logger) {}

  read(c: ComputeRecord, before: StoredCode | undefined, now: StoredCode): void {
    const fields = { computeId: c.id, projectId: c.projectId };
    if (now.names === null) {
      if (this.unknown.has(c.id)) return;
      this.unknown.add(c.id);
      this.logger.warn({ ...fields, reason: now.reason }, `cannot list the compute's stored code, so proxies pin every transaction-pooled session to it; ${ADVICE}`);
      return;
    }
    if (this.unknown.delete(c.id)) this.logger.info(fields, "compute's stored code listed again");
    if ((before?.names ?? []).join(',') !== now.names.join(',')) {
      this.logger.info({ ...fields, names: now.names.length }, 'stored code that pins transaction-pooled sessions changed');
    }
  }

  /** The compute was deleted. */
  forget(computeId: string): void {
    this.unknown.delete(computeId);
  }
}
