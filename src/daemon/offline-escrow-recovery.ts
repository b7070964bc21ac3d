// `keyward keys escrow-recover` (docs/escrow.md, "Recovery onto a new host"): the
// composition root of an offline recovery. After the loss of a host, a new daemon would
// generate version 1 of every declared key at its first start, and the escrowed version 1
// could then never come back; so the escrowed versions go into the new keystore before
// that start, by this process, while no daemon runs. It builds only what that needs: the
// backends (opening only the recovered key's), the escrow master key, the audit log and
// the trace export as configured, and the lifecycle events that record the result.
import type { AuditLog } from '../audit/audit-log.js';
import { LifecycleEvents } from '../audit/lifecycle-events.js';
import { createTracerProvider, type TracerSetup } from '../audit/trace-export.js';
import type { Config } from '../config/config-schema.js';
import { loadConfig } from '../config/load-config.js';
import { noopBackendTracer } from '../core/backend-tracer.js';
import type { Logger } from '../core/logger.js';
import { OfflineEscrowKeys } from '../keys/offline-escrow-keys.js';
import { recoverKeyEscrow, type CombineResult } from '../service/key-escrow.js';
import { buildBackends } from './build-backends.js';
import { loadEscrowMasterKey } from './escrow-master-key.js';
import { openAuditLog } from './open-audit-log.js';
import { refuseWhileServing } from './refuse-while-serving.js';
import { InstanceLock } from './instance-lock.js';
import { KEYWARD_VERSION, traceExportSettings } from './telemetry-settings.js';

export interface OfflineRecoveryRequest {
  readonly configFile: string;
  /** The share files' bytes; the caller wipes them. */
  readonly shares: readonly Uint8Array[];
  /** A logger at the configuration's level (the CLI's writes to stderr). */
  readonly logger: (level: Config['log']['level']) => Logger;
}

export interface OfflineRecovery extends CombineResult {
  /** The key's primary version after the recovery. */
  readonly primaryVersion: number;
}

/** Where the recovery's escrow.combined event goes: log, audit log and span, as configured. */
interface Recording {
  readonly events: LifecycleEvents;
  readonly auditLog: AuditLog | undefined;
  readonly tracing: TracerSetup | undefined;
}

async function openRecording(config: Config, log: Logger): Promise<Recording> {
  const traces = config.telemetry.traces;
  const tracing = traces && createTracerProvider(traceExportSettings(traces), KEYWARD_VERSION);
  const auditLog = config.audit.log && (await openAuditLog(config.audit.log, log));
  const events = new LifecycleEvents({
    ...(tracing ? { tracer: tracing.provider.getTracer('keyward', KEYWARD_VERSION) } : {}),
    ...(auditLog ? { auditLog } : {}),
    logger: log,
  });
  return { events, auditLog, tracing };
}

/**
 * Flushes the span and closes the audit log. (That the escrow.combined record reached
 * the log is already known: recordDurably waited for it, or the recovery failed.)
 */
async function closeRecording(recording: Recording, log: Logger): Promise<void> {
  await recording.tracing?.provider.shutdown().catch((err: unknown) => log.warn({ err: String(err) }, 'trace export at exit failed'));
  await recording.auditLog?.close();
}

/** The OS user running the recovery: the audit record's actor, in the daemon's subject form. */
function osUser(): string {
  return `uid:${process.getuid?.() ?? 'unknown'}`;
}

/** Refuses while the daemon of the configuration runs; else combines the shares into its keystore. */
export async function recoverEscrowOffline(req: OfflineRecoveryRequest): Promise<OfflineRecovery> {
  const config = loadConfig(req.configFile);
  const log = req.logger(config.log.level);
  await refuseWhileServing(config.server, req.configFile, 'recovering keys offline');
  // Held for the whole run: a daemon starting meanwhile (or a second recovery) is refused.
  const lock = await InstanceLock.acquire(config.server.data_socket.path);
  try {
    return await recoverLocked(config, log, req.shares);
  } finally {
    await lock.release();
  }
}

async function recoverLocked(config: Config, log: Logger, shares: readonly Uint8Array[]): Promise<OfflineRecovery> {
  const masterKey = loadEscrowMasterKey(config);
  const specs = config.keys.map((k) => ({ keyId: k.id, purpose: k.purpose, algorithm: k.algorithm, backend: k.backend }));
  const keys = new OfflineEscrowKeys(specs, buildBackends(config.backends, log, noopBackendTracer));
  let recording: Recording | undefined;
  try {
    recording = await openRecording(config, log);
    const recovered = await recoverKeyEscrow({ keys, masterKey, events: recording.events }, shares, osUser());
    return { ...recovered, primaryVersion: (await keys.describe(recovered.keyId)).primaryVersion };
  } finally {
    await keys.close();
    masterKey?.dispose();
    if (recording !== undefined) await closeRecording(recording, log);
  }
}
