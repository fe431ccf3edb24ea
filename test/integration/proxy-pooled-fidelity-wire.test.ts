// A differential sweep of the pooled modes on the raw wire: a bare client (protocol 4.1,
// no multi-statements, no EOF deprecation, no session tracking) sends the same commands
// directly to mariadbd and through a session-pooled and a transaction-pooled proxy, and
// every byte after its login's OK is compared. The README's "Pool modes" lists the
// deliberate differences, which these steps keep clear of.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mariadb from 'mariadb';
import { mysql2Steps, startFidelityTargets, type FidelityTargets } from '../helpers/pooled-fidelity.js';
import { command, packets, sql, wire } from '../helpers/wire-packets.js';
import { COM_FIELD_LIST, COM_INIT_DB, COM_PING, COM_RESET_CONNECTION, COM_SET_OPTION, COM_STATISTICS } from '../../protocol/index.js';

let t: FidelityTargets;
before(async () => {
  t = await startFidelityTargets();
});
after(async () => {
  await t?.stop();
});

test('bare client: OK packets (affected rows, insert id, info strings, warnings, status) and result metadata, byte for byte', async () => {
  await t.sameAsDirect(async (port) =>
    packets(await wire(port, [
      sql('DROP TABLE IF EXISTS fid.t'),
      sql('CREATE TABLE fid.t (id INT AUTO_INCREMENT PRIMARY KEY, u INT UNIQUE, v INT, w VARCHAR(3))'),
      sql('INSERT INTO fid.t (u, v) VALUES (1, 1), (2, 2), (3, 3)'),
      sql('INSERT INTO fid.t (u, v) VALUES (1, 10), (4, 4) ON DUPLICATE KEY UPDATE v = VALUES(v)'),
      sql('INSERT INTO fid.t (u, v) VALUES (2, 2) ON DUPLICATE KEY UPDATE v = 2'),
      sql('INSERT IGNORE INTO fid.t (u, v) VALUES (3, 30), (5, 5)'),
      sql('UPDATE fid.t SET v = v'),
      sql('UPDATE fid.t SET v = v + 1 WHERE u > 2'),
      sql("UPDATE IGNORE fid.t SET w = 'long' WHERE u = 1"),
      sql('REPLACE INTO fid.t (id, u, v) VALUES (1, 1, 100)'),
      sql('DELETE FROM fid.t WHERE u = 5'),
      sql('SELECT * FROM fid.t ORDER BY id'),
      sql('SELECT * FROM fid.kinds'),
      sql("SELECT CAST('x' AS INT) AS bad, 1/0 AS div0"),
      sql('SELECT 1 FROM fid.t WHERE 0'),
      sql('INSERT INTO fid.t (u) VALUES (1)'),
      sql('SELECT nosuch FROM fid.t'),
      sql('BEGIN'),
      sql('INSERT INTO fid.t (u) VALUES (6)'),
      sql('INSERT INTO fid.t (u) VALUES (6)'),
      sql('SELECT COUNT(*) FROM fid.t'),
      sql('ROLLBACK'),
      sql('SELECT COUNT(*) FROM fid.t'),
      sql('DROP TABLE fid.t'),
    ])),
  );
});

test('bare client: COM_INIT_DB to an unknown database (1049) and to one without privilege (1044), USE likewise, then the database it kept', async () => {
  await t.sameAsDirect(async (port) =>
    packets(await wire(port, [
      command(COM_INIT_DB, 'fid'),
      sql('SELECT DATABASE()'),
      command(COM_INIT_DB, 'nosuch'),
      sql('SELECT DATABASE()'),
      command(COM_INIT_DB, 'secret'),
      sql('SELECT DATABASE()'),
      sql('USE nosuch'),
      sql('USE secret'),
      sql('SELECT DATABASE()'),
      command(COM_INIT_DB, ''),
      sql('SELECT DATABASE()'),
    ], { user: Buffer.from('other'), password: 'other-secret' })),
  );
});

test('bare client: COM_PING, COM_FIELD_LIST, and multi-statements refused until COM_SET_OPTION turns them on, then an error in the middle', async () => {
  const option = (on: boolean) => command(COM_SET_OPTION, Buffer.from([on ? 0 : 1, 0]));
  await t.sameAsDirect(async (port) =>
    packets(await wire(port, [
      command(COM_PING),
      sql('SELECT 1 AS a; SELECT 2 AS b'),
      command(COM_INIT_DB, 'fid'),
      command(COM_FIELD_LIST, Buffer.from('kinds\0', 'utf8')),
      option(true),
      sql("SELECT 1 AS a; DO 0; SELECT 'x' FROM nosuch; SELECT 3 AS c"),
      sql('SELECT 4 AS d'),
      sql('CREATE TEMPORARY TABLE tmp (a INT); INSERT INTO tmp VALUES (1), (2); SELECT COUNT(*) FROM tmp; DROP TEMPORARY TABLE tmp'),
      option(false),
      sql('SELECT 5 AS e; SELECT 6 AS f'),
      command(COM_PING),
      // A reset inside a transaction rolls it back; one between statements is an OK.
      sql('CREATE TABLE IF NOT EXISTS fid.rs (a INT)'),
      sql('BEGIN'),
      sql('INSERT INTO fid.rs VALUES (1)'),
      command(COM_RESET_CONNECTION),
      sql('SELECT COUNT(*) AS n, @@in_transaction AS t, DATABASE() AS d FROM fid.rs'),
      command(COM_RESET_CONNECTION),
      sql('DROP TABLE fid.rs'),
    ])),
  );
});

test('bare client: COM_STATISTICS answers the server statistics line', async () => {
  const seen = await Promise.all(t.targets().map(async ([mode, port]) => [mode, (await wire(port, [command(COM_STATISTICS)])).subarray(4).toString('latin1')] as const));
  for (const [mode, text] of seen) assert.match(text, /^Uptime: \d+ {2}Threads: \d+ {2}Questions: \d+ {2}Slow queries: \d+ {2}Opens: \d+ {2}Open tables: \d+ {2}Queries per second avg: [\d.]+$/, mode);
});


test('a bare SELECT CONNECTION_ID(): the same column metadata as the server gives, for every driver (the value is the session id)', async () => {
  const bare = 'SELECT CONNECTION_ID()';
  await t.sameAsDirect(async (port) => {
    const raw = packets(await wire(port, [sql(bare), sql('SELECT CONNECTION_ID() AS id')]))
      // The row: the id itself differs by design (README, "Connection ids and KILL").
      .filter((p) => !/^(4|5): /.test(p) || p.includes('[fe'));
    const my = await mysql2Steps(port, [bare, 'select connection_id() as id']);
    const m = await mariadb.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret' });
    try {
      const meta = (await m.query(bare)).meta.map((c: any) => ({ name: c.name(), type: c.type, collation: c.collation.index, length: c.columnLength, flags: c.flags, scale: c.scale }));
      const idle = (my as any[]).map((s) => ({ ...s, rows: undefined }));
      return { raw, idle, meta };
    } finally {
      await m.end();
    }
  });
});
