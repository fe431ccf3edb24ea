// The pool key's capability set (backend/login.ts): what makes a pooled connection fit a client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_COMPRESS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_DEPRECATE_EOF,
  CLIENT_PROTOCOL_41,
  CLIENT_SSL,
} from '../../protocol/constants.js';
import { poolCapabilities } from '../../backend/login.js';

test('pool capabilities drop per-hop bits and follow the database', () => {
  const client = CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF | CLIENT_SSL | CLIENT_COMPRESS | CLIENT_CONNECT_WITH_DB;
  assert.equal(poolCapabilities(client, null), CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF);
  assert.equal(poolCapabilities(client & ~CLIENT_CONNECT_WITH_DB, 'shop'), CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF | CLIENT_CONNECT_WITH_DB);
});
