// The proxy's flags (`proxy`, and `dev` for what it runs of the proxy).
import { defineOptions } from './option-spec.js';
import { KUBE_NAMESPACE } from './common-options.js';
import { TRANSACTION_GROW_DELAY_MS } from '../pool/backend-pool.js';

export const PROXY_OPTIONS = defineOptions({
  port: { kind: 'port', env: 'WAKE_PROXY_PORT', default: '3306', help: 'MySQL port clients connect to' },
  host: { kind: 'string', env: 'WAKE_PROXY_HOST', default: '0.0.0.0', help: 'Address to listen on' },
  'wake-timeout': {
    kind: 'duration',
    env: 'WAKE_PROXY_WAKE_TIMEOUT',
    default: '30s',
    help: 'How long a client is held while its compute wakes',
  },
  'handshake-timeout': {
    kind: 'duration',
    env: 'WAKE_PROXY_HANDSHAKE_TIMEOUT',
    default: '10s',
    help: 'How long a client may take to finish the handshake and authentication',
  },
  'connect-timeout': {
    kind: 'duration',
    env: 'WAKE_PROXY_CONNECT_TIMEOUT',
    default: '5s',
    help: 'Bound on connecting to a compute and reading its greeting',
  },
  'admin-port': {
    kind: 'port',
    env: 'WAKE_PROXY_ADMIN_PORT',
    default: '9090',
    help: 'Admin HTTP port: /metrics, /healthz, /readyz (0 picks a free port)',
  },
  'admin-host': {
    kind: 'string',
    env: 'WAKE_PROXY_ADMIN_HOST',
    default: '0.0.0.0',
    help: 'Address the admin HTTP server listens on',
  },
  'drain-timeout': {
    kind: 'duration',
    env: 'WAKE_PROXY_DRAIN_TIMEOUT',
    default: '25s',
    help: 'On SIGTERM/SIGINT (or DRAIN in the admin console), how long sessions may finish before the rest are closed',
  },
  'admin-mysql-port': {
    kind: 'port',
    env: 'WAKE_PROXY_ADMIN_MYSQL_PORT',
    help: 'Admin console port, spoken with the MySQL protocol (SHOW CLIENTS, SHOW POOLS, KILL, DRAIN, ...); off unless set (0 picks a free port)',
  },
  'admin-mysql-host': {
    kind: 'string',
    env: 'WAKE_PROXY_ADMIN_MYSQL_HOST',
    default: '127.0.0.1',
    help: 'Address the admin console listens on',
  },
  'admin-mysql-user': {
    kind: 'string',
    env: 'WAKE_PROXY_ADMIN_MYSQL_USER',
    default: 'admin',
    help: "The admin console's user name (its own account, not a compute's)",
  },
  'admin-mysql-password': {
    kind: 'string',
    env: 'WAKE_PROXY_ADMIN_MYSQL_PASSWORD',
    secret: true,
    help: "The admin console's password, required with --admin-mysql-port (prefer the environment variable)",
  },
  'tls-cert': { kind: 'string', env: 'WAKE_PROXY_TLS_CERT', help: 'PEM certificate (chain) for client TLS; reloaded on SIGHUP or when it changes' },
  'tls-key': { kind: 'string', env: 'WAKE_PROXY_TLS_KEY', help: 'PEM private key for --tls-cert' },
  'require-tls': {
    kind: 'boolean',
    env: 'WAKE_PROXY_REQUIRE_TLS',
    default: 'false',
    help: 'Refuse logins that did not upgrade to TLS',
  },
  'backend-tls': {
    kind: 'choice',
    env: 'WAKE_PROXY_BACKEND_TLS',
    choices: ['off', 'require', 'verify-ca'],
    default: 'off',
    help: "TLS to computes: off; require (encrypt, no certificate check); verify-ca (check against --backend-tls-ca)",
  },
  'backend-tls-ca': {
    kind: 'string',
    env: 'WAKE_PROXY_BACKEND_TLS_CA',
    help: "PEM CA bundle that signs the computes' certificates (for --backend-tls verify-ca)",
  },
  'sni-suffix': {
    kind: 'string',
    env: 'WAKE_PROXY_SNI_SUFFIX',
    help: 'With TLS, a server name <project>.<suffix> names the project (e.g. db.example.com)',
  },
  'database-routing': {
    kind: 'boolean',
    env: 'WAKE_PROXY_DATABASE_ROUTING',
    default: 'false',
    help: 'Let the database name carry the project: <project> or <project>/<database>',
  },
  'max-connections': {
    kind: 'count',
    env: 'WAKE_PROXY_MAX_CONNECTIONS',
    default: '20000',
    help: 'Client connections in all; more get 1040 Too many connections',
  },
  'max-connections-per-project': {
    kind: 'count',
    env: 'WAKE_PROXY_MAX_CONNECTIONS_PER_PROJECT',
    help: 'Client connections per project (unlimited when unset)',
  },
  'connection-rate-per-project': {
    kind: 'count',
    env: 'WAKE_PROXY_CONNECTION_RATE_PER_PROJECT',
    help: 'New connections per second per project, bursts of the same size (unlimited when unset)',
  },
  'wake-rate-per-project': {
    kind: 'count',
    env: 'WAKE_PROXY_WAKE_RATE_PER_PROJECT',
    default: '20',
    help: 'Wake requests to the control API per second per project',
  },
  'max-auth-failures-per-minute': {
    kind: 'count',
    env: 'WAKE_PROXY_MAX_AUTH_FAILURES_PER_MINUTE',
    default: '30',
    help: 'Failed logins per minute from one client address to one project before it gets 1129 for a while',
  },
  'max-waiting-per-project': {
    kind: 'count',
    env: 'WAKE_PROXY_MAX_WAITING_PER_PROJECT',
    default: '2000',
    help: 'Clients of one project held waiting for its wake at once',
  },
  'cache-ttl': {
    kind: 'duration',
    env: 'WAKE_PROXY_CACHE_TTL',
    default: '10s',
    help: "How long an awake compute's address is reused without asking the control API",
  },
});

