// What the admin console answers each statement's text, without a server: its own
// statements in any case and with a trailing `;`, what clients send at connect, and
// 1064 (or the error a server would give) for the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { runStatement, type ConsoleContext } from '../../proxy/admin-console/console-commands.js';
import { CONSOLE_VERSION_COMMENT } from '../../proxy/admin-console/console-chatter.js';
import { SessionRegistry } from '../../proxy/kill/session-registry.js';
import type { ConsoleReply } from '../../proxy/admin-console/console-reply.js';
import type { ProxyServer } from '../../proxy/server.js';
import type { StatsWindow } from '../../proxy/admin-console/show-stats.js';

function context(): ConsoleContext {
  const sessions = new SessionRegistry(7);
  const proxy = { view: { sessions, cfg: {} }, ready: true, sessions: 0 } as unknown as ProxyServer;
  return {
    proxy,
    drainTimeoutMs: 1_000,
    log: pino({ level: 'silent' }),
    asker: { user: 'admin', client: '127.0.0.1:5000' },
    stats: {} as StatsWindow,
    user: 'admin',
    clientHost: '127.0.0.1',
    connectionId: 3,
  };
}

const run = (sql: string) => runStatement(sql, context());

function errorCode(reply: ConsoleReply): number | undefined {
  return reply.kind === 'error' ? reply.error.code : undefined;
}

test('its own statements: any case, a trailing semicolon, nothing after them', async () => {
  const help = await run('show   help ;');
  assert.equal(help.kind, 'rows');
  assert.ok(help.kind === 'rows' && help.rows.some((r) => r[0] === 'SHOW CLIENTS'));
  assert.equal(errorCode(await run('SHOW HELP please')), 1064);
  assert.equal(errorCode(await run('SHOW')), 1064);
});

test('KILL takes one whole number, with or without CONNECTION; an id this proxy did not issue is 1094', async () => {
  assert.equal(errorCode(await run('KILL abc')), 1064);
  assert.equal(errorCode(await run('KILL 1 2')), 1064);
  assert.equal(errorCode(await run('KILL QUERY 5')), 1064);
  const unknown = await run('kill connection 42');
  assert.equal(errorCode(unknown), 1094);
  const elsewhere = await run(`KILL ${2 ** 30 + 9 * 2 ** 20 + 1}`);
  assert.ok(elsewhere.kind === 'error' && /issued by proxy instance 9, not this one, 7/.test(elsewhere.error.message), JSON.stringify(elsewhere));
});

test('what clients send at connect answers as a server would, columns named as written', async () => {
  const comment = await run('select @@version_comment limit 1');
  assert.deepEqual(comment, { kind: 'rows', columns: [{ name: '@@version_comment', kind: 'text' }], rows: [[CONSOLE_VERSION_COMMENT]] });
  const status = await run('select DATABASE(), USER() limit 1');
  assert.ok(status.kind === 'rows');
  assert.deepEqual(status.columns.map((c) => c.name), ['DATABASE()', 'USER()']);
  assert.deepEqual(status.rows, [[null, 'admin@127.0.0.1']]);
  assert.deepEqual(await run('SELECT @@session.autocommit, CONNECTION_ID()'), {
    kind: 'rows',
    columns: [{ name: '@@session.autocommit', kind: 'text' }, { name: 'CONNECTION_ID()', kind: 'text' }],
    rows: [['1', '3']],
  });
  assert.equal((await run('SET NAMES utf8mb4')).kind, 'ok');
  assert.equal(errorCode(await run('SELECT @@no_such_thing')), 1193);
});

test('anything else: 1064 naming the statement and what the console knows; empty text 1065', async () => {
  const other = await run('SELECT * FROM clients');
  assert.ok(other.kind === 'error' && other.error.code === 1064 && /unknown statement 'SELECT \* FROM clients'; it knows SHOW CLIENTS/.test(other.error.message));
  assert.equal(errorCode(await run('SELECT 1')), 1064);
  assert.equal(errorCode(await run('SELECT USER(')), 1064);
  assert.equal(errorCode(await run('SELECT @@version,')), 1064);
  assert.equal(errorCode(await run(` ${'x '.repeat(100)}`)), 1064);
  assert.equal(errorCode(await run(' ; ')), 1065);
});
