// `wake-proxy dev` (what `npm start` runs): control plane, proxy and a demo
// project in one process, on one machine.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { startControlPlane, type ControlPlane } from '../control-plane/server.js';
import { createControlApiResolver } from '../control-client/control-api-resolver.js';
import { MemoryActivityStore } from '../activity/memory-activity-store.js';
import { formatHelp, parseOptions } from './options.js';
import { ACTIVITY_OPTIONS, LOG_OPTIONS } from './common-options.js';
import { AUTOSCALE_OPTIONS, CONTROL_PLANE_OPTIONS, IDLE_OPTIONS } from './control-plane-options.js';
import { PROXY_OPTIONS, VERIFY_OPTIONS } from './proxy-options.js';
import { createReporter, idleOptionsFrom, openActivityStore } from './activity-setup.js';
import { autoscaleFrom } from './autoscale-setup.js';
import { createLoggers } from './logger.js';
import { onShutdown } from './lifecycle.js';
import { startProxyFromValues, verifiersFromValues, type RunningProxy } from './start-proxy.js';
import { createProxyMetrics } from '../proxy/metrics.js';

const TABLE = {
  ...PROXY_OPTIONS,
  host: { ...PROXY_OPTIONS.host, default: '127.0.0.1' },
  'admin-host': { ...PROXY_OPTIONS['admin-host'], default: '127.0.0.1' },
  'drain-timeout': { ...PROXY_OPTIONS['drain-timeout'], default: '5s' },
  ...CONTROL_PLANE_OPTIONS,
  ...ACTIVITY_OPTIONS,
  ...IDLE_OPTIONS,
  ...AUTOSCALE_OPTIONS,
  ...VERIFY_OPTIONS,
  ...LOG_OPTIONS,
  // `dev` is run by a person at a terminal: readable lines unless told otherwise.
  'log-format': { ...LOG_OPTIONS['log-format'], default: 'pretty' },
};

const DEMO_PROJECT = 'demo';

interface DemoCredentials {
  project: string;
  user: string;
  password: string;
  computeId: string;
}

export async function runDevCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values, help } = parseOptions(TABLE, argv, env);
  if (help) {
    console.log(
      formatHelp('dev', 'Run the control plane (local mariadbd computes), the proxy and a demo project.', TABLE),
    );
    return;
  }
  const dataDir = resolve(values['data-dir']);
  await mkdir(dataDir, { recursive: true });
  // One root logger per part, as the `proxy` and `control-plane` commands name theirs: a
  // component bound below a part's own would repeat the key.
  const loggers = await createLoggers(values['log-level'], values['log-format']);
  const logger = loggers('wake-proxy');
  const cpLogger = loggers('wake-proxy-control-plane');
  const metrics = createProxyMetrics();
  // One process: without --redis the proxy and the scheduler share a store in memory.
  const store = openActivityStore(values) ?? new MemoryActivityStore();
  const cp = await startControlPlane({
    activity: store,
    idle: idleOptionsFrom(values, cpLogger, values['cache-ttl']),
    dataDir,
    ...(values.state ? { state: values.state } : {}),
    host: '127.0.0.1',
    port: values['control-port'],
    logger: cpLogger,
    wakeTimeoutMs: values['wake-timeout'],
    ...autoscaleFrom(values),
  });
  const resolver = createControlApiResolver({
    url: [cp.url],
    wakeTimeoutMs: values['wake-timeout'],
    cacheTtlMs: values['cache-ttl'],
    logger,
    onCall: (outcome, seconds) => metrics.controlApiSeconds.observe({ outcome }, seconds),
    wakeRatePerProject: values['wake-rate-per-project'],
  });
  let running;
  try {
    const demo = await ensureDemoProject(cp, dataDir);
    const routing = {
      ...(values['sni-suffix'] ? { sniSuffix: values['sni-suffix'] } : {}),
      databaseRouting: values['database-routing'],
    };
    const activity = createReporter(values, store, logger, metrics);
    const verifiers = verifiersFromValues(values, [cp.url], undefined, logger);
    // The in-process control plane stops the statements passthrough clients leave behind.
    const proxyValues = { ...values, 'control-url': [cp.url] };
    running = await startProxyFromValues(proxyValues, resolver, routing, logger, metrics, { activity, verifiers });
    printWelcome(running, cp.url, demo);
  } catch (err) {
    await resolver.close();
    await cp.close({ stopComputes: true });
    await store.close();
    throw err;
  }
  const proxy = running;
  onShutdown(logger, async () => {
    await proxy.stop();
    await cp.close({ stopComputes: true });
    await store.close();
  });
}

/** The demo's password is only shown at creation, so dev mode keeps it (0600) to print it at every start. */
async function ensureDemoProject(cp: ControlPlane, dataDir: string): Promise<DemoCredentials> {
  const file = join(dataDir, 'demo-credentials.json');
  const existing = await request(`${cp.url}/api/v1/projects/${DEMO_PROJECT}`);
  const found = (await existing.body.json().catch(() => ({}))) as { compute?: { id?: string } };
  if (existing.statusCode === 200) {
    try {
      const saved = JSON.parse(await readFile(file, 'utf8')) as DemoCredentials;
      return { ...saved, computeId: found.compute?.id ?? saved.computeId };
    } catch {
      throw new Error(`project '${DEMO_PROJECT}' exists but ${file} is missing; delete ${dataDir} to start afresh`);
    }
  }
  const res = await request(`${cp.url}/api/v1/projects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: DEMO_PROJECT }),
  });
  const body = (await res.body.json()) as {
    user?: string;
    password?: string;
    compute?: { id?: string };
    error?: { message?: string };
  };
  if (res.statusCode !== 201 || !body.user || !body.password || !body.compute?.id) {
    throw new Error(`could not create the demo project: ${body.error?.message ?? `HTTP ${res.statusCode}`}`);
  }
  const creds: DemoCredentials = {
    project: DEMO_PROJECT,
    user: body.user,
    password: body.password,
    computeId: body.compute.id,
  };
  await writeFile(file, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
  return creds;
}

function printWelcome(running: RunningProxy, controlUrl: string, demo: DemoCredentials): void {
  const user = `${demo.project}.${demo.user}`;
  const port = running.proxy.port;
  const admin = running.console;
  process.stderr.write(
    [
      '',
      'wake-proxy is running.',
      `  proxy:       127.0.0.1:${port}`,
      `  control API: ${controlUrl}`,
      ...(running.admin ? [`  metrics:     http://127.0.0.1:${running.admin.port}/metrics`] : []),
      ...(admin ? [`  console:     mariadb -h ${admin.host} -P ${admin.port} -u ${admin.user} -p   (SHOW HELP)`] : []),
      '',
      'Connect to the demo project:',
      `  mariadb -h 127.0.0.1 -P ${port} -u ${user} -p'${demo.password}'`,
      '',
      'Make it sleep, then connect again to watch it wake:',
      `  curl -X POST ${controlUrl}/api/v1/compute/${demo.computeId}/suspend`,
      '',
      'Ctrl-C stops everything, computes included.',
      '',
    ].join('\n'),
  );
}
