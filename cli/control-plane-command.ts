// `wake-proxy control-plane`: the control API with its compute driver.
import type { Logger } from 'pino';
import { startControlPlane } from '../control-plane/server.js';
import type { ComputeDriver } from '../control-plane/drivers/driver.js';
import { ConfigError, formatHelp, parseOptions } from './options.js';
import { ACTIVITY_OPTIONS, LOG_OPTIONS } from './common-options.js';
import { AUTOSCALE_OPTIONS, CONTROL_PLANE_ONLY_OPTIONS, CONTROL_PLANE_OPTIONS, IDLE_OPTIONS } from './control-plane-options.js';
import { idleOptionsFrom, openActivityStore } from './activity-setup.js';
import { autoscaleFrom } from './autoscale-setup.js';
import { createLogger } from './logger.js';
import { onShutdown } from './lifecycle.js';

/** Below this, heartbeats every quarter lease would outrun a busy store. */
const MIN_LEASE_MS = 500;

const TABLE = { ...CONTROL_PLANE_OPTIONS, ...CONTROL_PLANE_ONLY_OPTIONS, ...ACTIVITY_OPTIONS, ...IDLE_OPTIONS, ...AUTOSCALE_OPTIONS, ...LOG_OPTIONS };

export async function runControlPlaneCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values, help } = parseOptions(TABLE, argv, env);
  if (help) {
    console.log(formatHelp('control-plane', 'Run the control API and its compute driver.', TABLE));
    return;
  }
  const { token } = values;
  if (!token && !values['insecure-dev']) {
    throw new ConfigError(['--token is required (or --insecure-dev true for local development)']);
  }
  if (values.lease < MIN_LEASE_MS) throw new ConfigError([`--lease must be at least ${MIN_LEASE_MS}ms`]);
  const logger = await createLogger(values['log-level'], 'wake-proxy-control-plane', values['log-format']);
  // The process driver is the control plane's default.
  const driver = values.driver === 'kubernetes' ? await kubernetesDriver(values['kube-namespace'], logger) : undefined;
  // Without --redis no proxy's activity is visible here, so the idle scheduler stays off.
  const store = openActivityStore(values);
  const cp = await startControlPlane({
    ...(store ? { activity: store } : {}),
    idle: idleOptionsFrom(values, logger),
    ...(driver ? { driver } : {}),
    dataDir: values['data-dir'],
    ...(values.state ? { state: values.state } : {}),
    leaseMs: values.lease,
    ...autoscaleFrom(values),
    host: values['control-host'],
    port: values['control-port'],
    ...(token ? { token } : {}),
    logger,
  });
  logger.info({ url: cp.url }, 'control plane listening');
  // Computes keep running across a control-plane restart; it reconciles on start.
  onShutdown(logger, async () => {
    await cp.close({ stopComputes: false });
    await store?.close();
  });
}

/** The Kubernetes client is loaded only for this driver: it is half the start cost of everything else. */
async function kubernetesDriver(namespace: string, logger: Logger): Promise<ComputeDriver> {
  const [{ createKubernetesDriver }, { loadKubeConfig }] = await Promise.all([
    import('../control-plane/drivers/kubernetes-driver.js'),
    import('../kube/kube-config.js'),
  ]);
  return createKubernetesDriver({
    kubeConfig: loadKubeConfig(),
    namespace,
    logger: logger.child({ component: 'kubernetes-driver' }),
  });
}