/** With a control API (it keeps the verifiers), or a static backend with --accounts-user. */
export const VERIFY_OPTIONS = defineOptions({
  auth: {
    kind: 'choice',
    env: 'WAKE_PROXY_AUTH',
    choices: ['verify', 'passthrough'],
    default: 'verify',
    help: 'verify: check passwords in the proxy before any wake; passthrough: the compute checks them',
  },
  'unknown-users': {
    kind: 'choice',
    env: 'WAKE_PROXY_UNKNOWN_USERS',
    choices: ['refuse', 'passthrough'],
    default: 'refuse',
    help: 'Users the control plane does not know: refuse with 1045 (nothing wakes), or let the compute judge',
  },
  'other-plugins': {
    kind: 'choice',
    env: 'WAKE_PROXY_OTHER_PLUGINS',
    choices: ['passthrough', 'refuse'],
    default: 'passthrough',
    help: 'Users with an auth plugin the proxy cannot check (ed25519, ...): let the compute judge, or refuse',
  },
  'pool-mode': {
    kind: 'choice',
    env: 'WAKE_PROXY_POOL_MODE',
    choices: ['pipe', 'session', 'transaction'],
    default: 'pipe',
    help: 'pipe: bytes flow untouched; session: verified clients borrow a logged-in compute connection, reset on quit; transaction: they borrow one per transaction, so idle clients hold none and their compute can sleep',
  },
  'pool-max-per-compute': {
    kind: 'count',
    env: 'WAKE_PROXY_POOL_MAX_PER_COMPUTE',
    default: '100',
    help: 'Pooled connections open per compute, over all its users and databases',
  },
  'pool-grow-delay': {
    kind: 'duration',
    env: 'WAKE_PROXY_POOL_GROW_DELAY',
    help: `Pooled connections grow by need: a client whose connections are all in use waits for one to come back, and its compute opens another only for waiting that lasts this long, one per this delay at most; 0 opens one at once. Default per pool mode: transaction ${TRANSACTION_GROW_DELAY_MS}ms, session 0`,
  },
  'pool-max-statements': {
    kind: 'count',
    env: 'WAKE_PROXY_POOL_MAX_STATEMENTS',
    default: '256',
    help: 'Transaction pooling: binary prepared statements kept per pooled connection (least recently used closed first)',
  },
  'pool-idle-timeout': {
    kind: 'duration',
    env: 'WAKE_PROXY_POOL_IDLE_TIMEOUT',
    default: '60s',
    help: 'A pooled connection unused this long is closed (so an idle compute can sleep)',
  },
  'pool-acquire-timeout': {
    kind: 'duration',
    env: 'WAKE_PROXY_POOL_ACQUIRE_TIMEOUT',
    default: '10s',
    help: 'How long a client waits for a pooled connection (its compute at the limit, or its connections in use) before error 1040',
  },
  'verifier-ttl': {
    kind: 'duration',
    env: 'WAKE_PROXY_VERIFIER_TTL',
    default: '30s',
    help: 'How long a verifier is cached: a changed password takes effect within it',
  },
});

export const PROXY_ONLY_OPTIONS = defineOptions({
  workers: {
    kind: 'count',
    env: 'WAKE_PROXY_WORKERS',
    default: '1',
    help: 'Proxy processes accepting on the same port, to use more than one core (1-64); more than 1 needs --redis, each worker takes its share of the connection limits, rates and pool sizes (README: Using every core)',
  },
  'kube-statefulset': {
    kind: 'string',
    env: 'WAKE_PROXY_KUBE_STATEFULSET',
    help: 'Direct Kubernetes mode (no control plane): StatefulSet name template, e.g. compute-{project}',
  },
  'kube-namespace': KUBE_NAMESPACE,
  'control-url': {
    kind: 'url-list',
    env: 'WAKE_PROXY_CONTROL_URL',
    help: 'Base URL of the control API, or several comma-separated (replicas: a wake that cannot reach one is tried on the next); required unless --backend is given',
  },
  'control-token': {
    kind: 'string',
    env: 'WAKE_PROXY_CONTROL_TOKEN',
    secret: true,
    help: 'Bearer token for the control API',
  },
  backend: {
    kind: 'host-port',
    env: 'WAKE_PROXY_BACKEND',
    help: 'Static backend host:port: no control plane, no wake',
  },
  'accounts-user': {
    kind: 'string',
    env: 'WAKE_PROXY_ACCOUNTS_USER',
    help: 'With --backend: an account that may SELECT from mysql.global_priv and mysql.roles_mapping (and, for transaction pooling, EXECUTE mysql.wakeproxy_stored_code: README); the proxy then checks passwords itself (--auth verify) and can pool',
  },
  'accounts-password': {
    kind: 'string',
    env: 'WAKE_PROXY_ACCOUNTS_PASSWORD',
    secret: true,
    help: 'Password of --accounts-user (prefer the environment variable)',
  },
  project: {
    kind: 'string',
    env: 'WAKE_PROXY_PROJECT',
    help: 'Fixed project for every client (sidecar mode); user names pass untouched',
  },
  'connect-at-accept': {
    kind: 'boolean',
    env: 'WAKE_PROXY_CONNECT_AT_ACCEPT',
    default: 'true',
    help: "Passthrough logins to --backend, or to a --project whose compute is awake: connect to the compute when a client connects and greet the client with the compute's scramble, so no auth switch follows (a port scan or TCP health check then opens a compute connection too)",
  },
});
