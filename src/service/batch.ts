// Use cases: EncryptBatch and DecryptBatch. The batch as a whole is checked against the
// item and byte limits; then each item succeeds or fails on its own, so one bad item
// does not fail the others.
import { DenialReason } from '../core/caller.js';
import { KeywardError, toKeywardError } from '../core/keyward-error.js';
import type { CallContext } from './call-context.js';
import { decrypt, type DecryptInput, type DecryptOutput } from './decrypt.js';
import { encrypt, type EncryptInput, type EncryptOutput } from './encrypt.js';
import type { ServiceDeps } from './service-deps.js';

export type ItemResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: KeywardError };

function checkBatch(deps: ServiceDeps, sizes: number[]): void {
  const { maxBatchItems, maxBatchBytes } = deps.limits;
  if (sizes.length === 0) throw KeywardError.invalidArgument('items is empty');
  if (sizes.length > maxBatchItems) {
    throw KeywardError.invalidArgument(
      `items has ${sizes.length} entries; the limit is ${maxBatchItems} (limits.max_batch_items)`,
    );
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total > maxBatchBytes) {
    throw KeywardError.invalidArgument(
      `the items hold ${total} bytes in all; the limit is ${maxBatchBytes} bytes (limits.max_batch_bytes)`,
    );
  }
}

/** Items may name different keys: the batch's span records its size, not one item's key. */
function itemContext(ctx: CallContext): CallContext {
  const { facts: _facts, ...rest } = ctx;
  return rest;
}

/** A refused item leaves its trace on the batch's own facts: count and first reason. */
function noteDenial(ctx: CallContext, error: KeywardError): void {
  if (error.code !== 'permission-denied' || ctx.facts === undefined) return;
  ctx.facts.deniedItems = (ctx.facts.deniedItems ?? 0) + 1;
  if (ctx.facts.denialReason === undefined && error.cause instanceof DenialReason) ctx.facts.denialReason = error.cause.message;
}

async function eachItem<I, O>(items: readonly I[], ctx: CallContext, run: (item: I) => Promise<O>): Promise<ItemResult<O>[]> {
  const results: ItemResult<O>[] = [];
  for (const item of items) {
    try {
      results.push({ ok: true, value: await run(item) });
    } catch (err) {
      const error = toKeywardError(err);
      noteDenial(ctx, error);
      results.push({ ok: false, error });
    }
  }
  return results;
}

export function encryptBatch(
  deps: ServiceDeps,
  items: readonly EncryptInput[],
  ctx: CallContext,
): Promise<ItemResult<EncryptOutput>[]> {
  checkBatch(deps, items.map((i) => i.plaintext.byteLength + i.associatedData.byteLength));
  if (ctx.facts) ctx.facts.batchSize = items.length;
  return eachItem(items, ctx, (item) => encrypt(deps, item, itemContext(ctx)));
}

export function decryptBatch(
  deps: ServiceDeps,
  items: readonly DecryptInput[],
  ctx: CallContext,
): Promise<ItemResult<DecryptOutput>[]> {
  checkBatch(deps, items.map((i) => i.ciphertext.byteLength + i.associatedData.byteLength));
  if (ctx.facts) ctx.facts.batchSize = items.length;
  return eachItem(items, ctx, (item) => decrypt(deps, item, itemContext(ctx)));
}
