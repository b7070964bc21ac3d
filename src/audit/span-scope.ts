// The active call's trace context, carried across awaits with node's AsyncLocalStorage:
// the call tracer enters it for the call, backend spans read it to become children.
// What is stored makes the OpenTelemetry Context only when something asks for it — a
// call that never reaches a backend never builds one. One scope per daemon, so several
// daemons in one process (tests) never mix traces.
import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'node:async_hooks';

/** Something that can give the trace context it stands for. */
export interface ContextSource {
  context(): Context;
}

class FixedContext implements ContextSource {
  constructor(readonly ctx: Context) {}
  context(): Context {
    return this.ctx;
  }
}

export class SpanScope {
  readonly #storage = new AsyncLocalStorage<ContextSource>();

  current(): Context {
    return this.#storage.getStore()?.context() ?? ROOT_CONTEXT;
  }

  /** Runs `fn` with `source` as the current trace context. */
  enter<T>(source: ContextSource, fn: () => Promise<T>): Promise<T> {
    return this.#storage.run(source, fn);
  }

  run<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
    return this.#storage.run(new FixedContext(ctx), fn);
  }
}
