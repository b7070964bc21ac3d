// The escrow use cases' own rules, with a registry and events of the test's making: only
// an enabled version is escrowed, and an escrow whose record cannot reach the audit log
// exports nothing (refused before the export) and returns no share (refused after it).
import test from 'ava';
import { KeywardError, isKeywardError } from '../../src/core/keyward-error.js';
import { SecretBytes } from '../../src/core/secret-bytes.js';
import type { KeyVersionState } from '../../src/core/key-types.js';
import { combineKeyEscrow, splitKeyEscrow, type EscrowDeps } from '../../src/service/key-escrow.js';
import { allowAllCaller } from '../support/allow-all-callers.js';
import { AccessPolicy } from '../../src/authz/access-policy.js';
import { PolicyCaller } from '../../src/authz/policy-caller.js';

const ctx = () => ({ method: 'SplitKeyEscrow', facts: {}, caller: allowAllCaller });
const spec = { keyId: 'payments-kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' } as const;

function deps(options: { state?: KeyVersionState; recordable?: KeywardError; durable?: KeywardError; spec?: typeof spec | { keyId: string; purpose: 'mac'; algorithm: 'hmac-sha256'; backend: string } } = {}) {
  const seen = { exports: 0, imports: 0, recorded: [] as string[] };
  const d: EscrowDeps = {
    masterKey: SecretBytes.random(32),
    registry: {
      get: () => ({ spec: options.spec ?? spec, backend: { name: 'local' } }) as never,
      namedVersion: () => ({ version: 2, state: options.state ?? 'enabled', createdAt: new Date() }),
      exportForEscrow: async () => {
        seen.exports++;
        return SecretBytes.random(32);
      },
      importFromEscrow: async () => {
        seen.imports++;
        return { result: 'verified' as const };
      },
    },
    events: {
      assertRecordable: () => {
        if (options.recordable) throw options.recordable;
      },
      recordDurably: async (event) => {
        if (options.durable) throw options.durable;
        seen.recorded.push(event);
      },
    },
  };
  return { d, seen };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return isKeywardError(err) ? `${err.code}: ${err.message}` : String(err);
  }
}

const split = { keyId: 'payments-kek', version: 0, shares: 3, threshold: 2 };

test('an enabled version is split and its record written before the shares are returned', async (t) => {
  const { d, seen } = deps();
  const result = await splitKeyEscrow(d, split, ctx());
  t.is(result.shares.length, 3);
  t.deepEqual(seen.recorded, ['escrow.split']);
});

for (const state of ['disabled', 'destroy-scheduled', 'destroyed'] as const) {
  test(`a ${state} version is not escrowed (failed-precondition), nothing is exported`, async (t) => {
    const { d, seen } = deps({ state });
    t.is(await codeOf(splitKeyEscrow(d, split, ctx())), `failed-precondition: version 2 of key "payments-kek" is ${state}; only an enabled version is escrowed`);
    t.is(seen.exports, 0);
  });
}

test('an audit log that takes no record refuses the split before the export', async (t) => {
  const { d, seen } = deps({ recordable: new KeywardError('unavailable', 'audit log /x: a write failed') });
  t.is(await codeOf(splitKeyEscrow(d, split, ctx())), 'unavailable: audit log /x: a write failed');
  t.is(seen.exports, 0);
});

test('a split whose record is not written returns no share', async (t) => {
  const { d, seen } = deps({ durable: new KeywardError('unavailable', 'the escrow.split record could not be written to the audit log') });
  t.is(await codeOf(splitKeyEscrow(d, split, ctx())), 'unavailable: the escrow.split record could not be written to the audit log');
  t.is(seen.exports, 1, 'sealed and wiped, never returned');
});

test('an audit log that takes no record refuses the combine before anything is imported', async (t) => {
  const { d } = deps();
  const { shares } = await splitKeyEscrow(d, split, ctx());
  const { d: down, seen } = deps({ recordable: new KeywardError('unavailable', 'audit log /x: a write failed') });
  t.is(await codeOf(combineKeyEscrow(down, { shares: shares.map((s) => s.share), verifyOnly: false }, ctx())), 'unavailable: audit log /x: a write failed');
  t.is(seen.imports, 0);
});

test('a combine whose record is not written fails unavailable (the import itself went through)', async (t) => {
  const { d } = deps();
  const { shares } = await splitKeyEscrow(d, split, ctx());
  const { d: failing, seen } = deps({ durable: new KeywardError('unavailable', 'the escrow.combined record could not be written to the audit log') });
  const sameKey = { ...failing, masterKey: d.masterKey };
  t.is(await codeOf(combineKeyEscrow(sameKey, { shares: shares.map((s) => s.share), verifyOnly: true }, ctx())), 'unavailable: the escrow.combined record could not be written to the audit log');
  t.is(seen.imports, 1);
});

test('more than 16 shares: invalid-argument before anything is decoded', async (t) => {
  const { d } = deps();
  t.is(await codeOf(combineKeyEscrow(d, { shares: Array.from({ length: 17 }, () => new Uint8Array(1)), verifyOnly: false }, ctx())), 'invalid-argument: at most 16 shares but got 17');
});

test('a caller granted escrow on no key: permission denied before the shares are read (nothing about them comes back)', async (t) => {
  const { d, seen } = deps();
  const identity = { peer: { pid: 1, uid: 4242, gid: 4242 }, subject: 'uid:4242' };
  const nobody = new PolicyCaller(identity, AccessPolicy.compile({ roles: {}, rules: [] }).grantsFor(identity), () => undefined);
  const garbage = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6])];
  t.is(await codeOf(combineKeyEscrow(d, { shares: garbage, verifyOnly: false }, { method: 'CombineKeyEscrow', facts: {}, caller: nobody })), 'permission-denied: permission denied');
  t.is(seen.imports, 0);
});

test("shares of an escrow of another kind of key than the declared one: failed-precondition, nothing imported", async (t) => {
  const { d } = deps();
  const { shares, escrowId } = await splitKeyEscrow(d, split, ctx());
  const { d: macKey, seen } = deps({ spec: { keyId: 'payments-kek', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'local' } });
  t.is(
    await codeOf(combineKeyEscrow({ ...macKey, masterKey: d.masterKey }, { shares: shares.map((s) => s.share), verifyOnly: false }, ctx())),
    `failed-precondition: escrow ${escrowId} holds a encrypt/aes-256-gcm key; key "payments-kek" is mac/hmac-sha256`,
  );
  t.is(seen.imports, 0);
});
