// Proxy-verified authentication, before any wake: the login is judged as the
// compute would judge the proxy's own connection for it (MariaDB 10.11,
// sql_acl.cc: find_mpvio_user, acl_authenticate), so a refusal costs no compute and
// says what the compute would say.
//
//   1. Which account: the one the compute picks for the user name and the address it
//      sees the proxy connect from (accounts/account-order.ts); with none, 1045.
//   2. Blocked (max_password_errors reached, counted by the proxy): 4150.
//   3. The account's methods in order, each judged on the client's
//      mysql_native_password answer to our scramble (switching the client to it if
//      it answered with another plugin); the last failure's error is the answer
//      (1045 using password YES/NO, 1698 for unix_socket, 1275 for old hashes).
//   4. Right password: TLS the compute will ask of the proxy, then locked (4151),
//      then expired (1862 when the server would disconnect; else the session runs
//      in the sandbox, on its own unpooled connection).
// A right password yields stage1 = SHA1(password), with which the proxy logs in.
//
// Fail closed: whatever the proxy cannot judge is refused, never handed to the
// compute by default. Only an account whose method the compute alone can check
// (ed25519, PAM, ...) goes through to it, and only by the operator's policy.
import {
  CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS,
  NATIVE_PASSWORD_PLUGIN,
  OLD_PASSWORD_PLUGIN,
  SCRAMBLE_LENGTH,
  localSocketOnly,
  parseNativeVerifier,
  type HandshakeResponse,
} from '../protocol/index.js';
import type { Account, UserAccounts } from '../accounts/account.js';
import type { StoredCode } from '../accounts/stored-code.js';
import { pickAccount } from '../accounts/account-order.js';
import { serverUserName } from '../accounts/user-accounts.js';
import { passwordErrorKey } from '../accounts/password-errors.js';
import { RoleVerifierError } from '../control-client/verifiers.js';
import {
  accessDenied,
  accessDeniedNoPassword,
  accountLocked,
  cannotCount,
  cannotVerify,
  malformedHandshake,
  mustChangePasswordLogin,
  oldPasswordRefused,
  userBlocked,
  type ClientError,
} from './client-error.js';
import { ChannelClosedError } from '../socket/packet-channel.js';
import { nativeAuthSwitchRequest } from './verified-auth.js';
import { NativeVerifier } from '../protocol/index.js';
import { countsPasswordErrors, passwordExpiry, transportAccepted } from './account-rules.js';
import { AccountEpochs } from './account-epochs.js';
import { limitKey, type Route } from './routing.js';
import type { SessionContext } from './session-context.js';

/** What to do with users the proxy cannot verify: let the compute judge them, or refuse them. */
export type UnverifiedPolicy = 'passthrough' | 'refuse';

/** The account a verified login got: what the compute will report as CURRENT_USER(). */
export interface MatchedAccount {
  user: string;
  host: string;
  /** What a session of the account keeps from its login: its row's version, its default role's (accounts/default-roles.ts), and their epoch here (account-epochs.ts). */
  accountVersion: string;
  /** The account's MAX_STATEMENT_TIME, which a login sets; undefined when it has none. */
  statementTime: string | undefined;
}

export type CredentialOutcome =
  | {
      kind: 'verified';
      stage1: Buffer;
      account: MatchedAccount;
      /** The password is (or may be) expired: the session runs in the server's sandbox, on its own connection. */
      sandboxed: boolean;
      /** The compute counts the account's connections, logins or statements: the session gets a connection of its own. */
      resourceLimited: boolean;
      /** The address the account was matched for (the proxy's own, as the compute sees it). */
      sourceIp: string;
      /** What the answer said of the compute's stored code (transaction pooling pins by it). */
      storedCode: StoredCode | undefined;
    }
  | { kind: 'passthrough' };

/** One pass over an account's methods. */
type Attempt = { ok: true; stage1: Buffer } | { ok: false; error: ClientError; countsAsPasswordError: boolean } | { ok: 'passthrough' };

interface Login {
  ctx: SessionContext;
  hello: HandshakeResponse;
  route: Route;
  project: string;
  user: string;
  ip: string;
  /** The client's mysql_native_password answer to our scramble, once it gave one. */
  token: Buffer | null;
  /** Something beyond the greeting went to the client: a passthrough can no longer start cleanly. */
  switched: boolean;
}

/**
 * The verdict on a login. Sync for the usual one, a right password on accounts the cache
 * holds (no count of failed logins to read or clear, no switch of the client's plugin),
 * with no promise or await on the way; everything else takes the full path.
 */
