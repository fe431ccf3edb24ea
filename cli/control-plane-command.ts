// `wake-proxy control-plane`: the control API with the process driver.
import { startControlPlane } from '../control-plane/server.js';
import { ConfigError, formatHelp, parseOptions } from './options.js';
import { ACTIVITY_OPTIONS, CONTROL_PLANE_ONLY_OPTIONS, CONTROL_PLANE_OPTIONS, IDLE_OPTIONS, LOG_OPTIONS } from './tables.js';
import { idleOptionsFrom, openActivityStore } from './activity-setup.js';
import { createLogger } from './logger.js';
import { onShutdown } from './lifecycle.js';
import { createKubernetesDriver } from '../control-plane/drivers/kubernetes-driver.js';
import { loadKubeConfig } from '../kube/kube-config.js';

const TABLE = { ...CONTROL_PLANE_OPTIONS, ...CONTROL_PLANE_ONLY_OPTIONS, ...ACTIVITY_OPTIONS, ...IDLE_OPTIONS, ...LOG_OPTIONS };

export async function runControlPlaneCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values, help } = parseOptions(TABLE, argv, env);
  if (help) {
    console.log(formatHelp('control-plane', 'Run the control API and its compute driver.', TABLE));
    return;
  }
  const token = values.token as string | undefined;
  if (!token && values['insecure-dev'] !== 'true') {
    throw new ConfigError(['--token is required (or --insecure-dev true for local development)']);
  }
  const logger = createLogger(values['log-level'] as string, 'wake-proxy-control-plane');
  const driver =
    values.driver === 'kubernetes'
      ? createKubernetesDriver({
          kubeConfig: loadKubeConfig(),
          namespace: values['kube-namespace'] as string,
          logger: logger.child({ component: 'kubernetes-driver' }),
        })
      : undefined;
  // Without --redis no proxy's activity is visible here, so the idle scheduler stays off.
  const store = openActivityStore(values, false);
  const cp = await startControlPlane({
    ...(store ? { activity: store } : {}),
    idle: idleOptionsFrom(values, logger),
    ...(driver ? { driver } : {}),
    dataDir: values['data-dir'] as string,
    host: values['control-host'] as string,
    port: values['control-port'] as number,
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
