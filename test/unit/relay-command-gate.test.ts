// The streaming relays (pipe, session pooling) hold back a KILL until the proxy has
// decided what replaces it, keep everything the client sent after it in order, and
// know when a client leaves while its statement may run. Over loopback socket pairs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { framePacket } from '../../protocol/framing.js';
import { writeComQuery } from '../../protocol/commands/com-query.js';
import { writeComPing } from '../../protocol/commands/simple-commands.js';
import { relayPipe } from '../../relay/pipe-relay.js';
import { relaySession } from '../../relay/session-relay.js';
import { answerStatement, type KillAction, type KillHook, type KillStatement } from '../../relay/intercepted-command.js';
import { ID_REFUSED } from '../../relay/id-uses.js';
import { socketPair, collect } from '../helpers/socket-pair.js';

const q = (sql: string) => framePacket(writeComQuery(sql), 0);
const PING = framePacket(writeComPing(), 0);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A hook that answers after `ms` with what `answer` says, and records what it was asked. */
function slowHook(ms: number, answer: (s: KillStatement) => KillAction): KillHook & { asked: KillStatement[] } {
  const asked: KillStatement[] = [];
  return {
    asked,
    kill: async (s) => {
      asked.push(s);
      await delay(ms);
      return answer(s);
    },
  };
}

test('pipe relay: a KILL is replaced once decided, and what the client pipelined after it follows in order', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  const hook = slowHook(40, () => ({ kind: 'send', sql: 'KILL QUERY 17' }));
  const done = relayPipe(client, backend, Buffer.alloc(0), Buffer.alloc(0), { sessionId: 1 << 30, hook });
  clientApp.write(Buffer.concat([q('SELECT 1'), q('KILL QUERY 1073741830'), PING, q('SELECT 2')]));
  await delay(15);
  assert.ok(atCompute().equals(q('SELECT 1')), 'nothing after the KILL goes on while it is decided');
  await delay(80);
  assert.ok(atCompute().equals(Buffer.concat([q('SELECT 1'), q('KILL QUERY 17'), PING, q('SELECT 2')])));
  assert.deepEqual(hook.asked, [{ kind: 'thread', scope: 'query', hardness: null, target: '1073741830' }]);
  clientApp.end();
  assert.equal((await done).end, 'client_closed');
  compute.destroy();
});

test('pipe relay: answers become statements for the compute (DO 0, SIGNAL), a pass sends the KILL as it was', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  const answers: KillAction[] = [
    { kind: 'ok' },
    { kind: 'error', error: { code: 1094, sqlState: 'HY000', message: 'Unknown thread id: 9' } },
    { kind: 'pass' },
  ];
  const hook: KillHook = { kill: () => answers.shift()! };
  const done = relayPipe(client, backend, Buffer.alloc(0), Buffer.alloc(0), { sessionId: 1 << 30, hook });
  clientApp.write(Buffer.concat([q('KILL 1'), q('kill 2'), q('  KILL 3')]));
  await delay(50);
  const expected = Buffer.concat([
    q('DO 0'),
    q("SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1094, MESSAGE_TEXT = 'Unknown thread id: 9'"),
    q('  KILL 3'),
  ]);
  assert.ok(atCompute().equals(expected), atCompute().toString('latin1'));
  clientApp.end();
  await done;
  compute.destroy();
});

test('pipe relay: a client that leaves while its statement runs leaves the compute connection open for the caller', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  collect(compute);
  const done = relayPipe(client, backend, Buffer.alloc(0), Buffer.alloc(0), { sessionId: 1 << 30 });
  clientApp.write(q('SELECT SLEEP(600)'));
  await delay(30);
  // Gone for good: the connection reset (a FIN alone may be a half-close, see relay-half-close.test.ts).
  clientApp.resetAndDestroy();
  const outcome = await done;
  assert.deepEqual(outcome, { end: 'client_error', statementRunning: true });
  await delay(30);
  assert.equal(backend.destroyed, false, 'open until the statement is stopped');
  backend.destroy();
  compute.destroy();

  // Answered: nothing runs, and the compute connection is closed with the client.
  const [client2, clientApp2] = await socketPair();
  const [backend2, compute2] = await socketPair();
  collect(compute2);
  const done2 = relayPipe(client2, backend2, Buffer.alloc(0), Buffer.alloc(0), { sessionId: 1 << 30 });
  clientApp2.write(q('SELECT 1'));
  await delay(20);
  compute2.write(Buffer.from('a reply'));
  await delay(20);
  clientApp2.destroy();
  assert.deepEqual(await done2, { end: 'client_closed', statementRunning: false });
  compute2.destroy();
});

test('session relay: a bare SELECT CONNECTION_ID() becomes the session id, named as the server would name it; any other use is refused', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  const done = relaySession(client, Buffer.alloc(0), { socket: backend }, { sessionId: 1_073_741_999 });
  clientApp.write(Buffer.concat([q('select connection_id()'), q('SELECT CONNECTION_ID() AS id'), q('SELECT CONNECTION_ID() + 1')]));
  await delay(30);
  const expected = Buffer.concat([
    q('select CAST(1073741999 AS UNSIGNED) AS `connection_id()`'),
    q('SELECT CAST(1073741999 AS UNSIGNED) AS id'),
    q(answerStatement({ kind: 'error', error: ID_REFUSED })),
  ]);
  assert.ok(atCompute().equals(expected), atCompute().toString('latin1'));
  clientApp.resetAndDestroy();
  const outcome = await done;
  assert.equal(outcome.statementRunning, true, 'three commands went and no reply came');
  for (const s of [backend, compute]) s.destroy();
});
