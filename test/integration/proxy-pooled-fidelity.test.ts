// A differential sweep of the pooled modes through drivers: the same steps run with mysql2
// and the npm mariadb connector directly against mariadbd and through a session-pooled
// and a transaction-pooled proxy in front of it, and what the client sees is compared
// (rows, column metadata, OK numbers and info strings, status flags, errors, the session
// state after COM_CHANGE_USER and resets, what one client leaves for another). The
// README's "Pool modes" lists the deliberate differences, which these steps keep clear of.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import mariadb from 'mariadb';
import { mysql2Steps, plain, startFidelityTargets, twoClients, type FidelityTargets } from '../helpers/pooled-fidelity.js';

let t: FidelityTargets;
before(async () => {
  t = await startFidelityTargets();
});
after(async () => {
  await t?.stop();
});

test('mysql2 without CLIENT_FOUND_ROWS: affected rows count changed rows only, as directly', async () => {
  await t.sameAsDirect((port) =>
    mysql2Steps(port, [
      'DROP TABLE IF EXISTS fr',
      'CREATE TABLE fr (id INT PRIMARY KEY, v INT)',
      'INSERT INTO fr VALUES (1, 1), (2, 2)',
      'UPDATE fr SET v = v',
      'UPDATE fr SET v = 2 WHERE id = 2',
      'INSERT INTO fr VALUES (1, 1) ON DUPLICATE KEY UPDATE v = 1',
      'DROP TABLE fr',
    ], { flags: ['-FOUND_ROWS'] }),
  );
});

test('mysql2: text and binary protocol metadata of every column type, warnings on a result, and an OK for an execute', async () => {
  const steps = ['SELECT * FROM kinds', 'SELECT i, d * 2 AS dd, CONCAT(s, l) AS c, NULL AS n FROM kinds', "SELECT CAST('x' AS INT) AS bad", 'DO 1'];
  await t.sameAsDirect((port) => mysql2Steps(port, steps));
  await t.sameAsDirect((port) => mysql2Steps(port, steps, {}, (c, s) => c.execute(s) as Promise<[unknown, unknown]>));
});

test('LOAD DATA LOCAL INFILE: the info string and row counts as directly, and refused (1148) to a client that did not offer local files', async () => {
  const load = (c: mysql.Connection, s: string) =>
    (s.startsWith('LOAD')
      ? c.query({ sql: s, infileStreamFactory: () => Readable.from([Buffer.from('1\ta\n2\tb\n2\tc\nx\n')]) })
      : c.query(s)) as Promise<[unknown, unknown]>;
  const steps = [
    'DROP TABLE IF EXISTS ld',
    'CREATE TABLE ld (id INT PRIMARY KEY, v VARCHAR(5))',
    "LOAD DATA LOCAL INFILE 'rows.tsv' IGNORE INTO TABLE ld",
    'SELECT * FROM ld ORDER BY id',
    'DROP TABLE ld',
  ];
  await t.sameAsDirect((port) => mysql2Steps(port, steps, {}, load));
  await t.sameAsDirect((port) => mysql2Steps(port, steps, { flags: ['-LOCAL_FILES'] }, load));
});

test('a procedure with several results and an OUT parameter: CALL as text and as a prepared statement', async () => {
  await t.sameAsDirect((port) => mysql2Steps(port, ['CALL several(4, @d)', 'SELECT @d AS d']));
  await t.sameAsDirect(async (port) => {
    const conn = await mariadb.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid' });
    try {
      const text = await conn.query('CALL several(5, @d)');
      const prepared = await conn.execute('CALL several(?, ?)', [6, null]);
      const again = await conn.execute('CALL several(?, ?)', [7, null]);
      return plain([text, prepared, again]);
    } finally {
      await conn.end();
    }
  });
});

test('max_statement_time: a statement over it fails with 1969, the session goes on', async () => {
  await t.sameAsDirect((port) =>
    mysql2Steps(port, [
      'SET STATEMENT max_statement_time = 0.05 FOR SELECT SLEEP(2) AS s',
      "SET STATEMENT max_statement_time = 0.05 FOR SELECT BENCHMARK(1000000000, MD5('x')) AS b",
      'SELECT 7 AS v',
    ]),
  );
});

