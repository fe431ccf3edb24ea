// The autoscaler's flags as control-plane options, checked: `dev` and
// `control-plane` share them.
import type { ControlPlaneOptions } from '../control-plane/server.js';
import { ConfigError } from './options.js';
import type { OptionValues } from './option-spec.js';
import type { AUTOSCALE_OPTIONS } from './control-plane-options.js';

/** Below this, sampling every compute (a connection and two queries each) would load the computes it measures. */
const MIN_INTERVAL_MS = 500;

export function autoscaleFrom(values: OptionValues<typeof AUTOSCALE_OPTIONS>): Pick<ControlPlaneOptions, 'autoscale' | 'cgroups'> {
  const intervalMs = values['autoscale-interval'];
  const downAfterMs = values['scale-down-after'];
  if (intervalMs !== 0 && intervalMs < MIN_INTERVAL_MS) throw new ConfigError([`--autoscale-interval must be 0 (off) or at least ${MIN_INTERVAL_MS}ms`]);
  if (intervalMs !== 0 && downAfterMs < 3 * intervalMs) {
    throw new ConfigError(['--scale-down-after must be at least 3 autoscale intervals: going down needs 3 samples that agree']);
  }
  return {
    cgroups: values.cgroups,
    ...(intervalMs > 0 ? { autoscale: { intervalMs, rules: { downAfterMs } } } : {}),
  };
}
