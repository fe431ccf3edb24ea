// `wake-proxy proxy`: the proxy alone, in front of a control API or one static backend.
import { createControlApiResolver } from '../control-client/control-api-resolver.js';
import { createStaticResolver } from '../control-client/static-resolver.js';
import { createKubernetesResolver } from '../control-client/kubernetes-resolver.js';
import { loadKubeConfig } from '../kube/kube-config.js';
import type { ComputeResolver } from '../control-client/types.js';
import { ConfigError, formatHelp, parseOptions } from './options.js';
import { ACTIVITY_OPTIONS, LOG_OPTIONS, PROXY_ONLY_OPTIONS, PROXY_OPTIONS, VERIFY_OPTIONS } from './tables.js';
import { createReporter, openActivityStore } from './activity-setup.js';
import { createLogger } from './logger.js';
import { onShutdown } from './lifecycle.js';
import { backendVerifiersFromValues, startProxyFromValues, verifiersFromValues } from './start-proxy.js';
import { createProxyMetrics } from '../proxy/metrics.js';

const TABLE = { ...PROXY_OPTIONS, ...PROXY_ONLY_OPTIONS, ...VERIFY_OPTIONS, ...ACTIVITY_OPTIONS, ...LOG_OPTIONS };

export async function runProxyCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values, help } = parseOptions(TABLE, argv, env);
  if (help) {
    console.log(formatHelp('proxy', 'Run the MySQL proxy in front of a control API or a static backend.', TABLE));
    return;
  }
  const backend = values.backend as { host: string; port: number } | undefined;
  const controlUrl = values['control-url'] as string | undefined;
  const statefulSet = values['kube-statefulset'] as string | undefined;
  const upstreams = [backend && '--backend', controlUrl && '--control-url', statefulSet && '--kube-statefulset'].filter(Boolean);
  if (upstreams.length === 0) throw new ConfigError(['one of --control-url, --backend or --kube-statefulset is required']);
  if (upstreams.length > 1) throw new ConfigError([`${upstreams.join(' and ')} exclude each other`]);
  const logger = createLogger(values['log-level'] as string, 'wake-proxy');
  const metrics = createProxyMetrics();
  const resolver: ComputeResolver = backend
    ? createStaticResolver(backend)
    : statefulSet
      ? createKubernetesResolver({
          kubeConfig: loadKubeConfig(),
          namespace: values['kube-namespace'] as string,
          statefulSetName: statefulSet,
          readyTimeoutMs: values['wake-timeout'] as number,
          cacheTtlMs: values['cache-ttl'] as number,
          logger,
        })
      : createControlApiResolver({
        url: controlUrl!,
        ...(values['control-token'] ? { token: values['control-token'] as string } : {}),
        wakeTimeoutMs: values['wake-timeout'] as number,
        cacheTtlMs: values['cache-ttl'] as number,
        logger,
        onCall: (outcome, seconds) => metrics.controlApiSeconds.observe({ outcome }, seconds),
        wakeRatePerProject: values['wake-rate-per-project'] as number,
      });
  const project = values.project as string | undefined;
  // Without --redis a lone proxy reports nowhere; the control plane then suspends nothing for idleness.
  const store = openActivityStore(values, false);
  const activity = store ? createReporter(values, store, logger, metrics) : undefined;
  const running = await startProxyFromValues(
    values,
    resolver,
    project
      ? { fixedProject: project }
      : {
          projectOptional: backend !== undefined,
          ...(values['sni-suffix'] ? { sniSuffix: values['sni-suffix'] as string } : {}),
          databaseRouting: values['database-routing'] === 'true',
        },
    logger,
    metrics,
    activity,
    controlUrl
      ? verifiersFromValues(values, controlUrl, values['control-token'] as string | undefined, logger)
      : backend
        ? backendVerifiersFromValues(values, backend, logger)
        : undefined,
  );
  onShutdown(logger, async () => {
    await running.stop();
    await store?.close();
  });
}
