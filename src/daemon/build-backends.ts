// Constructs the configured KEK backends. This file and keyward-daemon.ts form the
// composition root: the only place that knows every backend type.
import { LocalBackend } from '../backends/local/local-backend.js';
import { Pkcs11Backend } from '../backends/pkcs11/pkcs11-backend.js';
import { VaultBackend } from '../backends/vault/vault-backend.js';
import type { BackendConfig } from '../config/config-schema.js';
import type { BackendTracer } from '../core/backend-tracer.js';
import type { KeyBackend } from '../core/key-backend.js';
import type { Logger } from '../core/logger.js';

function buildBackend(name: string, config: BackendConfig, logger: Logger, tracer: BackendTracer): KeyBackend {
  switch (config.type) {
    case 'local':
      return new LocalBackend({
        name,
        keystoreDir: config.keystore_dir,
        ...(config.root_key_file ? { rootKeyFile: config.root_key_file } : {}),
        logger: logger.child({ backend: name }),
      });
    case 'vault':
      return new VaultBackend({ name, settings: config, logger: logger.child({ backend: name }), tracer });
    case 'pkcs11':
      return new Pkcs11Backend({
        name,
        ...(config.module !== undefined ? { modulePath: config.module } : {}),
        ...(config.token !== undefined ? { token: config.token } : {}),
        ...(config.slot_id !== undefined ? { slotId: config.slot_id } : {}),
        pin: config.pin,
        keyPrefix: config.key_prefix,
        createMissingKeys: config.create_missing_keys,
        sessions: config.sessions,
        sessionWaitMs: config.session_wait_ms,
        reconnect: { initialMs: config.reconnect_initial_ms, maxMs: config.reconnect_max_ms },
        logger: logger.child({ backend: name }),
        tracer,
      });
  }
}

/** Builds every backend named in the configuration (not yet opened). */
export function buildBackends(configs: Readonly<Record<string, BackendConfig>>, logger: Logger, tracer: BackendTracer): Map<string, KeyBackend> {
  return new Map(Object.entries(configs).map(([name, config]) => [name, buildBackend(name, config, logger, tracer)]));
}
