import { KubeConfig } from '@kubernetes/client-node';

/** In-cluster service account when running in a pod, else $KUBECONFIG or ~/.kube/config. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
