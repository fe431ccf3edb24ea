// Where a compute listens, as whatever resolved it (control API, Kubernetes, a
// fixed --backend) tells the layers that connect to it.

export interface BackendAddress {
  host: string;
  port: number;
  /** Compute id when known; used for pools and logs. */
  computeId?: string;
}
