// `make bench`, signing section: Sign and Verify per algorithm over the socket, next to
// node:crypto signing in this process with a key of the same algorithm and size (the
// daemon's private keys never leave it, so "the same key" means the same kind of key).
import { constants, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createKeyServiceClient } from '../src/client/keyward-client.js';
import { SignatureAlgorithm } from '../src/wire/gen/keyward/v1/key_service_pb.js';
import { startDaemonChild } from './child-processes.js';
import { runLoad } from './load-runner.js';

const signAsync = promisify(cryptoSign);
const MESSAGE = Buffer.alloc(256, 0x5a);

interface Case {
  readonly label: string;
  readonly keyId: string;
  readonly algorithm: SignatureAlgorithm;
  readonly nodeKey: KeyObject;
  readonly nodeSign: (key: KeyObject) => Promise<Buffer>;
}

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value * 1000 : fallback * 1000;
}

function cases(): Case[] {
  const ed = generateKeyPairSync('ed25519').privateKey;
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey;
  return [
    { label: 'Ed25519', keyId: 'sign-ed25519', algorithm: SignatureAlgorithm.ED25519, nodeKey: ed, nodeSign: (k) => signAsync(null, MESSAGE, k) },
    { label: 'ECDSA P-256', keyId: 'sign-p256', algorithm: SignatureAlgorithm.ECDSA_P256_SHA256, nodeKey: p256, nodeSign: (k) => signAsync('sha256', MESSAGE, k) },
    { label: 'RSA-4096 PKCS#1', keyId: 'sign-rsa', algorithm: SignatureAlgorithm.RSA_PKCS1_SHA256, nodeKey: rsa, nodeSign: (k) => signAsync('sha256', MESSAGE, k) },
    {
      label: 'RSA-4096 PSS',
      keyId: 'sign-rsa',
      algorithm: SignatureAlgorithm.RSA_PSS_SHA256,
      nodeKey: rsa,
      nodeSign: (k) => signAsync('sha256', MESSAGE, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
    },
  ];
}

export async function runSigningBench(): Promise<void> {
  const warmupMs = seconds('BENCH_SIGN_WARMUP_SECONDS', 1);
  const durationMs = seconds('BENCH_SIGN_SECONDS', 3);
  const concurrency = 8;
  const dir = mkdtempSync(join(tmpdir(), 'keyward-sign-bench-'));
  const daemon = await startDaemonChild(dir);
  const client = createKeyServiceClient(daemon.socketPath);
  const out = (line = '') => process.stdout.write(`${line}\n`);
  try {
    out(`Sign and Verify of ${MESSAGE.length} B over the socket (concurrency ${concurrency}), local backend, vs node:crypto in this process`);
    out(`${durationMs / 1000} s per row after ${warmupMs / 1000} s of warm-up`);
    out();
    out('algorithm          Sign/s socket  node:crypto/s  socket÷node  Verify/s socket');
    for (const c of cases()) {
      const signature = (await client.sign({ keyId: c.keyId, input: { case: 'message', value: MESSAGE }, algorithm: c.algorithm })).signature;
      const common = { concurrency, warmupMs, durationMs };
      const socketSign = await runLoad({
        ...common,
        serverPid: daemon.pid,
        call: async () => {
          await client.sign({ keyId: c.keyId, input: { case: 'message', value: MESSAGE }, algorithm: c.algorithm });
        },
      });
      const local = await runLoad({
        ...common,
        serverPid: process.pid,
        call: async () => {
          await c.nodeSign(c.nodeKey);
        },
      });
      const socketVerify = await runLoad({
        ...common,
        serverPid: daemon.pid,
        call: async () => {
          const r = await client.verify({ keyId: c.keyId, input: { case: 'message', value: MESSAGE }, signature, algorithm: c.algorithm });
          if (!r.valid) throw new Error('signature did not verify');
        },
      });
      const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(13);
      out(
        `${c.label.padEnd(17)}${fmt(socketSign.callsPerSecond)}  ${fmt(local.callsPerSecond)}  ${(socketSign.callsPerSecond / local.callsPerSecond).toFixed(2).padStart(11)}  ${fmt(socketVerify.callsPerSecond)}`,
      );
    }
  } finally {
    client.close();
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
