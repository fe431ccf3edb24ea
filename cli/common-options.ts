// Flags every command shares: logging, where activity goes, the Kubernetes namespace.
import { defineOptions, type OptionSpec } from './option-spec.js';

export const LOG_OPTIONS = defineOptions({
  'log-level': { kind: 'level', env: 'WAKE_PROXY_LOG_LEVEL', default: 'info', help: 'Log level' },
  'log-format': {
    kind: 'choice',
    env: 'WAKE_PROXY_LOG_FORMAT',
    choices: ['auto', 'json', 'pretty'],
    default: 'auto',
    help: 'json: one JSON object a line; pretty: short readable lines; auto: pretty when stdout is a terminal',
  },
});

/** Where activity goes (proxy) and comes from (control plane); shared by every command. */
export const ACTIVITY_OPTIONS = defineOptions({
  redis: {
    kind: 'url',
    env: 'WAKE_PROXY_REDIS_URL',
    secret: true,
    help: 'Redis URL for activity and usage (redis://host:6379); dev mode keeps them in memory without it',
  },
  'report-interval': {
    kind: 'duration',
    env: 'WAKE_PROXY_REPORT_INTERVAL',
    default: '5s',
    help: 'How often a proxy writes activity; proxies and control plane must agree',
  },
});

export const KUBE_NAMESPACE = {
  kind: 'string',
  env: 'WAKE_PROXY_KUBE_NAMESPACE',
  default: 'default',
  help: 'Kubernetes namespace of the compute StatefulSets',
} as const satisfies OptionSpec;
