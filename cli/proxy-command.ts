// `wake-proxy proxy`: the proxy alone, in front of a control API or one static backend.
import type { Logger } from 'pino';
import { createControlApiResolver } from '../control-client/control-api-resolver.js';
import { createStaticResolver } from '../control-client/static-resolver.js';
import type { ComputeResolver } from '../control-client/types.js';
import type { BackendAddress } from '../backend/address.js';
import { ConfigError, formatHelp, parseOptions } from './options.js';
import type { OptionValues } from './option-spec.js';
import { ACTIVITY_OPTIONS, LOG_OPTIONS } from './common-options.js';
import { PROXY_ONLY_OPTIONS, PROXY_OPTIONS, VERIFY_OPTIONS } from './proxy-options.js';
import { createReporter, openActivityStore } from './activity-setup.js';
import { createLogger } from './logger.js';
import { onShutdown } from './lifecycle.js';
import { backendVerifiersFromValues, startProxyFromValues, verifiersFromValues } from './start-proxy.js';
import { createProxyMetrics, type ProxyMetrics } from '../proxy/metrics.js';
import cluster from 'node:cluster';
import { checkWorkers, workerShares } from './worker-options.js';
import { runProxyWorkers } from './proxy-workers.js';
import { openWorkerChannel } from './worker-channel.js';

const TABLE = { ...PROXY_OPTIONS, ...PROXY_ONLY_OPTIONS, ...VERIFY_OPTIONS, ...ACTIVITY_OPTIONS, ...LOG_OPTIONS };

type Values = OptionValues<typeof TABLE>;

export async function runProxyCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values: given, help } = parseOptions(TABLE, argv, env);
  if (help) {
    console.log(formatHelp('proxy', 'Run the MySQL proxy in front of a control API or a static backend.', TABLE));
    return;
  }
  checkWorkers(given);
  const upstream = upstreamOf(given);
  const workers = given.workers > 1;
  const logger = await createLogger(given['log-level'], 'wake-proxy', given['log-format'], { sharedStdout: workers });
  // Several workers: the primary forks them (node:cluster runs this same command in each) and serves no client.
  if (workers && cluster.isPrimary) return runProxyWorkers(given, logger);
  const values = workerShares(given);
  const metrics = createProxyMetrics();
  const resolver = await resolverFor(upstream, values, logger, metrics);
  // Without --redis a lone proxy reports nowhere; the control plane then suspends nothing for idleness.
  const store = openActivityStore(values);
  const activity = store ? createReporter(values, store, logger, metrics) : undefined;
  const { project } = values;
  const running = await startProxyFromValues(
    values,
    resolver,
    project
      ? { fixedProject: project }
      : {
          projectOptional: upstream.kind === 'backend',
          ...(values['sni-suffix'] ? { sniSuffix: values['sni-suffix'] } : {}),
          databaseRouting: values['database-routing'],
        },
    logger,
    metrics,
    {
      activity,
      verifiers:
        upstream.kind === 'control-api'
          ? verifiersFromValues(values, upstream.urls, values['control-token'], logger)
          : upstream.kind === 'backend'
            ? backendVerifiersFromValues(values, upstream.address, logger)
            : undefined,
      adminHttp: !workers,
    },
  );
  const channel = workers ? openWorkerChannel(running, logger) : undefined;
  onShutdown(logger, async () => {
    channel?.draining();
    await running.stop();
    await store?.close();
  });
}

/** Where the proxy finds computes: exactly one of --backend, --control-url, --kube-statefulset. */
type Upstream =
  | { kind: 'backend'; address: BackendAddress }
  | { kind: 'control-api'; urls: string[] }
  | { kind: 'kubernetes'; statefulSet: string };

function upstreamOf(values: Values): Upstream {
  const given: Array<[flag: string, upstream: Upstream]> = [];
  if (values.backend) given.push(['--backend', { kind: 'backend', address: values.backend }]);
  if (values['control-url']) given.push(['--control-url', { kind: 'control-api', urls: values['control-url'] }]);
  if (values['kube-statefulset']) given.push(['--kube-statefulset', { kind: 'kubernetes', statefulSet: values['kube-statefulset'] }]);
  const [first, ...others] = given;
  if (!first) throw new ConfigError(['one of --control-url, --backend or --kube-statefulset is required']);
  if (others.length > 0) throw new ConfigError([`${given.map(([flag]) => flag).join(' and ')} exclude each other`]);
  return first[1];
}

async function resolverFor(upstream: Upstream, values: Values, logger: Logger, metrics: ProxyMetrics): Promise<ComputeResolver> {
  switch (upstream.kind) {
    case 'backend':
      return createStaticResolver(upstream.address);
    case 'control-api':
      return controlApiResolver(values, upstream.urls, logger, metrics);
    case 'kubernetes':
      return kubernetesResolver(values, upstream.statefulSet, logger);
  }
}

function controlApiResolver(values: Values, urls: string[], logger: Logger, metrics: ProxyMetrics): ComputeResolver {
  const token = values['control-token'];
  return createControlApiResolver({
    url: urls,
    ...(token ? { token } : {}),
    wakeTimeoutMs: values['wake-timeout'],
    cacheTtlMs: values['cache-ttl'],
    logger,
    onCall: (outcome, seconds) => metrics.controlApiSeconds.observe({ outcome }, seconds),
    wakeRatePerProject: values['wake-rate-per-project'],
  });
}

/** Direct Kubernetes mode. Its client is loaded only here: it is half the start cost of every other mode. */
async function kubernetesResolver(values: Values, statefulSetName: string, logger: Logger): Promise<ComputeResolver> {
  const [{ createKubernetesResolver }, { loadKubeConfig }] = await Promise.all([
    import('../control-client/kubernetes-resolver.js'),
    import('../kube/kube-config.js'),
  ]);
  return createKubernetesResolver({
    kubeConfig: loadKubeConfig(),
    namespace: values['kube-namespace'],
    statefulSetName,
    readyTimeoutMs: values['wake-timeout'],
    cacheTtlMs: values['cache-ttl'],
    logger,
  });
}