test('COM_CHANGE_USER to another user and back: CURRENT_USER(), privileges and database after each', async () => {
  await t.sameAsDirect(async (port) => {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid' });
    const seen: unknown[] = [];
    const step = async (s: string) => {
      try {
        seen.push((await conn.query(s))[0]);
      } catch (err) {
        seen.push({ errno: (err as { errno?: number }).errno, message: (err as Error).message });
      }
    };
    try {
      await step('SELECT CURRENT_USER() AS u, USER() AS v, DATABASE() AS d');
      await conn.changeUser({ user: 'other', password: 'other-secret', database: 'fid' });
      await step('SELECT CURRENT_USER() AS u, USER() AS v, DATABASE() AS d');
      await step('SELECT COUNT(*) AS n FROM kinds');
      await step('SELECT * FROM secret.nothing');
      await step('USE secret');
      await step('CREATE DATABASE nope');
      await assert.rejects(conn.changeUser({ user: 'app', password: 'wrong' }), (e: any) => seen.push({ errno: e.errno }) > 0);
      return seen;
    } finally {
      conn.destroy();
    }
  });
});

test('mariadb connector: reset() forgets user variables and temporary tables, keeps the database; ping answers', async () => {
  await t.sameAsDirect(async (port) => {
    const conn = await mariadb.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid' });
    try {
      await conn.query('SET @kept = 1');
      await conn.query('CREATE TEMPORARY TABLE tmp_r (a INT)');
      await conn.query("SET time_zone = '+03:00'");
      await conn.reset();
      await conn.ping();
      return plain(await conn.query("SELECT @kept AS v, DATABASE() AS d, @@time_zone AS tz, (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'tmp_r') AS temps"));
    } finally {
      await conn.end();
    }
  });
});

test('a value over 16 MiB both ways: a 17 MiB statement and a 17 MiB result, split over several packets', async () => {
  const size = 17 * 1024 * 1024;
  await t.sameAsDirect(async (port) => {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid', maxPreparedStatements: 1 });
    try {
      await conn.query('DROP TABLE IF EXISTS big');
      await conn.query('CREATE TABLE big (b LONGBLOB)');
      const [ok] = await conn.query('INSERT INTO big VALUES (?)', [Buffer.alloc(size, 0x61)]);
      const [rows] = await conn.query('SELECT b, LENGTH(b) AS n FROM big');
      const row = (rows as any[])[0];
      const [echo] = await conn.query(`SELECT REPEAT('z', ${size}) AS z`);
      const z = (echo as any[])[0].z as string;
      await conn.query('DROP TABLE big');
      return { affected: (ok as mysql.ResultSetHeader).affectedRows, n: row.n, whole: (row.b as Buffer).equals(Buffer.alloc(size, 0x61)), z: z.length === size && /^z+$/.test(z) };
    } finally {
      await conn.end();
    }
  });
});

test('a login naming a database it may not use (1044) or that does not exist (1049) is refused as directly', async () => {
  await t.sameAsDirect(async (port) => {
    const seen: unknown[] = [];
    for (const database of ['secret', 'nosuch']) {
      await mysql.createConnection({ host: '127.0.0.1', port, user: 'other', password: 'other-secret', database }).then(
        async (c) => {
          seen.push('connected');
          await c.end();
        },
        (e: any) => seen.push({ errno: e.errno, sqlState: e.sqlState, message: e.sqlMessage }),
      );
    }
    return seen;
  });
});

test("the character set a client logs in with is its own, after a client of another one used the pooled connection", async () => {
  const probe = "SELECT @@character_set_client AS cc, @@character_set_results AS cr, @@collation_connection AS co, HEX('\u00e9') AS h, '\u00e9' AS e";
  await t.sameAsDirect(async (port) => {
    const seen: unknown[] = [];
    for (const charset of ['UTF8MB4_GENERAL_CI', 'LATIN1_SWEDISH_CI', 'UTF8MB4_UNICODE_CI', 'BINARY']) {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid', charset });
      try {
        const [rows] = await c.query(probe);
        seen.push(plain(rows));
      } finally {
        await c.end();
      }
    }
    return seen;
  });
});

test('mariadb connector (extended metadata, no EOF, session tracking): column metadata, OK results and warnings as directly', async () => {
  await t.sameAsDirect(async (port) => {
    // The collation named, so the connector's connect-time SET NAMES does not depend on the login's OK (see the next test).
    const conn = await mariadb.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid', bigIntAsNumber: true, collation: 'UTF8MB4_GENERAL_CI' });
    const meta = (rows: any) => rows.meta.map((c: any) => ({ name: c.name(), table: c.table(), db: c.db(), type: c.type, dataType: c.dataTypeName, format: c.dataTypeFormat, collation: c.collation.index, length: c.columnLength, flags: c.flags, scale: c.scale }));
    try {
      const text = await conn.query('SELECT * FROM kinds');
      const binary = await conn.execute('SELECT * FROM kinds WHERE i = ?', [1]);
      await conn.query('DROP TABLE IF EXISTS mc');
      await conn.query('CREATE TABLE mc (id INT AUTO_INCREMENT PRIMARY KEY, u INT UNIQUE, v INT)');
      const oks = [
        await conn.query('INSERT INTO mc (u, v) VALUES (1, 1), (2, 2)'),
        await conn.query('INSERT INTO mc (u, v) VALUES (1, 5) ON DUPLICATE KEY UPDATE v = VALUES(v)'),
        await conn.execute('INSERT IGNORE INTO mc (u, v) VALUES (?, ?)', [2, 9]),
        await conn.batch('INSERT INTO mc (u, v) VALUES (?, ?)', [[3, 3], [4, 4]]),
        await conn.query('UPDATE mc SET v = v'),
      ];
      const warned = await conn.query("SELECT CAST('x' AS INT) AS bad");
      await conn.query('DROP TABLE mc');
      return plain({ text: [text, meta(text)], binary: [binary, meta(binary)], oks, warned: [warned, meta(warned)] });
    } finally {
      await conn.end();
    }
  });
});

