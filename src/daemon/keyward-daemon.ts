// The composition root: builds every part from the frozen configuration, starts the two
// planes, and stops them in order — stop accepting, drain in-flight calls within the
// grace period, zeroize every cache, close the backends, remove the sockets.
import type { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import { AdminPlaneServer } from '../api/admin-plane-server.js';
import type { AuditLog } from '../audit/audit-log.js';
import { AuditLogObserver } from '../audit/audit-log-observer.js';
import { CallDurationHistogram } from '../audit/call-duration-histogram.js';
import { CallMetrics, type KeyRotationView } from '../audit/call-metrics.js';
import { BackendMetrics, cacheDisposalCounter, combineBackendTracers } from '../audit/backend-metrics.js';
import { BackendSpans } from '../audit/backend-spans.js';
import { CallTracer } from '../audit/call-tracer.js';
import type { CallSpanQueue } from '../audit/call-span-queue.js';
import { SpanScope } from '../audit/span-scope.js';
import { LifecycleEvents } from '../audit/lifecycle-events.js';
import { registerSpanDropMetric, type SpanExportStats } from '../audit/span-export-accounting.js';
import { createMeterProvider } from '../audit/metric-export.js';
import { createTracerProvider } from '../audit/trace-export.js';
import { DataPlaneServer } from '../api/data-plane-server.js';
import { DecryptionDekCache } from '../cache/decryption-dek-cache.js';
import { EncryptionDekCache } from '../cache/encryption-dek-cache.js';
import type { Config } from '../config/config-schema.js';
import { noopBackendTracer, type BackendTracer } from '../core/backend-tracer.js';
import { noopCallObserver, type CallObserver } from '../core/call-observer.js';
import { combineObservers } from '../core/call-observers.js';
import type { KeyBackend } from '../core/key-backend.js';
import type { Logger } from '../core/logger.js';
import type { SecretBytes } from '../core/secret-bytes.js';
import { EnvelopeKeyring } from '../keys/envelope-keyring.js';
import { KeyRegistry } from '../keys/key-registry.js';
import { PublicKeyring } from '../keys/public-keyring.js';
import type { ServiceDeps } from '../service/service-deps.js';
import { buildAuthorization, type AuthorizationParts } from './build-authorization.js';
import { buildBackends } from './build-backends.js';
import { loadEscrowMasterKey } from './escrow-master-key.js';
import { openAuditLog } from './open-audit-log.js';
import { InstanceLock } from './instance-lock.js';
import { KEYWARD_VERSION, otlpConnection, traceExportSettings } from './telemetry-settings.js';

/** What tests may set beyond the configuration. */
export interface DaemonOptions {
  /** The clock of failed-attempt counting. */
  readonly now?: () => number;
  /** Where /proc is (fixtures). */
  readonly procRoot?: string;
  /** 'start-time': re-check callers through /proc even when a pidfd exists (fixtures that fake pid reuse). */
  readonly recheckBy?: 'pidfd' | 'start-time';
}

export class KeywardDaemon {
  readonly #config: Config;
  readonly #options: DaemonOptions;
  readonly #log: Logger;
  #authorization: AuthorizationParts | undefined;
  readonly #backends: ReadonlyMap<string, KeyBackend>;
  readonly #encryptCache: EncryptionDekCache;
  readonly #decryptCache: DecryptionDekCache;
  #dataPlane: DataPlaneServer | undefined;
  #adminPlane: AdminPlaneServer | undefined;
  #stopping: Promise<void> | undefined;
  readonly #tracerProvider: TracerProvider | undefined;
  readonly #spanScope = new SpanScope();
  #spanStats: SpanExportStats | undefined;
  #auditLog: AuditLog | undefined;
  #meterProvider: MeterProvider | undefined;
  #callMetrics: CallMetrics | undefined;
  /** keyward.rpc.duration: recorded by CallMetrics, collected by every metric reader. */
  readonly #callDuration = new CallDurationHistogram(KEYWARD_VERSION);
  #lifecycle: LifecycleEvents | undefined;
  #callSpans: CallSpanQueue | undefined;
  /** Held from the start of #start() until stopped (instance-lock.ts). */
  #lock: InstanceLock | undefined;
  #escrowMasterKey: SecretBytes | undefined;

  private constructor(config: Config, log: Logger, options: DaemonOptions) {
    this.#config = config;
    this.#options = options;
    this.#log = log;
    const traces = config.telemetry.traces;
    if (traces !== undefined) {
      const tracing = createTracerProvider(traceExportSettings(traces), KEYWARD_VERSION);
      this.#tracerProvider = tracing.provider;
      this.#spanStats = tracing.stats;
      this.#callSpans = tracing.callSpans;
    }
    this.#meterProvider = this.#createMeterProvider();
    const meter = this.#meterProvider?.getMeter('keyward', KEYWARD_VERSION);
    const backendTracers: BackendTracer[] = [];
    if (this.#tracerProvider) backendTracers.push(new BackendSpans(this.#tracerProvider.getTracer('keyward.backend', KEYWARD_VERSION), this.#spanScope));
    if (meter) backendTracers.push(new BackendMetrics(meter));
    this.#backends = buildBackends(config.backends, log, backendTracers.length > 0 ? combineBackendTracers(backendTracers) : noopBackendTracer);
    const disposed = meter ? cacheDisposalCounter(meter) : undefined;
    const { encrypt, decrypt } = config.cache;
    this.#encryptCache = new EncryptionDekCache(
      { maxAgeMs: encrypt.max_age_ms, maxMessages: encrypt.max_messages, maxBytes: encrypt.max_bytes, maxKeys: encrypt.max_keys },
      disposed && ((reason) => disposed('encrypt', reason)),
    );
    this.#decryptCache = new DecryptionDekCache({ ttlMs: decrypt.ttl_ms, maxEntries: decrypt.max_entries }, disposed && ((reason) => disposed('decrypt', reason)));
  }

  /** Opens the backends, makes sure every declared key exists, and starts serving. */
  static async start(config: Config, log: Logger, options: DaemonOptions = {}): Promise<KeywardDaemon> {
    const daemon = new KeywardDaemon(config, log, options);
    try {
      await daemon.#start();
    } catch (err) {
      await daemon.stop().catch(() => undefined);
      throw err;
    }
    return daemon;
  }

  async #start(): Promise<void> {
    const config = this.#config;
    // Before anything is opened: one writer of this keystore and audit log at a time.
    this.#lock = await InstanceLock.acquire(config.server.data_socket.path);
    if (config.audit.log !== undefined) this.#auditLog = await openAuditLog(config.audit.log, this.#log);
    this.#escrowMasterKey = loadEscrowMasterKey(config);
    for (const backend of this.#backends.values()) await backend.open();
    this.#lifecycle = new LifecycleEvents({
      ...(this.#tracerProvider ? { tracer: this.#tracerProvider.getTracer('keyward', KEYWARD_VERSION), scope: this.#spanScope } : {}),
      ...(this.#auditLog ? { auditLog: this.#auditLog } : {}),
      logger: this.#log,
    });
    const lifecycle = this.#lifecycle;
    this.#authorization = this.#buildAuthorization(lifecycle);
    const callers = this.#authorization.authorizer;
    const registry = await KeyRegistry.open(
      config.keys.map((k) => ({ keyId: k.id, purpose: k.purpose, algorithm: k.algorithm, backend: k.backend })),
      this.#backends,
      (spec, versions) =>
        lifecycle.record('key.generated', {
          key_id: spec.keyId,
          key_type: spec.algorithm,
          purpose: spec.purpose,
          backend: spec.backend,
          key_version: versions.primaryVersion,
        }),
    );
    const keyring = new EnvelopeKeyring(this.#encryptCache, this.#decryptCache);
    // A version that stops being enabled (disabled, destroyed, below Vault's
    // min_decryption_version) loses its cached DEKs in the same step.
    registry.onVersionChange((keyId, versions) => {
      for (const v of versions.versions) {
        if (v.state === 'enabled') keyring.allow(keyId, v.version);
        else keyring.purge(keyId, v.version);
      }
    });
    this.#reportVersionChanges(registry, lifecycle);
    const deps: ServiceDeps = {
      registry,
      keyring,
      publicKeys: new PublicKeyring(),
      limits: {
        maxPlaintextBytes: config.limits.max_plaintext_bytes,
        maxAssociatedDataBytes: config.limits.max_associated_data_bytes,
        maxBatchItems: config.limits.max_batch_items,
        maxBatchBytes: config.limits.max_batch_bytes,
      },
    };
    const { data_socket, admin_socket } = config.server;
    this.#dataPlane = new DataPlaneServer({
      socket: { path: data_socket.path, mode: data_socket.mode, ...(data_socket.group !== undefined ? { group: data_socket.group } : {}) },
      deps,
      observer: this.#callObserver('data', registry),
      callers,
      backends: [...this.#backends.values()],
      logger: this.#log.child({ plane: 'data' }),
    });
    this.#adminPlane = new AdminPlaneServer({
      socket: { path: admin_socket.path, mode: admin_socket.mode, ...(admin_socket.group !== undefined ? { group: admin_socket.group } : {}) },
      registry,
      escrow: { registry, masterKey: this.#escrowMasterKey, events: lifecycle },
      observer: this.#callObserver('admin', registry),
      callers,
      logger: this.#log.child({ plane: 'admin' }),
    });
    await this.#dataPlane.start();
    await this.#adminPlane.start();
    this.#log.info(
      { data_socket: data_socket.path, admin_socket: admin_socket.path, keys: registry.list().length },
      'keyward serving',
    );
  }

  /** Call spans over OTLP and records in the local audit log, as configured. */
  #callObserver(plane: 'data' | 'admin', registry: KeyRegistry): CallObserver {
    const observers: CallObserver[] = [];
    const metrics = this.#metrics(registry);
    if (metrics !== undefined) observers.push(metrics);
    if (this.#callSpans !== undefined) {
      const service = plane === 'data' ? 'keyward.v1.KeyService' : 'keyward.v1.KeyAdminService';
      observers.push(new CallTracer(this.#callSpans, service, this.#spanScope));
    }
    if (this.#auditLog !== undefined) observers.push(new AuditLogObserver(this.#auditLog, this.#log, plane));
    return observers.length === 0 ? noopCallObserver : combineObservers(observers, (err) => this.#log.error({ err: String(err), plane }, 'call observer failed'));
  }

  /** One metrics observer for both planes, when OTLP metrics or Prometheus are on. */
  #metrics(registry: KeyRegistry): CallMetrics | undefined {
    if (this.#callMetrics !== undefined) return this.#callMetrics;
    if (this.#meterProvider === undefined) return undefined;
    const periods = new Map(this.#config.keys.map((k) => [k.id, k.rotation_period_days]));
    const rotationViews = (): KeyRotationView[] =>
      registry.list().map((key) => {
        const period = periods.get(key.spec.keyId) ?? (key.spec.purpose === 'encrypt' ? 365 : 90);
        const primary = key.versions.versions.find((v) => v.version === key.versions.primaryVersion);
        // Policy §3.6: 7 days' grace for annual rotations, 3 for quarterly ones.
        return { keyId: key.spec.keyId, primaryCreatedAt: primary?.createdAt ?? new Date(), rotationPeriodDays: period, overdueGraceDays: period >= 365 ? 7 : 3 };
      });
    const meter = this.#meterProvider.getMeter('keyward', KEYWARD_VERSION);
    this.#callMetrics = new CallMetrics(meter, rotationViews, { duration: this.#callDuration });
    if (this.#spanStats !== undefined) registerSpanDropMetric(meter, this.#spanStats);
    return this.#callMetrics;
  }

  /** OTLP metrics and/or the Prometheus endpoint, when configured. */
  #createMeterProvider(): MeterProvider | undefined {
    const { metrics, prometheus } = this.#config.telemetry;
    if (metrics === undefined && prometheus === undefined) return undefined;
    return createMeterProvider(
      {
        ...(metrics
          ? {
              otlp: {
                protocol: metrics.protocol,
                endpoint: metrics.endpoint,
                exportIntervalMs: metrics.export_interval_ms,
                connection: otlpConnection(metrics, 'telemetry.metrics'),
              },
            }
          : {}),
        ...(prometheus ? { prometheus: { host: prometheus.host, port: prometheus.port } } : {}),
      },
      KEYWARD_VERSION,
      [this.#callDuration],
    );
  }

  /** The authorization layer; failed attempts past the threshold raise an alert (policy §8). */
  #buildAuthorization(lifecycle: LifecycleEvents): AuthorizationParts {
    const meter = this.#meterProvider?.getMeter('keyward', KEYWARD_VERSION);
    const alerts = meter?.createCounter('keyward.authz.failed_attempt_alerts', {
      description: 'Identities that had more denied or failed attempts than allowed within the window',
    });
    return buildAuthorization(this.#config.authorization, {
      logger: this.#log,
      ...this.#options,
      onAlert: (alert) => {
        alerts?.add(1);
        lifecycle.record(
          'alert.failed_attempts',
          {
            'enduser.id': alert.subject,
            attempts: alert.attempts,
            window_ms: alert.windowMs,
            ...(alert.last.keyId !== undefined ? { key_id: alert.last.keyId } : {}),
            operation: alert.last.operation,
            reason: alert.last.reason,
          },
          'error',
        );
      },
    });
  }

  /**
   * SIGHUP: reads the configuration again and replaces the authorization policy (rules,
   * roles, bearer token settings, the JWKS file). An invalid new configuration keeps the
   * old policy and says why. Other sections need a restart; a change there is reported.
   */
  reload(load: () => Config): void {
    const lifecycle = this.#lifecycle;
    const authorization = this.#authorization;
    if (lifecycle === undefined || authorization === undefined) return;
    let next: Config;
    let rules: number;
    try {
      next = load();
      ({ rules } = authorization.reload(next.authorization));
    } catch (err) {
      lifecycle.record('policy.reload_failed', { reason: err instanceof Error ? err.message : String(err), outcome: 'the previous policy stays in force' }, 'error');
      return;
    }
    const { authorization: _next, ...restNext } = next;
    const { authorization: _old, ...restOld } = this.#config;
    // Compared with the configuration the daemon started with, which stays in force.
    const restartNeeded =
      JSON.stringify(restNext) !== JSON.stringify(restOld) ||
      JSON.stringify(next.authorization.failed_attempts) !== JSON.stringify(this.#config.authorization.failed_attempts);
    lifecycle.record('policy.reloaded', { rules, ...(restartNeeded ? { note: 'changes outside authorization rules take effect at the next restart' } : {}) });
  }

  /** Rotations and version state changes, as lifecycle events (policy §8). */
  #reportVersionChanges(registry: KeyRegistry, lifecycle: LifecycleEvents): void {
    const seen = new Map(registry.list().map((k) => [k.spec.keyId, k.versions]));
    registry.onVersionChange((keyId, versions) => {
      const before = seen.get(keyId);
      seen.set(keyId, versions);
      const backend = registry.get(keyId).backend.name;
      if (before !== undefined && versions.primaryVersion !== before.primaryVersion) {
        lifecycle.record('key.rotated', { key_id: keyId, backend, old_version: before.primaryVersion, new_version: versions.primaryVersion });
      }
      for (const v of versions.versions) {
        const was = before?.versions.find((b) => b.version === v.version)?.state;
        if (was === undefined || was === v.state) continue;
        const event = v.state === 'destroyed' ? 'key.version_destroyed' : v.state === 'enabled' ? 'key.version_enabled' : 'key.version_disabled';
        lifecycle.record(event, { key_id: keyId, backend, key_version: v.version, state: v.state, previous_state: was });
      }
    });
  }

  /** Stops in order; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const grace = this.#config.server.shutdown_grace_ms;
    this.#log.info({ grace_ms: grace }, 'stopping');
    await Promise.all([this.#dataPlane?.stop(grace), this.#adminPlane?.stop(grace)]);
    this.#encryptCache.close();
    this.#decryptCache.close();
    await Promise.allSettled([...this.#backends.values()].map((b) => b.close()));
    this.#escrowMasterKey?.dispose();
    // Spans and audit records of the calls drained above leave before the process does.
    await this.#auditLog?.close().catch((err: unknown) => this.#log.error({ err: String(err) }, 'audit log close failed'));
    await this.#meterProvider?.shutdown().catch((err: unknown) => this.#log.warn({ err: String(err) }, 'metric export at shutdown failed'));
    await this.#tracerProvider?.shutdown().catch((err: unknown) => this.#log.warn({ err: String(err) }, 'trace export at shutdown failed'));
    await this.#lock?.release();
    this.#log.info('stopped');
  }
}