export function checkCredentials(ctx: SessionContext, hello: HandshakeResponse, route: Route): CredentialOutcome | Promise<CredentialOutcome> {
  const { verifiers } = ctx.cfg;
  if (!verifiers) return PASSTHROUGH;
  const login: Login = {
    ctx,
    hello,
    route,
    project: limitKey(route),
    user: serverUserName(route.backendUser),
    ip: ctx.cfg.sourceAddress.current(),
    token: hello.authPluginName === null || hello.authPluginName === NATIVE_PASSWORD_PLUGIN ? hello.authResponse : null,
    switched: false,
  };
  const accounts = verifiers.cached?.(login.project, route.backendUser);
  const account = accounts && pickAccount(accounts.candidates, login.user, login.ip);
  if (account && !countsPasswordErrors(account, accounts.policy)) {
    // Judging has no side effects until it switches the client's plugin, which it does not here:
    // any other verdict is reached again, the same, on the full path.
    const attempt = judgeMethods(login, account);
    if (attempt !== NEEDS_ANSWER && attempt.ok === true) return rightPassword(login, accounts, account, attempt.stage1);
  }
  return checkFully(login);
}

const PASSTHROUGH: CredentialOutcome = { kind: 'passthrough' };

async function checkFully(login: Login): Promise<CredentialOutcome> {
  const { ctx, route } = login;
  // From the cache when it has them: no wait, no await.
  let accounts = ctx.cfg.verifiers!.cached?.(login.project, route.backendUser) ?? (await ask(login, false));
  let account = pickAccount(accounts.candidates, login.user, login.ip);
  if (!account) {
    // Perhaps created a moment ago: one read of the compute that started after we asked.
    accounts = await ask(login, true);
    account = pickAccount(accounts.candidates, login.user, login.ip);
  }
  if (!account && ctx.cfg.unknownUsers === 'passthrough') return PASSTHROUGH;
  let attempt = await judge(login, accounts, account);
  if (attempt.ok === false && account) {
    // No match: the password may have changed since the accounts were read.
    const fresh = await ask(login, true).catch(() => null);
    const again = fresh ? pickAccount(fresh.candidates, login.user, login.ip) : undefined;
    if (fresh && again && again.version !== account.version) {
      accounts = fresh;
      account = again;
      attempt = await judge(login, accounts, account);
    }
  }
  if (attempt.ok === 'passthrough') return PASSTHROUGH;
  const key = account ? passwordErrorKey(login.project, account) : undefined;
  if (attempt.ok === false) {
    if (account && key && attempt.countsAsPasswordError && countsPasswordErrors(account, accounts.policy)) {
      await ctx.cfg.passwordErrors.increment(key).catch((err: unknown) => ctx.log.warn({ err }, 'could not count a failed login'));
    }
    throw denied(login, attempt.error);
  }
  // Right password: from here on the verdict is the account's, never a wrong password's.
  account = account!;
  if (key && countsPasswordErrors(account, accounts.policy) && login.token!.length > 0) {
    await ctx.cfg.passwordErrors.clear(key).catch((err: unknown) => ctx.log.warn({ err }, 'could not clear failed logins'));
  }
  return rightPassword(login, accounts, account, attempt.stage1);
}

/** A right password for `account`: what the account itself still says (TLS, lock, expiry), or the session's verdict. */
function rightPassword(login: Login, accounts: UserAccounts, account: Account, stage1: Buffer): CredentialOutcome {
  const { ctx, hello } = login;
  if (!transportAccepted(account, ctx.cfg.backendTls)) throw denied(login, accessDenied(login.user, login.ip, login.token!.length > 0));
  if (account.locked) throw denied(login, accountLocked());
  const expiry = passwordExpiry(account, accounts.policy, Date.now());
  const copes = (hello.capabilities & CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS) !== 0;
  if (expiry === 'expired' && accounts.policy.disconnectOnExpiredPassword && !copes) throw denied(login, mustChangePasswordLogin());
  return {
    kind: 'verified',
    stage1,
    account: {
      user: account.user,
      host: account.host,
      accountVersion: epochs.keyVersion(login.project, account),
      statementTime: account.statementTime,
    },
    sandboxed: expiry !== 'valid',
    resourceLimited: account.resourceLimited,
    sourceIp: login.ip,
    storedCode: accounts.storedCode,
  };
}

/** Versions with epochs, for this process's pools. */
const epochs = new AccountEpochs();

async function ask(login: Login, fresh: boolean): Promise<UserAccounts> {
  const { verifiers } = login.ctx.cfg;
  try {
    return fresh
      ? await verifiers!.refresh(login.project, login.route.backendUser, login.ctx.abort.signal)
      : await verifiers!.get(login.project, login.route.backendUser, login.ctx.abort.signal);
  } catch (err) {
    if (!(err instanceof RoleVerifierError)) throw err;
    // No verdict is not a wrong password, and never a reason to let the compute judge instead.
    throw cannotVerify(login.project, err);
  }
}

