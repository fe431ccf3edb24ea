// Every real client available here, connecting with its defaults directly and through a
// session- and a transaction-pooled proxy, must end with the session it gets directly:
// each sends different things at connect (SET NAMES, SET autocommit, sql_mode,
// session_track_*, capability flags, the handshake collation), decided partly by what
// the greeting and the login's OK say, so a proxy that says something else changes the
// session (the npm mariadb connector once ended with utf8mb4_unicode_ci instead of
// utf8mb4_general_ci). A second client of the same driver changes replayed settings
// between the first one's reads, and a third logs in after it quit, so replay and reset
// are read back too; in transaction pooling they should share one compute connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startFidelityTargets, startPooledProxy, type FidelityTargets } from '../helpers/pooled-fidelity.js';
import {
  cliProbe,
  javaProbe,
  mariadbConnectorProbe,
  mysql2Probe,
  perlProbe,
  phpProbe,
  pymysqlProbe,
  removeJavaProbe,
  type ProbeRows,
  type ProbeTarget,
} from '../helpers/connect-probes.js';

let t: FidelityTargets;
/** A server whose default character set is utf8mb4, as Debian's configuration sets it (the other runs latin1, mariadbd's own default). */
let utf8mb4: FidelityTargets;
before(async () => {
  [t, utf8mb4] = await Promise.all([
    startFidelityTargets(),
    startFidelityTargets(['--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci']),
  ]);
});
after(async () => {
  await Promise.all([t?.stop(), utf8mb4?.stop()]);
  await removeJavaProbe();
});

interface Driver {
  name: string;
  probe(target: ProbeTarget): Promise<ProbeRows>;
  /** Compute connections its three clients open in transaction pooling (1: A, B and C share one). */
  computeConnections?: number;
  /** It takes its connection collation from the greeting's: checked on the first client of a fresh proxy too. */
  readsGreeting?: boolean;
}

const DRIVERS: Driver[] = [
  { name: 'mysql2', probe: mysql2Probe },
  {
    name: 'npm mariadb connector',
    probe: mariadbConnectorProbe,
    // Its greeting's charset not utf8mb4, it sends SET NAMES utf8mb4 (utf8mb4_general_ci); else it keeps its handshake's utf8mb4_unicode_ci.
    readsGreeting: true,
  },
  { name: 'mariadb command line (C.UTF-8 locale)', probe: (p) => cliProbe(p, 'C.UTF-8') },
  { name: 'mariadb command line (C locale)', probe: (p) => cliProbe(p, 'C') },
  // Autocommit off by default (SET AUTOCOMMIT = 0 at connect): README, "Pool modes", it holds its connection while off.
  { name: 'PyMySQL', probe: pymysqlProbe, computeConnections: 2 },
  // mysqlnd takes the greeting's charset: latin1 instead of utf8mb4.
  { name: 'PHP mysqli (mysqlnd)', probe: (p) => phpProbe(p, 'mysqli'), readsGreeting: true },
  { name: 'PHP PDO_MYSQL (mysqlnd)', probe: (p) => phpProbe(p, 'pdo'), readsGreeting: true },
  // DBD::MariaDB 1.22 sends SET character_set_server = 'utf8mb4' and SET collation_server = 'utf8mb4_unicode_ci' at connect: replayed, not pinned.
  { name: 'Perl DBD::MariaDB', probe: perlProbe },
  // Connector/J 2.7 asks for utf8mb4_unicode_ci in its handshake unless the greeting's charset is a utf8mb4 one, which it then takes.
  { name: 'Connector/J', probe: javaProbe, readsGreeting: true },
];

/**
 * What legitimately differs, as the README's "Pool modes" says: transaction pooling
 * turns session_track_state_change on for its compute connections (it reads every OK's
 * session-state report), so a client that reads the variable there sees it on.
 */
function expected(direct: ProbeRows, mode: string): ProbeRows {
  if (mode !== 'transaction') return direct;
  const STATE_CHANGE = 9;
  const on: Record<string, string> = { '0': '1', OFF: 'ON' };
  return Object.fromEntries(
    Object.entries(direct).map(([label, values]) => {
      const v = values.split('\t');
      v[STATE_CHANGE] = on[v[STATE_CHANGE]!] ?? v[STATE_CHANGE]!;
      return [label, v.join('\t')];
    }),
  );
}

const at = (port: number): ProbeTarget => ({ port, user: 'app', password: 'app-secret', database: 'fid' });

/** The driver's reads directly (once per server), each label checked. */
const directRows = new Map<string, Promise<ProbeRows>>();
async function directly(d: Driver, server: FidelityTargets): Promise<ProbeRows> {
  const key = `${d.name} ${server.db.port}`;
  if (!directRows.has(key)) directRows.set(key, d.probe(at(server.db.port)));
  const rows = await directRows.get(key)!;
  if (process.env.FIDELITY_DUMP) console.log(d.name, 'direct', rows);
  assert.deepEqual(Object.keys(rows).sort(), d.name.startsWith('mariadb command line') ? ['a1', 'a2', 'b1', 'c1'] : ['a1', 'a2', 'b1', 'b2', 'c1']);
  return rows;
}

async function compare(d: Driver, server: FidelityTargets, mode: string, port: number): Promise<void> {
  const reference = await directly(d, server);
  const got = await d.probe(at(port));
  if (process.env.FIDELITY_DUMP) console.log(d.name, mode, got);
  assert.deepEqual(got, expected(reference, mode), `${d.name}: ${mode} pooling differs from direct`);
}

/** Connections of `app` the server opened after `since` (a connection id) and still has: the pool keeps them. */
async function computeConnectionsSince(server: FidelityTargets, since: number | null): Promise<number> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: server.db.port, user: 'app', password: 'app-secret' });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      "SELECT CONNECTION_ID() AS me, COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'app' AND ID > ? AND ID <> CONNECTION_ID()",
      [since ?? 2 ** 62],
    );
    return since === null ? Number(rows[0]!.me) : Number(rows[0]!.n);
  } finally {
    await c.end();
  }
}

const opened = new Map<string, number>();

for (const d of DRIVERS) {
  test(`${d.name} with its defaults, session pooling: every read of its session as directly`, async () => {
    await compare(d, t, 'session', new Map(t.targets()).get('session')!);
  });

  test(`${d.name} with its defaults, transaction pooling: every read of its session as directly`, async () => {
    const since = await computeConnectionsSince(t, null);
    await compare(d, t, 'transaction', new Map(t.targets()).get('transaction')!);
    opened.set(d.name, await computeConnectionsSince(t, since));
  });

  test(`${d.name}, transaction pooling: its clients share compute connections`, () => {
    assert.equal(opened.get(d.name), d.computeConnections ?? 1, 'compute connections its three clients opened');
  });
}

// The greeting goes out before the proxy knows the client's compute, so a driver that
// reads the server's charset there sees what the proxy last learned from a compute: in
// front of a static backend, the backend's greeting, read before the proxy's start
// (with a control plane the proxy cannot know it before the client names its project:
// README, "Pool modes").
for (const d of DRIVERS.filter((d) => d.readsGreeting)) {
  for (const mode of ['session', 'transaction']) {
    test(`${d.name}, the first client of a fresh ${mode}-pooled proxy in front of a utf8mb4 server: as directly`, async () => {
      const proxy = await startPooledProxy(utf8mb4.db, mode);
      try {
        await compare(d, utf8mb4, mode, proxy.port);
      } finally {
        await proxy.kill('SIGTERM');
      }
    });
  }
}
