// Which container and Kubernetes pod a process runs in, read from its cgroup path
// (/proc/<pid>/cgroup), so policy rules can match on container_id and pod_uid. Covers
// cgroup v1 and v2 with the layouts of Docker, containerd, CRI-O, podman and the
// kubelet's systemd and cgroupfs drivers. Strict: only a 64-character lowercase hex
// container id and a UUID pod uid are recognised; anything else is ignored, never thrown.

export interface CgroupIdentity {
  readonly containerId?: string;
  readonly podUid?: string;
}

/** A container's cgroup: `<64 hex>` (cgroupfs) or `<runtime>-<64 hex>.scope` (systemd). */
const CONTAINER_SEGMENT = /^(?:(?:docker|cri-containerd|crio|libpod)-)?([0-9a-f]{64})(?:\.scope)?$/;
/** The kubelet's systemd driver: `[kubelet-]kubepods[-<qos>]-pod<uid, '-' escaped as '_'>.slice`. */
const SYSTEMD_POD_SEGMENT = /^(?:kubelet-)?kubepods(?:-burstable|-besteffort)?-pod([0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12})\.slice$/i;
/** The kubelet's cgroupfs driver: `pod<uid>` below a `kubepods` directory. */
const CGROUPFS_POD_SEGMENT = /^pod([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** Parses the content of /proc/<pid>/cgroup (v1 or v2). */
export function parseCgroup(content: string): CgroupIdentity {
  // v1 has a line per hierarchy (v2 one "0::" line, hybrid both); they usually agree.
  // Take the line that tells the most: a container id first, then a pod uid.
  let best: CgroupIdentity = {};
  for (const line of content.split('\n')) {
    const identity = parsePath(cgroupPath(line));
    if (score(identity) > score(best)) best = identity;
  }
  return best;
}

/** The path of a "hierarchy-id:controllers:path" line ('' when the line is not one). */
function cgroupPath(line: string): string {
  const first = line.indexOf(':');
  const second = line.indexOf(':', first + 1);
  if (first <= 0 || second < 0 || !/^\d+$/.test(line.slice(0, first))) return '';
  return line.slice(second + 1).trim();
}

function parsePath(path: string): CgroupIdentity {
  if (!path.startsWith('/')) return {};
  let containerId: string | undefined;
  let podUid: string | undefined;
  let belowKubepods = false;
  // The innermost match wins (a container may nest cgroups of its own below its scope).
  for (const segment of path.split('/')) {
    containerId = CONTAINER_SEGMENT.exec(segment)?.[1] ?? containerId;
    const systemdPod = SYSTEMD_POD_SEGMENT.exec(segment)?.[1];
    const cgroupfsPod = belowKubepods ? CGROUPFS_POD_SEGMENT.exec(segment)?.[1] : undefined;
    if (systemdPod !== undefined) podUid = systemdPod.replaceAll('_', '-').toLowerCase();
    else if (cgroupfsPod !== undefined) podUid = cgroupfsPod.toLowerCase();
    if (segment === 'kubepods') belowKubepods = true;
  }
  return { ...(containerId !== undefined && { containerId }), ...(podUid !== undefined && { podUid }) };
}

function score(identity: CgroupIdentity): number {
  return (identity.containerId !== undefined ? 2 : 0) + (identity.podUid !== undefined ? 1 : 0);
}
