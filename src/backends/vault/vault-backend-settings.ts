// The settings of one `vault` backend instance, in the shape of its configuration entry
// (snake_case, defaults already applied by the config schema). Declared here, not
// imported from config/, because backends depend on core only: the composition root
// passes the validated config entry, which TypeScript checks against this shape.

/** A secret named by file or environment variable, never inline (config `secretRefSchema`). */
export type SecretSource = { readonly file: string } | { readonly env: string };

export type DataKeySource = 'vault' | 'local';

export type VaultAuthSettings =
  | { readonly method: 'token'; readonly token: SecretSource }
  | { readonly method: 'approle'; readonly role_id: SecretSource; readonly secret_id: SecretSource; readonly mount: string }
  | { readonly method: 'kubernetes'; readonly role: string; readonly jwt: SecretSource; readonly mount: string };

export interface VaultTlsSettings {
  /** PEM file of the CA(s) that sign Vault's certificate (default: Node's bundled roots). */
  readonly ca_file?: string | undefined;
  /** PEM client certificate, for Vault listeners that require one (with client_key). */
  readonly client_cert_file?: string | undefined;
  readonly client_key?: SecretSource | undefined;
  /** The name to verify Vault's certificate against (and send as SNI), when it differs from the address's host. */
  readonly server_name?: string | undefined;
}

export interface VaultBackendSettings {
  /** http(s)://host:port of Vault (the API is under /v1/). */
  readonly address: string;
  /** Vault Enterprise namespace (X-Vault-Namespace), for auth and transit alike. */
  readonly namespace?: string | undefined;
  /** Where the Transit engine is mounted (node-vault's transit helpers assume "transit"). */
  readonly transit_mount: string;
  /** Prepended to key ids to name Transit keys (e.g. "keyward-"). */
  readonly key_name_prefix: string;
  readonly auth: VaultAuthSettings;
  readonly tls?: VaultTlsSettings | undefined;
  /** Deadline of one HTTP attempt, and the longest a request waits for a free slot. */
  readonly request_timeout_ms: number;
  readonly retry: { readonly max_attempts: number; readonly base_delay_ms: number; readonly max_delay_ms: number };
  readonly circuit_breaker: { readonly failure_threshold: number; readonly open_ms: number };
  readonly max_concurrent_requests: number;
  /** How often key metadata is re-read to notice rotations and min_decryption_version changes. */
  readonly key_poll_interval_ms: number;
  /** Create missing Transit keys at start; otherwise a missing key is failed-precondition. */
  readonly create_keys: boolean;
  /** Where DEKs come from: Vault's RNG (transit/datakey) or the local CSPRNG sealed with transit/encrypt. */
  readonly data_key_source: DataKeySource;
  readonly data_key_source_by_key: Readonly<Record<string, DataKeySource>>;
}
