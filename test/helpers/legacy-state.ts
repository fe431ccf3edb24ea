// What a control plane before the state store left in its data directory:
// state.json (two projects, one compute with read accounts) and
// usage-events.jsonl, in the exact shapes it wrote them.
const VERIFIER = '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19';

/** state.json as the file-based control plane wrote it (two projects, one with read accounts). */
export const LEGACY_STATE = {
  version: 1,
  projects: [
    { id: 'shop', name: 'shop', createdAt: '2024-05-01T00:00:00.000Z', ownerUser: 'owner', ownerVerifier: VERIFIER, computeId: 'shop-c1', computeSeq: 1 },
    { id: 'blog', name: 'blog', createdAt: '2024-05-02T00:00:00.000Z', ownerUser: 'owner', ownerVerifier: VERIFIER, computeId: 'blog-c2', computeSeq: 2 },
  ],
  computes: [
    {
      id: 'shop-c1',
      projectId: 'shop',
      state: 'frozen',
      endpoint: { host: '127.0.0.1', port: 41000 },
      createdAt: '2024-05-01T00:00:00.000Z',
      updatedAt: '2024-05-01T01:00:00.000Z',
      resumeCount: 4,
      control: { user: 'wakeproxy_ctl', password: 'ctl-secret' },
      accounts: {
        readAt: '2024-05-01T00:59:00.000Z',
        accounts: [{ user: 'app', host: '%', methods: [{ plugin: 'mysql_native_password', verifier: VERIFIER }], locked: false, passwordExpired: false, passwordLastChanged: 0, passwordLifetime: -1, ssl: 'none', neverBlocked: false, version: 'v1' }],
        policy: { defaultPasswordLifetime: 0, disconnectOnExpiredPassword: false, maxPasswordErrors: 0 },
      },
    },
    { id: 'blog-c2', projectId: 'blog', state: 'stopped', createdAt: '2024-05-02T00:00:00.000Z', updatedAt: '2024-05-02T00:00:00.000Z', resumeCount: 0, lastError: 'earlier crash' },
  ],
};

/** shop ran 10 s, froze, ran 5 s more; a compute deleted long ago ran 3 s; the last line was cut by a crash. */
export const LEGACY_EVENTS = [
  { at: 1_000, project: 'shop', compute: 'shop-c1', run: true },
  { at: 11_000, project: 'shop', compute: 'shop-c1', run: false },
  { at: 20_000, project: 'shop', compute: 'shop-c1', run: true },
  { at: 25_000, project: 'shop', compute: 'shop-c1', run: false },
  { at: 30_000, project: 'blog', compute: 'blog-c1', run: true },
  { at: 33_000, project: 'blog', compute: 'blog-c1', run: false },
].map((e) => JSON.stringify(e)).join('\n') + '\n{"at": 40000, "proj';

