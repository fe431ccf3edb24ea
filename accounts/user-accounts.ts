// What one user name is served as: the accounts a login by that name can match
// (its own, then the anonymous ones), and the reading of that answer off the wire,
// field by field.
//
// Reserved names (the reader's own account) are served without methods, so no
// login through the proxy can pass as them, and their hashes never leave.
import {
  MAX_USER_LENGTH,
  NATIVE_PASSWORD,
  type Account,
  type AccountPolicy,
  type AuthMethod,
  type SslRequirement,
  type UserAccounts,
} from './account.js';
import { parseStoredCode, type StoredCode } from './stored-code.js';

/** The name the server looks up for a login name: surrounding quotes go, and it is cut at 128 characters. */
export function serverUserName(name: string): string {
  let user = name;
  if (user.length > 1 && user.startsWith("'") && user.endsWith("'")) user = user.slice(1, -1);
  // No longer than the cut in UTF-16 units, so in characters too: every login asks, and most names are short.
  if (user.length <= MAX_USER_LENGTH) return user;
  const chars = [...user];
  return chars.length > MAX_USER_LENGTH ? chars.slice(0, MAX_USER_LENGTH).join('') : user;
}

/** `accounts` in the server's order; `reserved` names are served without methods. */
export function userAccounts(
  accounts: readonly Account[],
  name: string,
  policy: AccountPolicy,
  reserved: ReadonlySet<string>,
  storedCode: StoredCode,
): UserAccounts {
  const user = serverUserName(name);
  const serve = (a: Account): Account => (reserved.has(a.user) ? { ...a, methods: [] } : a);
  const own: Account[] = [];
  const anonymous: Account[] = [];
  for (const a of accounts) {
    if (a.user === user) own.push(serve(a));
    else if (a.user === '') anonymous.push(a);
  }
  return { user, candidates: [...own, ...anonymous], policy, storedCode };
}

export class UserAccountsFormatError extends Error {
  override readonly name = 'UserAccountsFormatError';
}

const VERIFIER = /^(|\*[0-9A-F]{40})$/;
const SSL = new Set<SslRequirement>(['none', 'any', 'x509', 'specified']);

/** Reads an answer as the control plane sends it; anything unexpected throws (fail closed). */
export function parseUserAccounts(body: unknown, user: string): UserAccounts {
  const o = object(body, 'answer');
  if (o.user !== user) throw new UserAccountsFormatError(`answer is for another user`);
  if (!Array.isArray(o.candidates)) throw new UserAccountsFormatError('answer has no candidates list');
  const candidates = o.candidates.map((c, i) => parseAccount(c, `candidates[${i}]`));
  for (const c of candidates) {
    if (c.user !== user && c.user !== '') throw new UserAccountsFormatError("a candidate is neither the user's nor anonymous");
  }
  let storedCode: StoredCode;
  try {
    storedCode = parseStoredCode(o.storedCode);
  } catch (err) {
    throw new UserAccountsFormatError((err as Error).message);
  }
  return { user, candidates, policy: parsePolicy(o.policy), storedCode };
}

function parsePolicy(v: unknown): AccountPolicy {
  const o = object(v, 'policy');
  const lifetime = count(o.defaultPasswordLifetime, 'policy.defaultPasswordLifetime');
  const maxErrors = count(o.maxPasswordErrors, 'policy.maxPasswordErrors');
  if (typeof o.disconnectOnExpiredPassword !== 'boolean' || maxErrors < 1) throw new UserAccountsFormatError('policy is malformed');
  return { defaultPasswordLifetime: lifetime, disconnectOnExpiredPassword: o.disconnectOnExpiredPassword, maxPasswordErrors: maxErrors };
}

function parseAccount(v: unknown, where: string): Account {
  const o = object(v, where);
  const str = (k: string) => {
    if (typeof o[k] !== 'string') throw new UserAccountsFormatError(`${where}.${k} is not a string`);
    return o[k] as string;
  };
  const bool = (k: string) => {
    if (typeof o[k] !== 'boolean') throw new UserAccountsFormatError(`${where}.${k} is not a boolean`);
    return o[k] as boolean;
  };
  const int = (k: string) => {
    if (!Number.isSafeInteger(o[k])) throw new UserAccountsFormatError(`${where}.${k} is not an integer`);
    return o[k] as number;
  };
  if (!Array.isArray(o.methods)) throw new UserAccountsFormatError(`${where}.methods is not a list`);
  const ssl = str('ssl') as SslRequirement;
  if (!SSL.has(ssl)) throw new UserAccountsFormatError(`${where}.ssl is unknown`);
  return {
    user: str('user'),
    host: str('host'),
    methods: o.methods.map((m, i) => parseMethod(m, `${where}.methods[${i}]`)),
    locked: bool('locked'),
    passwordExpired: bool('passwordExpired'),
    passwordLastChanged: int('passwordLastChanged'),
    passwordLifetime: int('passwordLifetime'),
    ssl,
    neverBlocked: bool('neverBlocked'),
    // Absent (an answer from before the field): not known to be unlimited, so treated as limited.
    resourceLimited: o.resourceLimited === undefined ? true : bool('resourceLimited'),
    version: str('version'),
    ...(o.statementTime === undefined ? {} : { statementTime: statementTime(str('statementTime'), where) }),
    ...(o.roleVersion === undefined ? {} : { roleVersion: str('roleVersion') }),
  };
}

function statementTime(v: string, where: string): string {
  if (!/^\d{1,12}\.\d{6}$/.test(v)) throw new UserAccountsFormatError(`${where}.statementTime is not seconds with six decimals`);
  return v;
}

function parseMethod(v: unknown, where: string): AuthMethod {
  const o = object(v, where);
  if (typeof o.plugin !== 'string' || o.plugin === '') throw new UserAccountsFormatError(`${where}.plugin is missing`);
  if (o.verifier === undefined) return { plugin: o.plugin };
  // The message never carries the value: it is a credential.
  if (o.plugin !== NATIVE_PASSWORD || typeof o.verifier !== 'string' || !VERIFIER.test(o.verifier)) {
    throw new UserAccountsFormatError(`${where}.verifier is malformed`);
  }
  return { plugin: o.plugin, verifier: o.verifier };
}

function object(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UserAccountsFormatError(`${where} is not an object`);
  return v as Record<string, unknown>;
}

function count(v: unknown, where: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new UserAccountsFormatError(`${where} is not a count`);
  return v as number;
}