/** Blocked, then the methods in order; no account admits the address: 1045. */
async function judge(login: Login, accounts: UserAccounts, account: Account | undefined): Promise<Attempt> {
  if (!account) {
    // The server fails an unknown user against a stand-in password account, which reads the answer first.
    const usingPassword = (login.token ?? login.hello.authResponse).length > 0;
    const error = login.token && !nativeAnswerLength(login.token) ? malformedHandshake(undefined) : accessDenied(login.user, login.ip, usingPassword);
    return { ok: false, error, countsAsPasswordError: false };
  }
  if (countsPasswordErrors(account, accounts.policy)) {
    let failures: number;
    try {
      failures = await login.ctx.cfg.passwordErrors.count(passwordErrorKey(login.project, account));
    } catch (err) {
      throw cannotCount(login.project, err);
    }
    if (failures >= accounts.policy.maxPasswordErrors) return { ok: false, error: userBlocked(), countsAsPasswordError: false };
  }
  const attempt = judgeMethods(login, account);
  if (attempt !== NEEDS_ANSWER) return attempt;
  // The methods before the first that needs the answer only refused: judged again, they refuse the same.
  await nativeAnswer(login);
  return judgeMethods(login, account) as Attempt;
}

/** judgeMethods stopped at a mysql_native_password method: the client answered with another plugin. */
const NEEDS_ANSWER = Symbol('needs the native answer');

/** The account's methods in order, on the answer the client gave; NEEDS_ANSWER when it gave none fit for a method. */
function judgeMethods(login: Login, account: Account): Attempt | typeof NEEDS_ANSWER {
  const usingPassword = (login.token ?? login.hello.authResponse).length > 0;
  // Filled in by a method that refused; the refusal is made only when needed (an
  // error's stack trace costs more than checking a right password).
  let last: Attempt | undefined;
  for (const method of account.methods) {
    const { plugin } = method;
    if (plugin === NATIVE_PASSWORD_PLUGIN && method.verifier !== undefined) {
      const token = login.token;
      if (!token) return NEEDS_ANSWER;
      if (!nativeAnswerLength(token)) {
        // Neither no password nor a scramble: the server's plugin answers 1043 (CR_AUTH_HANDSHAKE), no password error.
        last = { ok: false, error: malformedHandshake(undefined), countsAsPasswordError: false };
        continue;
      }
      const stage1 = verifierOf(method as { verifier: string }).verify(token, login.ctx.scramble);
      if (stage1) return { ok: true, stage1 };
      // The server counts a failure only when a password was sent (handle_password_errors).
      last = { ok: false, error: accessDenied(login.user, login.ip, token.length > 0), countsAsPasswordError: token.length > 0 };
    } else if (plugin === NATIVE_PASSWORD_PLUGIN) {
      // A stored string that is no hash (root's 'invalid'): the server refuses before reading any answer.
      last = { ok: false, error: accessDenied(login.user, login.ip, true), countsAsPasswordError: false };
    } else if (localSocketOnly(plugin)) {
      last = { ok: false, error: accessDeniedNoPassword(login.user, login.ip), countsAsPasswordError: false };
    } else if (plugin === OLD_PASSWORD_PLUGIN) {
      last = { ok: false, error: oldPasswordRefused(login.user, login.ip), countsAsPasswordError: false };
    } else {
      // ed25519, PAM, GSSAPI...: only the compute can judge; the compute is asked only by policy.
      if (!login.switched && login.ctx.cfg.otherPlugins === 'passthrough') return { ok: 'passthrough' };
      last = { ok: false, error: accessDenied(login.user, login.ip, true), countsAsPasswordError: false };
    }
  }
  // With no method at all (an unreadable row, a reserved name), no password passes.
  return last ?? { ok: false, error: accessDenied(login.user, login.ip, usingPassword), countsAsPasswordError: false };
}

/** mysql_native_password answers are empty (no password) or a 20-byte scramble; the server reads nothing else. */
function nativeAnswerLength(token: Buffer): boolean {
  return token.length === 0 || token.length === SCRAMBLE_LENGTH;
}

/** The client's mysql_native_password answer, switching it to that plugin (it answered with another). */
async function nativeAnswer(login: Login): Promise<Buffer> {
  const { ctx } = login;
  ctx.client.write(nativeAuthSwitchRequest(ctx.scramble), ctx.client.nextSequenceId);
  login.switched = true;
  try {
    login.token = (await ctx.client.read(ctx.cfg.handshakeTimeoutMs, 'auth switch response')).payload;
  } catch (err) {
    // A client that hangs up instead of answering the switch is a failed login too.
    if (err instanceof ChannelClosedError) ctx.cfg.limits.recordAuthFailure(login.project, ctx.clientAddress);
    throw err;
  }
  return login.token;
}

/**
 * A method's verifier, parsed once per account answer (the verifier cache hands the
 * same objects to every login until it reads the accounts again).
 */
function verifierOf(method: { verifier: string }): NativeVerifier {
  let v = parsedVerifiers.get(method);
  if (!v) {
    v = new NativeVerifier(parseNativeVerifier(method.verifier));
    parsedVerifiers.set(method, v);
  }
  return v;
}

const parsedVerifiers = new WeakMap<object, NativeVerifier>();

function denied(login: Login, refusal: ClientError): ClientError {
  login.ctx.cfg.limits.recordAuthFailure(login.project, login.ctx.clientAddress);
  return refusal;
}
