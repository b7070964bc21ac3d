// The container id and pod uid come out of every real /proc/<pid>/cgroup layout (v1 and
// v2; Docker, containerd, CRI-O, podman; the kubelet's systemd and cgroupfs drivers),
// host processes give nothing, and odd input never throws nor yields a loose match.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import test from 'ava';
import { parseCgroup, type CgroupIdentity } from '../../src/authz/cgroup-identity.js';

const fixture = (name: string) => readFileSync(resolve(process.cwd(), 'test', 'authz', 'fixtures', 'cgroup', name), 'utf8');

const POD_1 = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const POD_2 = '7f3e9c21-0b4d-4e8a-9f6c-2d1e5a7b8c90';
const POD_3 = 'c0ffee00-1234-4abc-8def-0123456789ab';
const POD_4 = 'e4b7d2a1-6c3f-4b59-a08e-91d2c4f6e3b7';

const FIXTURES: Record<string, CgroupIdentity> = {
  'v2-k8s-systemd-burstable-containerd.txt': { containerId: '2397d068a8d1552a4c3f9147ba9c94e086bfd66fb2acb5bbaf47197105127d5f', podUid: POD_1 },
  'v2-k8s-systemd-besteffort-crio.txt': { containerId: 'c64064614423cb790e88b3e5492ff5ccf673b25ae823089f7a60c65cda24d809', podUid: POD_2 },
  'v2-k8s-systemd-guaranteed-crio-subcgroup.txt': { containerId: 'b6e12f544eba62b3a25a8952cb59d8be768e0b63614ce89b1f8d142e6070af1d', podUid: POD_3 },
  'v2-k8s-systemd-crio-conmon.txt': { podUid: POD_1 },
  'v2-k8s-cgroupfs-besteffort.txt': { containerId: 'cb2b4929cca5dfe146b95ba58a8ca686bd32dc7840eda03d48efb96882137aaf', podUid: POD_2 },
  'v2-kind-systemd-nested.txt': { containerId: '0b27c158feb36ab18a10ff687909ec730ece6280581dd407e2672359be7725dd', podUid: POD_4 },
  // A static pod's uid is an md5 of its manifest, not a UUID: the container id only.
  'v2-k8s-systemd-static-pod.txt': { containerId: '2053dbbf6ec7135c4e994d3464c478db6f48d3ca21052c8f44915edc96e02c39' },
  'v2-docker-systemd.txt': { containerId: 'd548c5b83fa61d8e3bd86ad42a7ffea9b7c86e3f9d8095c1577d3e1270bb9420' },
  'v2-podman-root.txt': { containerId: '2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9' },
  'v2-podman-rootless.txt': { containerId: '4d24ca3baa36d48763662f5db2846ace60f7c374f19ce292faf8a8c785da3b9b' },
  'v2-podman-conmon.txt': {},
  'v2-host-session.txt': {},
  'v2-host-init.txt': {},
  'v1-k8s-systemd-burstable-containerd.txt': { containerId: '2397d068a8d1552a4c3f9147ba9c94e086bfd66fb2acb5bbaf47197105127d5f', podUid: POD_1 },
  'v1-k8s-cgroupfs-burstable.txt': { containerId: 'a6d72562dd560843b909fcbb494fdcaa98c35b789743dbea37e943f9b49836b3', podUid: POD_3 },
  'v1-k8s-cgroupfs-guaranteed.txt': { containerId: '9cc69b36dacd4b363db73cd76507442b66f177b17f91e5602ace4fab07660214', podUid: POD_4 },
  'v1-k8s-cgroupfs-crio.txt': { containerId: 'f43bc1d72c698f2c7d0f7d2a82760bb920f40832b9edcc5d0baa138809816001', podUid: POD_2 },
  'v1-docker-cgroupfs.txt': { containerId: '39158c67a24d980ff94d86f6d39b8a3896f6a902c22035bda87b67568c385b26' },
  'v1-hybrid-docker-systemd.txt': { containerId: '0deac0a26c0d846d7869c23130c6346c4040904a4134bb2f40a8c206a03748ed' },
  'v1-host-ssh.txt': {},
  'v1-host-user.txt': {},
};

for (const [name, expected] of Object.entries(FIXTURES)) {
  test(`fixture ${name}`, (t) => {
    t.deepEqual(parseCgroup(fixture(name)), expected);
  });
}

