// The flags of each command. Shared groups are declared once.
import type { OptionTable } from './options.js';

export const LOG_OPTIONS: OptionTable = {
  'log-level': { kind: 'level', env: 'WAKE_PROXY_LOG_LEVEL', default: 'info', help: 'Log level' },
};

export const PROXY_OPTIONS: OptionTable = {
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
    help: 'On SIGTERM/SIGINT, how long sessions may finish before the rest are closed',
  },
  'cache-ttl': {
    kind: 'duration',
    env: 'WAKE_PROXY_CACHE_TTL',
    default: '10s',
    help: "How long an awake compute's address is reused without asking the control API",
  },
};

export const PROXY_ONLY_OPTIONS: OptionTable = {
  'control-url': {
    kind: 'url',
    env: 'WAKE_PROXY_CONTROL_URL',
    help: 'Base URL of the control API (required unless --backend is given)',
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
  project: {
    kind: 'string',
    env: 'WAKE_PROXY_PROJECT',
    help: 'Fixed project for every client (sidecar mode); user names pass untouched',
  },
};

export const CONTROL_PLANE_OPTIONS: OptionTable = {
  'control-port': { kind: 'port', env: 'WAKE_PROXY_CONTROL_PORT', default: '8080', help: 'Control API port' },
  'control-host': {
    kind: 'string',
    env: 'WAKE_PROXY_CONTROL_HOST',
    default: '127.0.0.1',
    help: 'Address the control API listens on',
  },
  'data-dir': {
    kind: 'string',
    env: 'WAKE_PROXY_DATA_DIR',
    default: '.wake-proxy',
    help: 'Where computes keep their data and the control plane its state',
  },
};

export const CONTROL_PLANE_ONLY_OPTIONS: OptionTable = {
  token: {
    kind: 'string',
    env: 'WAKE_PROXY_CONTROL_TOKEN',
    secret: true,
    help: 'Bearer token clients of the control API must present (required unless --insecure-dev)',
  },
  'insecure-dev': {
    kind: 'choice',
    env: 'WAKE_PROXY_INSECURE_DEV',
    choices: ['true', 'false'],
    default: 'false',
    help: 'Serve the control API without a token (local development only)',
  },
};
