// `make bench`: measures keyward's data plane against a bare grpc-js echo server in the
// same run — Encrypt and Decrypt of 1 KiB at concurrency 1 and 64, and EncryptBatch —
// with the servers in child processes so the load generator has its own event loop.
// Prints a table and the ratios the performance goals are stated in; exits 0 whatever
// the numbers (1 only when the servers cannot be started). Settings, from the
// environment:
//   BENCH_SECONDS=5  BENCH_WARMUP_SECONDS=3  BENCH_CHANNELS=4  BENCH_BATCH_ITEMS=100
//   BENCH_COMPARE_CHANNELS=1     also measure echo and Encrypt at 64 on one channel
//   BENCH_SCENARIOS=encrypt@64   run only these rows (comma-separated id prefixes) and
//                                sections (audit, authz, signing, hsm, vault); all by default
//   BENCH_AUTHZ_SECONDS=4  BENCH_AUTHZ_WARMUP_SECONDS=2  BENCH_AUTHZ_ROUNDS=2   authz section
//   BENCH_PROFILE_DIR=<dir>      run the children under --cpu-prof, summarize after
//   BENCH_JSON=<file>            also write the raw measurements as JSON
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDaemonChild, startEchoChild, type ServerChild } from './child-processes.js';
import { runLoad } from './load-runner.js';
import { summarizeProfile } from './profile-summary.js';
import { renderReport, type Measurement, type RunInfo, type Scenario, type ScenarioKind } from './report.js';
import { decryptTarget, echoTarget, encryptBatchTarget, encryptTarget, PAYLOAD_BYTES, payload, type Target } from './targets.js';
import { runAuditBench } from './audit-bench.js';
import { runAuthzBench } from './authz-bench.js';
import { runHsmBench } from './hsm-bench.js';
import { runSigningBench } from './signing-bench.js';
import { runVaultBench } from './vault-bench.js';

const HIGH_CONCURRENCY = 64;
const DRAIN_TIMEOUT_MS = 10_000;
const START_BUDGET_MS = 30_000;

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    process.stderr.write(`bench: ignoring ${name}=${raw} (expected a number from ${min} to ${max}); using ${fallback}\n`);
    return fallback;
  }
  return value;
}

const settings = {
  seconds: envNumber('BENCH_SECONDS', 5, 0.2, 600),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3, 0, 600),
  channels: Math.round(envNumber('BENCH_CHANNELS', 4, 1, 64)),
  batchItems: Math.round(envNumber('BENCH_BATCH_ITEMS', 100, 1, 1000)),
  compareChannels: process.env['BENCH_COMPARE_CHANNELS'] !== '0',
  only: (process.env['BENCH_SCENARIOS'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
  profileDir: process.env['BENCH_PROFILE_DIR'] ? resolve(process.env['BENCH_PROFILE_DIR']) : undefined,
  jsonFile: process.env['BENCH_JSON'] ? resolve(process.env['BENCH_JSON']) : undefined,
};

function scenario(kind: ScenarioKind, concurrency: number, channels: number, section: Scenario['section'] = 'main'): Scenario {
  const ch = Math.min(channels, concurrency);
  return { id: `${kind}@${concurrency}/${ch}ch`, kind, concurrency, channels: ch, section };
}

/** The rows, echo next to the rows it is the reference for, so they share conditions. */
function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  for (const c of [1, HIGH_CONCURRENCY]) {
    for (const kind of ['echo', 'encrypt', 'decrypt'] as const) list.push(scenario(kind, c, settings.channels));
  }
  list.push(scenario('batch', 1, settings.channels), scenario('batch', HIGH_CONCURRENCY, settings.channels));
  if (settings.compareChannels) {
    const alt = settings.channels === 1 ? 4 : 1;
    list.push(scenario('echo', HIGH_CONCURRENCY, alt, 'channels'), scenario('encrypt', HIGH_CONCURRENCY, alt, 'channels'));
  }
  return settings.only.length === 0 ? list : list.filter((s) => settings.only.some((p) => s.id.startsWith(p)));
}

const children: ServerChild[] = [];
const measurements: Measurement[] = [];
let workDir: string | undefined;

function runInfo(): RunInfo {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.seconds,
    channels: settings.channels,
    batchItems: settings.batchItems,
    payloadBytes: PAYLOAD_BYTES,
    highConcurrency: HIGH_CONCURRENCY,
  };
}

async function stopChildren(): Promise<void> {
  await Promise.allSettled(children.splice(0).map((c) => c.stop()));
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
}

function printReport(): void {
  process.stdout.write(`${renderReport(runInfo(), measurements)}\n`);
  if (settings.jsonFile !== undefined) {
    writeFileSync(settings.jsonFile, `${JSON.stringify({ info: runInfo(), measurements }, null, 2)}\n`);
  }
}

/** Calls (batch items) each server child served in all, warm-up included. */
function itemsServed(kindIsEcho: boolean): number {
  return measurements
    .filter((m) => (m.scenario.kind === 'echo') === kindIsEcho)
    .reduce((sum, m) => sum + (m.result?.completedCalls ?? 0) * m.itemsPerCall, 0);
}

