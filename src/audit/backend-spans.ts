// BackendTracer on OpenTelemetry: a CLIENT span per backend operation, child of the
// call's SERVER span (found through the daemon's SpanScope), ERROR when it throws.
import { SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { BackendTracer, SpanAttributes } from '../core/backend-tracer.js';
import type { SpanScope } from './span-scope.js';

export class BackendSpans implements BackendTracer {
  readonly #tracer: Tracer;
  readonly #scope: SpanScope;

  constructor(tracer: Tracer, scope: SpanScope) {
    this.#tracer = tracer;
    this.#scope = scope;
  }

  async run<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T> {
    const parent = this.#scope.current();
    const span = this.#tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    try {
      return await this.#scope.run(trace.setSpan(parent, span), fn);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'error' });
      throw err;
    } finally {
      span.end();
    }
  }
}
