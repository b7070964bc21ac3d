// How a backend reports its remote or token operations as child spans of the call that
// caused them (a Vault HTTP request, a PKCS#11 operation), without importing any
// telemetry library: the daemon hands each backend a BackendTracer, a no-op when
// tracing is off. Attributes are metadata only (operation, key id, version, status).

export type SpanAttributes = Readonly<Record<string, string | number | boolean>>;

export interface BackendTracer {
  /** Runs `fn` inside a CLIENT span named `name`; the span ends with fn's outcome. */
  run<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T>;
}

export const noopBackendTracer: BackendTracer = { run: (_name, _attributes, fn) => fn() };
