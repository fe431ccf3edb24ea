// A command's option table types its parsed values: names are exactly the table's,
// each value has its kind's type, and options without a default may be absent.
// The type checks below run at build time: a regression fails `npm run build`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, formatHelp, parseOptions } from '../../cli/options.js';
import { defineOptions, type OptionValues } from '../../cli/option-spec.js';
import type { VERIFY_OPTIONS } from '../../cli/proxy-options.js';
import type { BackendAddress } from '../../backend/address.js';

const TABLE = defineOptions({
  port: { kind: 'port', env: 'T_PORT', default: '3306', help: 'a port' },
  timeout: { kind: 'duration', env: 'T_TIMEOUT', default: '2s', help: 'a duration' },
  limit: { kind: 'count', env: 'T_LIMIT', help: 'a count, no default' },
  tls: { kind: 'boolean', env: 'T_TLS', default: 'false', help: 'a boolean' },
  mode: { kind: 'choice', env: 'T_MODE', choices: ['pipe', 'session'], default: 'pipe', help: 'a choice' },
  backend: { kind: 'host-port', env: 'T_BACKEND', help: 'host:port' },
  level: { kind: 'level', env: 'T_LEVEL', default: 'info', help: 'a log level' },
  name: { kind: 'string', env: 'T_NAME', help: 'a string', secret: true },
});

/** True only when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const exact: Equal<
  OptionValues<typeof TABLE>,
  {
    readonly port: number;
    readonly timeout: number;
    readonly limit?: number;
    readonly tls: boolean;
    readonly mode: 'pipe' | 'session';
    readonly backend?: BackendAddress;
    readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    readonly name?: string;
  }
> = true;
const poolMode: Equal<OptionValues<typeof VERIFY_OPTIONS>['pool-mode'], 'pipe' | 'session' | 'transaction'> = true;

test('values are typed by the table: numbers, booleans, the choices, host and port; absent without a default', () => {
  const { values, help } = parseOptions(TABLE, ['--tls', 'true', '--backend', 'db:3307', '--mode', 'session'], {});
  assert.equal(help, false);
  assert.deepEqual(values, { port: 3306, timeout: 2_000, tls: true, mode: 'session', backend: { host: 'db', port: 3307 }, level: 'info' });
  assert.equal(values.limit, undefined);
  // @ts-expect-error a misspelt name is a compile error, not a silent undefined
  assert.equal(values.prot, undefined);
  // @ts-expect-error a boolean is not compared with a string
  assert.equal(values.tls === 'true', false);
  // @ts-expect-error a choice outside the table's
  assert.equal(values.mode === 'transaction', false);
  assert.ok(exact && poolMode);
});

test('a flag wins over its environment variable, which wins over the default', () => {
  assert.equal(parseOptions(TABLE, [], { T_PORT: '3307' }).values.port, 3307);
  assert.equal(parseOptions(TABLE, ['--port', '3308'], { T_PORT: '3307' }).values.port, 3308);
  assert.equal(parseOptions(TABLE, [], { T_TLS: 'true' }).values.tls, true);
  assert.equal(parseOptions(TABLE, [], { T_LIMIT: '0' }).values.limit, 0);
  assert.equal(parseOptions(TABLE, ['--help'], {}).help, true);
});

test('every bad value is reported at once, naming where it came from', () => {
  assert.throws(
    () => parseOptions(TABLE, ['--tls', 'yes', '--timeout', 'soon'], { T_MODE: 'transaction' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.problems.length === 3 &&
      err.problems.includes("--tls: expected one of true, false, got 'yes'") &&
      err.problems.includes("--timeout: expected a duration like 500ms, 2s, 5m or 1h, got 'soon'") &&
      err.problems.includes("T_MODE: expected one of pipe, session, got 'transaction'"),
  );
  assert.throws(() => parseOptions(TABLE, ['--prot', '1'], {}), /Unknown option '--prot'/);
});

test('--help shows a boolean as <true|false> and hides secrets', () => {
  const text = formatHelp('test', 'Summary.', TABLE);
  assert.match(text, /--tls <true\|false> +a boolean \(default: false\) \[T_TLS\]/);
  assert.match(text, /--mode <pipe\|session> +a choice \(default: pipe\) \[T_MODE\]/);
  assert.match(text, /--name <string> +a string \[T_NAME\]/);
});
