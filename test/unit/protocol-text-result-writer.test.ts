// The proxy's own result sets, byte for byte as MariaDB 10.11 sends `SELECT
// CONNECTION_ID()` (captured from mariadbd for each capability combination).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BINARY_COLLATION,
  BINARY_FLAG,
  CLIENT_DEPRECATE_EOF,
  MYSQL_TYPE_LONG,
  NOT_NULL_FLAG,
  SERVER_STATUS_AUTOCOMMIT,
  TextResultReader,
  UNSIGNED_FLAG,
  framePacket,
  writeTextResultSet,
} from '../../protocol/index.js';
import { CLIENT_CAPS } from '../integration/pool-support.js';

/** PROGRESS | STMT_BULK_OPERATIONS | EXTENDED_TYPE_INFO | CACHE_METADATA: what MariaDB Connector/C and the npm connector ask for. */
const MARIADB_EXT = 0x1d;
const WITH_EOF = (CLIENT_CAPS & ~CLIENT_DEPRECATE_EOF) >>> 0;

// The reply of mariadbd 10.11.19 to `SELECT CONNECTION_ID()` on thread 30, 31, 32, 33.
const CAPTURED: Array<{ label: string; caps: number; ext: number; thread: number; hex: string }> = [
  {
    label: 'EOF packets',
    caps: WITH_EOF,
    ext: 0,
    thread: 30,
    hex: '010000010125000002036465660000000f434f4e4e454354494f4e5f49442829000c3f000a00000003a10000000005000003fe000002000300000402333005000005fe00000200',
  },
  {
    label: 'CLIENT_DEPRECATE_EOF',
    caps: CLIENT_CAPS,
    ext: 0,
    thread: 31,
    hex: '010000010125000002036465660000000f434f4e4e454354494f4e5f49442829000c3f000a00000003a1000000000300000302333107000004fe000002000000',
  },
  {
    label: 'CLIENT_DEPRECATE_EOF and MariaDB metadata extensions',
    caps: CLIENT_CAPS,
    ext: MARIADB_EXT,
    thread: 32,
    hex: '02000001010126000002036465660000000f434f4e4e454354494f4e5f4944282900000c3f000a00000003a1000000000300000302333207000004fe000002000000',
  },
  {
    label: 'EOF packets and MariaDB metadata extensions',
    caps: WITH_EOF,
    ext: MARIADB_EXT,
    thread: 33,
    hex: '02000001010126000002036465660000000f434f4e4e454354494f4e5f4944282900000c3f000a00000003a10000000005000003fe000002000300000402333305000005fe00000200',
  },
];

function connectionIdResult(name: string, id: number, caps: number, ext: number): Buffer[] {
  return writeTextResultSet(
    {
      columns: [{ name, charset: BINARY_COLLATION, length: 10, type: MYSQL_TYPE_LONG, flags: NOT_NULL_FLAG | UNSIGNED_FLAG | BINARY_FLAG, decimals: 0 }],
      rows: [[String(id)]],
      statusFlags: SERVER_STATUS_AUTOCOMMIT,
      warnings: 0,
    },
    caps,
    ext,
  );
}

for (const c of CAPTURED) {
  test(`a CONNECTION_ID() result is what mariadbd sends (${c.label})`, () => {
    const payloads = connectionIdResult('CONNECTION_ID()', c.thread, c.caps, c.ext);
    const wire = Buffer.concat(payloads.map((p, i) => framePacket(p, i + 1)));
    assert.equal(wire.toString('hex'), c.hex);
  });
}

test('an alias and a session id read back through the text result reader', () => {
  for (const c of CAPTURED) {
    const reader = new TextResultReader(c.caps, c.ext);
    let reply = null;
    for (const p of connectionIdResult('x y', 1_073_741_825, c.caps, c.ext)) reply = reader.push(p) ?? reply;
    assert.deepEqual(reply, { kind: 'rows', columns: ['x y'], rows: [['1073741825']], statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0 });
  }
});

test('a NULL value and a row of the wrong width', () => {
  const column = { name: 'v', charset: BINARY_COLLATION, length: 1, type: MYSQL_TYPE_LONG, flags: 0, decimals: 0 };
  const [, , row] = writeTextResultSet({ columns: [column], rows: [[null]], statusFlags: 2, warnings: 0 }, CLIENT_CAPS, 0);
  assert.deepEqual([...row!], [0xfb]);
  assert.throws(() => writeTextResultSet({ columns: [column], rows: [['1', '2']], statusFlags: 2, warnings: 0 }, CLIENT_CAPS, 0), /2 values for 1 columns/);
  assert.throws(() => writeTextResultSet({ columns: [], rows: [], statusFlags: 2, warnings: 0 }, CLIENT_CAPS, 0), /at least one column/);
});
