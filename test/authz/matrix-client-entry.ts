// A client process for the authorization tests, run under another uid/gid with setpriv:
// reads {socket, adminSocket, calls} as JSON on stdin, makes each call over the real
// sockets with the SDK, and prints one JSON line per call: its gRPC code and message.
// Byte fields travel as {"$b64": "..."}.
import { createKeyAdminClient, createKeyServiceClient } from '../../src/client/keyward-client.js';

interface Call {
  readonly plane: 'data' | 'admin';
  readonly method: string;
  readonly request: unknown;
  readonly metadata?: Record<string, string>;
}

interface Input {
  readonly socket: string;
  readonly adminSocket?: string;
  readonly calls: readonly Call[];
}

function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record['$b64'] === 'string') return Buffer.from(record['$b64'], 'base64');
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Input;
  const data = createKeyServiceClient(input.socket) as unknown as Record<string, (req: unknown, options?: unknown) => Promise<unknown>>;
  const admin = input.adminSocket
    ? (createKeyAdminClient(input.adminSocket) as unknown as Record<string, (req: unknown, options?: unknown) => Promise<unknown>>)
    : undefined;
  const results: unknown[] = [];
  for (const call of input.calls) {
    const client = call.plane === 'data' ? data : admin;
    try {
      const response = await client![call.method]!(revive(call.request), { timeoutMs: 10_000, ...(call.metadata ? { metadata: call.metadata } : {}) });
      const { keys, results: items } = response as { keys?: Array<{ keyId: string }>; results?: Array<{ result: { case: string; value: { code?: number } } }> };
      results.push({
        code: 0,
        ...(keys ? { keyIds: keys.map((k) => k.keyId) } : {}),
        ...(items ? { items: items.map((i) => (i.result.case === 'error' ? (i.result.value.code ?? -1) : 0)) } : {}),
      });
    } catch (err) {
      const e = err as { code?: number; details?: string };
      results.push({ code: e.code ?? -1, details: e.details ?? String(err) });
    }
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
  (data as unknown as { close(): void }).close();
  (admin as unknown as { close(): void } | undefined)?.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(2);
});
