// The control plane's flags (`control-plane`, and `dev` for what it runs of it).
import { defineOptions } from './option-spec.js';
import { KUBE_NAMESPACE } from './common-options.js';

export const CONTROL_PLANE_OPTIONS = defineOptions({
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
    help: 'Where computes keep their data (process driver) and, by default, the control plane its state',
  },
  state: {
    kind: 'string',
    env: 'WAKE_PROXY_STATE',
    secret: true,
    help: 'The control-plane state: a SQLite file (default <data-dir>/state.db), or postgres://user@host:5432/db shared by several control planes (the password from PGPASSWORD or the URL)',
  },
});

export const CONTROL_PLANE_ONLY_OPTIONS = defineOptions({
  driver: {
    kind: 'choice',
    env: 'WAKE_PROXY_DRIVER',
    choices: ['process', 'kubernetes'],
    default: 'process',
    help: 'Compute driver: local mariadbd processes, or a StatefulSet per project',
  },
  'kube-namespace': KUBE_NAMESPACE,
  token: {
    kind: 'string',
    env: 'WAKE_PROXY_CONTROL_TOKEN',
    secret: true,
    help: 'Bearer token clients of the control API must present (required unless --insecure-dev)',
  },
  lease: {
    kind: 'duration',
    env: 'WAKE_PROXY_LEASE',
    default: '5s',
    help: 'How long a control plane may stay silent before the others take over its leadership (idle scheduler) and the operations it had under way',
  },
  'insecure-dev': {
    kind: 'boolean',
    env: 'WAKE_PROXY_INSECURE_DEV',
    default: 'false',
    help: 'Serve the control API without a token (local development only)',
  },
});

export const IDLE_OPTIONS = defineOptions({
  'idle-timeout': {
    kind: 'duration',
    env: 'WAKE_PROXY_IDLE_TIMEOUT',
    default: '5m',
    help: 'Suspend (freeze) a compute nobody used for this long; 0 turns the idle scheduler off',
  },
  'cold-timeout': {
    kind: 'duration',
    env: 'WAKE_PROXY_COLD_TIMEOUT',
    default: '30m',
    help: 'Stop a compute that stayed frozen this long; 0 stops idle computes at once',
  },
});

/** Sizes: the autoscaler (on the leader) and the process driver's limits; `dev` and `control-plane`. */
export const AUTOSCALE_OPTIONS = defineOptions({
  'autoscale-interval': {
    kind: 'duration',
    env: 'WAKE_PROXY_AUTOSCALE_INTERVAL',
    default: '3s',
    help: 'How often every active compute is sampled and resized within its project\'s range; 0 turns the autoscaler off (computes stay at their minimum)',
  },
  'scale-down-after': {
    kind: 'duration',
    env: 'WAKE_PROXY_SCALE_DOWN_AFTER',
    default: '60s',
    help: 'A compute shrinks only once its load has asked for less this long (and it was not resized meanwhile)',
  },
  cgroups: {
    kind: 'choice',
    env: 'WAKE_PROXY_CGROUPS',
    choices: ['auto', 'off'],
    default: 'auto',
    help: 'process driver: CPU and memory limits per compute by cgroups (v2 or v1) where the host allows, or never',
  },
});