test('the mariadb connector with default options and mysql2: the collation each ends up with, as directly, also where clients of one connection want different ones', async () => {
  // The connector sends SET NAMES utf8mb4 at connect unless the login OK reports its
  // charset (utf8mb4_general_ci after, against the handshake's utf8mb4_unicode_ci); mysql2
  // sends nothing. Then clients of one connection take turns wanting either collation.
  const probe = "SELECT @@collation_connection AS co, @@character_set_client AS cc, 'ß' = 'ss' AS same, 'a' = 'A' AS ci";
  await t.sameAsDirect(async (port) => {
    const connector = () => mariadb.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid' });
    const a = await connector();
    const b = await connector();
    const m = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid' });
    try {
      const seen: unknown[] = [await a.query(probe), await b.query(probe), (await m.query(probe))[0]];
      await b.query('SET collation_connection = utf8mb4_unicode_ci');
      for (let round = 0; round < 3; round++) seen.push(await a.query(probe), await b.query(probe), (await m.query(probe))[0]);
      // A client that logs in after the others: its own connect, not what they left.
      const c = await connector();
      seen.push(await c.query(probe));
      await c.end();
      return plain(seen);
    } finally {
      await Promise.all([a.end(), b.end(), m.end()]);
    }
  });
});

test('XA: a prepared XA transaction stays with its client; the other client runs as on its own connection', async () => {
  await t.sameAsDirect(async (port, mode) => {
    const xid = `'x-${mode}'`;
    return twoClients(port, [
      [0, 'CREATE TABLE IF NOT EXISTS xa (v VARCHAR(20))'],
      [0, `XA START ${xid}`],
      [0, "INSERT INTO xa VALUES ('a')"],
      [1, 'SELECT COUNT(*) AS n FROM xa'],
      [0, `XA END ${xid}`],
      [1, 'SELECT 1 AS one'],
      [0, `XA PREPARE ${xid}`],
      [1, 'SELECT 2 AS two'],
      [1, "SET STATEMENT lock_wait_timeout = 1 FOR INSERT INTO xa VALUES ('b')"],
      [0, `XA COMMIT ${xid}`],
      [1, 'SELECT v FROM xa ORDER BY v'],
      [0, 'DROP TABLE xa'],
    ]).then((seen) => JSON.parse(JSON.stringify(seen).replaceAll(`x-${mode}`, 'x')));
  });
});

test('BACKUP STAGE, FLUSH TABLES ... FOR EXPORT and FLUSH TABLES WITH READ LOCK stay with the client that took them', async () => {
  await t.sameAsDirect((port) =>
    twoClients(port, [
      [0, 'BACKUP STAGE START'],
      [1, 'BACKUP STAGE END'],
      [0, 'BACKUP STAGE FLUSH'],
      [0, 'BACKUP STAGE END'],
      [0, 'FLUSH TABLES WITH READ LOCK'],
      [1, 'SET STATEMENT lock_wait_timeout = 1 FOR CREATE TABLE ftwrl (a INT)'],
      [1, 'UNLOCK TABLES'],
      [0, 'UNLOCK TABLES'],
      [1, 'SET STATEMENT lock_wait_timeout = 1 FOR CREATE TABLE ftwrl (a INT)'],
      [1, 'DROP TABLE ftwrl'],
      [0, 'CREATE TABLE fe (a INT)'],
      [0, 'FLUSH TABLES fe FOR EXPORT'],
      [1, 'SET STATEMENT lock_wait_timeout = 1 FOR INSERT INTO fe VALUES (1)'],
      [1, 'UNLOCK TABLES'],
      [0, 'SELECT COUNT(*) AS n FROM fe'],
      [0, 'UNLOCK TABLES'],
      [1, 'SET STATEMENT lock_wait_timeout = 1 FOR INSERT INTO fe VALUES (2)'],
      [1, 'DROP TABLE fe'],
    ]),
  );
});

