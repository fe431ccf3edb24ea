// What Kubernetes NetworkPolicies allow, evaluated as the API defines them, so
// manifest tests can ask "may this pod reach that one on this port" without a
// cluster: a pod selected by no policy of a direction is open in it; once
// selected, only what some rule of some selecting policy allows gets through,
// and a connection needs both the sender's egress and the receiver's ingress.
// podSelector without namespaceSelector means the policy's own namespace.

export interface PodRef {
  namespace: string;
  labels: Record<string, string>;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: unknown;
}

interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: Array<{ protocol?: string; port?: number | string }>;
}

export interface NetworkPolicy {
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace?: string };
  spec: { podSelector: LabelSelector; policyTypes?: string[]; ingress?: Rule[]; egress?: Rule[] };
}

export function selects(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const ok =
      e.operator === 'In' ? has && (e.values ?? []).includes(labels[e.key]!) :
      e.operator === 'NotIn' ? !has || !(e.values ?? []).includes(labels[e.key]!) :
      e.operator === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

function types(p: NetworkPolicy): string[] {
  // The API's default: Ingress always, Egress when the policy has egress rules.
  return p.spec.policyTypes ?? ['Ingress', ...(p.spec.egress ? ['Egress'] : [])];
}

function peerMatches(peer: Peer, policyNs: string, pod: PodRef): boolean {
  if (peer.ipBlock) return false; // pod-to-pod traffic inside the cluster is judged by selectors here
  const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': pod.namespace }) : pod.namespace === policyNs;
  return nsOk && selects(peer.podSelector, pod.labels);
}

function ruleAllows(rule: Rule, peers: Peer[] | undefined, policyNs: string, other: PodRef, port: number): boolean {
  const portOk = !rule.ports || rule.ports.some((p) => (p.protocol ?? 'TCP') === 'TCP' && (p.port === undefined || Number(p.port) === port));
  const peerOk = !peers || peers.some((peer) => peerMatches(peer, policyNs, other));
  return portOk && peerOk;
}

function direction(policies: NetworkPolicy[], subject: PodRef, other: PodRef, port: number, kind: 'Ingress' | 'Egress'): boolean {
  const selecting = policies.filter(
    (p) => (p.metadata.namespace ?? 'default') === subject.namespace && types(p).includes(kind) && selects(p.spec.podSelector, subject.labels),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (kind === 'Ingress' ? p.spec.ingress : p.spec.egress)?.some((r) =>
      ruleAllows(r, kind === 'Ingress' ? r.from : r.to, p.metadata.namespace ?? 'default', other, port),
    ),
  );
}

/** Whether `from` may open a TCP connection to `to` on `port`. */
export function allowed(policies: NetworkPolicy[], from: PodRef, to: PodRef, port: number): boolean {
  return direction(policies, from, to, port, 'Egress') && direction(policies, to, from, port, 'Ingress');
}
