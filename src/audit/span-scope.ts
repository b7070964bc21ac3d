// The active call's trace context, carried across awaits with node's AsyncLocalStorage:
// the call tracer enters it for the call, backend spans read it to become children.
// One scope per daemon, so several daemons in one process (tests) never mix traces.
import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'node:async_hooks';

export class SpanScope {
  readonly #storage = new AsyncLocalStorage<Context>();

  current(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  run<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
    return this.#storage.run(ctx, fn);
  }
}