function printProfiles(pids: Map<number, string>): void {
  if (settings.profileDir === undefined) return;
  for (const file of readdirSync(settings.profileDir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const pid = [...pids.keys()].find((p) => file.includes(`.${p}.`));
    if (pid === undefined) continue;
    const path = join(settings.profileDir, file);
    try {
      const name = pids.get(pid)!;
      const served = itemsServed(name === 'echo');
      process.stdout.write(`\n== CPU profile of the ${name} child (${path}) ==\n${summarizeProfile(path, 25, served || undefined).text}\n`);
    } catch (err) {
      process.stdout.write(`\ncould not read ${path}: ${String(err)}\n`);
    }
  }
}

async function makeTarget(s: Scenario, echo: ServerChild, daemon: ServerChild, data: Buffer): Promise<Target> {
  switch (s.kind) {
    case 'echo':
      return echoTarget(echo.socketPath, s.channels, data);
    case 'encrypt':
      return encryptTarget(daemon.socketPath, s.channels, data);
    case 'decrypt':
      return decryptTarget(daemon.socketPath, s.channels, data);
    case 'batch':
      return encryptBatchTarget(daemon.socketPath, s.channels, data, settings.batchItems);
  }
}

async function main(): Promise<number> {
  const list = scenarios();
  const perRowMs = (settings.warmupSeconds + settings.seconds) * 1_000 + DRAIN_TIMEOUT_MS + 2_000;
  const budgetMs = START_BUDGET_MS + list.length * perRowMs;
  // The whole run is bounded: past the budget, report what there is and leave.
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: the run exceeded its ${Math.round(budgetMs / 1000)} s budget; reporting what was measured\n`);
    printReport();
    for (const child of children) child.kill();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
    process.exit(0);
  }, budgetMs);

  workDir = mkdtempSync(join(tmpdir(), 'keyward-bench-'));
  if (settings.profileDir !== undefined) mkdirSync(settings.profileDir, { recursive: true });
  const spawnOptions = { cpuProfileDir: settings.profileDir };
  let echo: ServerChild;
  let daemon: ServerChild;
  try {
    [echo, daemon] = await Promise.all([
      startEchoChild(workDir, { ...spawnOptions, inject: process.env['BENCH_ECHO_INJECT'] === '1' }).then((c) => (children.push(c), c)),
      startDaemonChild(workDir, spawnOptions).then((c) => (children.push(c), c)),
    ]);
  } catch (err) {
    process.stderr.write(`bench: could not start the servers: ${err instanceof Error ? err.message : String(err)}\n`);
    clearTimeout(watchdog);
    await stopChildren();
    return 1;
  }
  const pids = new Map([
    [echo.pid, 'echo'],
    [daemon.pid, 'keyward'],
  ]);

  const data = payload();
  const started = Date.now();
  for (const [i, s] of list.entries()) {
    const server = s.kind === 'echo' ? echo : daemon;
    process.stderr.write(`[${i + 1}/${list.length}] ${s.id} ... `);
    let target: Target | undefined;
    try {
      target = await makeTarget(s, echo, daemon, data);
      const result = await runLoad({
        concurrency: s.concurrency,
        warmupMs: settings.warmupSeconds * 1_000,
        durationMs: settings.seconds * 1_000,
        call: target.call,
        serverPid: server.pid,
        drainTimeoutMs: DRAIN_TIMEOUT_MS,
      });
      measurements.push({ scenario: s, itemsPerCall: target.itemsPerCall, result });
      process.stderr.write(`${Math.round(result.callsPerSecond * target.itemsPerCall).toLocaleString('en-US')} items/s${result.errors ? `, ${result.errors} errors` : ''}\n`);
    } catch (err) {
      const failure = err instanceof Error ? err.message : String(err);
      measurements.push({ scenario: s, itemsPerCall: target?.itemsPerCall ?? 1, failure });
      process.stderr.write(`failed: ${failure}\n`);
    } finally {
      target?.close();
    }
  }
  process.stderr.write(`measured in ${((Date.now() - started) / 1000).toFixed(0)} s\n\n`);
  clearTimeout(watchdog);
  printReport();
  // Profiles are written when the children exit, so stop them first.
  await stopChildren();
  printProfiles(pids);
  if (wanted('audit')) await runSection('Audit on vs off', runAuditBench);
  if (wanted('authz')) await runSection('Authorization: 100-rule policy vs allow-all', runAuthzBench);
  if (wanted('signing')) await runSection('Signing (local backend)', runSigningBench);
  if (wanted('hsm')) await runSection('HSM (PKCS#11, SoftHSM2)', runHsmBench);
  if (wanted('vault')) await runSection('Vault Transit (test Vault server)', runVaultBench);
  return 0;
}

/** Whether a section runs: all do unless BENCH_SCENARIOS names some. */
function wanted(section: string): boolean {
  return settings.only.length === 0 || settings.only.includes(section);
}

/** A further section of the report; its failure is printed, never fatal. */
async function runSection(title: string, run: () => Promise<void>): Promise<void> {
  process.stdout.write(`\n== ${title} ==\n`);
  try {
    await run();
  } catch (err) {
    process.stdout.write(`${title} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}; stopping the servers\n`);
    void stopChildren().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await stopChildren();
    process.exit(1);
  },
);