const ID = 'd548c5b83fa61d8e3bd86ad42a7ffea9b7c86e3f9d8095c1577d3e1270bb9420';
const OTHER_ID = '39158c67a24d980ff94d86f6d39b8a3896f6a902c22035bda87b67568c385b26';

test('v1: the line that names a container wins over lines at the root, wherever it is', (t) => {
  t.deepEqual(parseCgroup(`3:rdma:/\n2:misc:/\n1:memory:/docker/${ID}\n0::/\n`), { containerId: ID });
  t.deepEqual(parseCgroup(`2:memory:/docker/${ID}\n1:rdma:/\n0::/`), { containerId: ID });
  // A line with the container and its pod beats a line with the pod only.
  const pod = `/kubepods/burstable/pod${POD_1}`;
  t.deepEqual(parseCgroup(`3:rdma:${pod}\n2:memory:${pod}/${ID}\n1:name=systemd:${pod}\n`), { containerId: ID, podUid: POD_1 });
});

test('the innermost container scope is the one reported', (t) => {
  t.deepEqual(parseCgroup(`0::/docker/${OTHER_ID}/docker/${ID}\n`), { containerId: ID });
  t.deepEqual(parseCgroup(`0::/system.slice/docker-${ID}.scope/system.slice/cron.service\n`), { containerId: ID });
});

test('systemd-escaped pod uids come back dashed and lowercase', (t) => {
  const upper = POD_1.toUpperCase().replaceAll('-', '_');
  t.deepEqual(parseCgroup(`0::/kubepods.slice/kubepods-pod${upper}.slice/cri-containerd-${ID}.scope`), { containerId: ID, podUid: POD_1 });
});

test('CRLF line endings and trailing blanks are tolerated', (t) => {
  t.deepEqual(parseCgroup(`1:rdma:/\r\n0::/docker/${ID}\r\n\r\n`), { containerId: ID });
});

test('host processes give nothing', (t) => {
  for (const content of ['0::/', '0::/init.scope\n', '0::/user.slice/user-0.slice/session-1.scope', '1:name=systemd:/system.slice/ssh.service\n0::/system.slice/ssh.service']) {
    t.deepEqual(parseCgroup(content), {}, content);
  }
});

test('lookalikes are not container ids or pod uids', (t) => {
  const cases = [
    `0::/docker/${ID.toUpperCase()}`, // uppercase
    `0::/docker/${ID.slice(1)}`, // 63 hex
    `0::/docker/${ID}0`, // 65 hex
    `0::/docker/${ID.slice(0, 63)}g`, // not hex
    `0::/system.slice/docker-${ID}.scope.bak`,
    `0::/system.slice/containerd-${ID}.scope`, // unknown prefix
    `0::/machine.slice/libpod-conmon-${ID}.scope`,
    `0::/system.slice/crio-conmon-${ID}.scope`,
    `0::/docker-${ID}.scope-x`,
    `0::relative/docker/${ID}`, // not an absolute path
    `x::/docker/${ID}`, // hierarchy id not a number
    `/docker/${ID}`, // no hierarchy fields
  ];
  const pods = [
    `0::/pod${POD_1}/x`, // no kubepods above it
    `0::/kubepods/burstable/pod${POD_1.slice(1)}`,
    `0::/kubepods/burstable/pod${POD_1.replaceAll('-', '_')}`, // cgroupfs keeps the dashes
    `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_1}.slice`, // systemd escapes them
    `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podzz2b3c4d_5e6f_4a7b_8c9d_0e1f2a3b4c5d.slice`,
    `0::/kubepods.slice/other-pod${POD_1.replaceAll('-', '_')}.slice`,
  ];
  const matched = [...cases, ...pods].map((content) => ({ content, identity: parseCgroup(content) })).filter((c) => Object.keys(c.identity).length > 0);
  t.deepEqual(matched, []);
});

test('garbage never throws and gives nothing', (t) => {
  const garbage = ['', '\n\n\n', 'garbage', '0::', ':::', '0:', '::/', '\0\0\0', '0::/' + 'a/'.repeat(100_000), String.fromCharCode(...Array.from({ length: 512 }, (_, i) => (i * 7919) % 0xd800))];
  for (const content of garbage) t.deepEqual(parseCgroup(content), {}, JSON.stringify(content.slice(0, 40)));
});
