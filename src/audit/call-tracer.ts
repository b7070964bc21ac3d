// One SERVER span per RPC, named keyward.<Method>, continuing the caller's W3C trace
// context from the gRPC metadata. Attributes follow OpenTelemetry's RPC conventions
// where they exist (docs/tracing.md) and carry only metadata: key id and version,
// outcome, cache hit, backend, batch size, peer — never plaintext, data or keys.
import { ROOT_CONTEXT, SpanKind, type Attributes, SpanStatusCode, trace, type TextMapGetter, type TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { CallObserver, MetadataReader, ObservedCall } from '../core/call-observer.js';
import type { CallerIdentity } from '../core/caller.js';
import type { SpanScope } from './span-scope.js';

const getter: TextMapGetter<MetadataReader> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (read, key) => read(key),
};
const w3c = new W3CTraceContextPropagator();

/** Per identity, built once: a connection's calls share one identity object. */
const attributesOfCaller = new WeakMap<CallerIdentity, Attributes>();

/** The caller as span attributes: OpenTelemetry's names where they exist (docs/tracing.md). */
function callerAttributes(caller: CallerIdentity): Attributes {
  let attributes = attributesOfCaller.get(caller);
  if (attributes === undefined) {
    attributes = Object.freeze(buildCallerAttributes(caller));
    attributesOfCaller.set(caller, attributes);
  }
  return attributes;
}

function buildCallerAttributes(caller: CallerIdentity): Attributes {
  return {
    'keyward.peer.pid': caller.peer.pid,
    'keyward.peer.uid': caller.peer.uid,
    'keyward.peer.gid': caller.peer.gid,
    'enduser.id': caller.subject,
    ...(caller.exe !== undefined ? { 'process.executable.path': caller.exe } : {}),
    ...(caller.containerId !== undefined ? { 'container.id': caller.containerId } : {}),
    ...(caller.podUid !== undefined ? { 'k8s.pod.uid': caller.podUid } : {}),
    ...(caller.namespace !== undefined ? { 'k8s.namespace.name': caller.namespace } : {}),
    ...(caller.serviceAccount !== undefined ? { 'keyward.caller.service_account': caller.serviceAccount } : {}),
  };
}

export class CallTracer implements CallObserver {
  readonly #tracer;
  readonly #service: string;
  readonly #scope: SpanScope;

  constructor(provider: TracerProvider, service: string, version: string, scope: SpanScope) {
    this.#tracer = provider.getTracer('keyward', version);
    this.#service = service;
    this.#scope = scope;
  }

  start(method: string, metadata: MetadataReader): ObservedCall {
    const parent = w3c.extract(ROOT_CONTEXT, metadata, getter);
    const span = this.#tracer.startSpan(
      `keyward.${method}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'rpc.system': 'grpc',
          'rpc.service': this.#service,
          'rpc.method': method,
        },
      },
      parent,
    );
    const spanContext = trace.setSpan(parent, span);
    return {
      run: (fn) => this.#scope.run(spanContext, fn),
      end: (outcome) => {
        // Attribute by attribute: no intermediate objects on the call path.
        span.setAttribute('rpc.grpc.status_code', outcome.code);
        span.setAttribute('keyward.outcome', outcome.code === 0 ? 'ok' : outcome.codeName);
        if (outcome.keyId !== undefined) span.setAttribute('keyward.key.id', outcome.keyId);
        if (outcome.keyVersion !== undefined) span.setAttribute('keyward.key.version', outcome.keyVersion);
        if (outcome.backend !== undefined) span.setAttribute('keyward.backend', outcome.backend);
        if (outcome.cacheHit !== undefined) span.setAttribute('keyward.cache.hit', outcome.cacheHit);
        if (outcome.batchSize !== undefined) span.setAttribute('keyward.batch.size', outcome.batchSize);
        if (outcome.caller !== undefined) span.setAttributes(callerAttributes(outcome.caller));
        if (outcome.denialReason !== undefined) span.setAttribute('keyward.denial.reason', outcome.denialReason);
        if (outcome.dekGenerated) {
          span.addEvent('keyward.dek.generated', {
            ...(outcome.keyId !== undefined ? { 'keyward.key.id': outcome.keyId } : {}),
            ...(outcome.keyVersion !== undefined ? { 'keyward.key.version': outcome.keyVersion } : {}),
          });
        }
        if (outcome.code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.codeName });
        span.end();
      },
    };
  }
}

