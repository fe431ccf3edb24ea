// Backend connection pooling: log into computes with a recovered stage1, keep the
// connections per (compute, user, database, capabilities, charset), reset them on
// return, and relay a session-mode client over one.
export * from './backend-login.js';
export * from './backend-pool.js';
export * from './session-relay.js';
export { runCommands, runQuery, type CommandTarget } from './backend-query.js';
export type { PooledBackend } from './pooled-backend.js';
export type { SessionBaseline } from './backend-health.js';
