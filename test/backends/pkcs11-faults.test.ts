// The pkcs11 backend refuses to start, with a message that names the problem and never
// the PIN, when its configuration does not match the world: wrong PIN, missing module,
// missing token, unreadable PIN source, a token URI it cannot use. Serial: PKCS#11 logins
// are per process, and the wrong-PIN checks need nobody else logged in to the token.
import test from 'ava';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pkcs11Backend, type Pkcs11BackendOptions } from '../../src/backends/pkcs11/pkcs11-backend.js';
import { parseConfig } from '../../src/config/load-config.js';
import { isKeywardError, type KeywardError } from '../../src/core/keyward-error.js';
import type { Logger } from '../../src/core/logger.js';
import { createSoftHsmToken, openRawSession } from '../support/softhsm-token.js';
import { makeTempDir, startTestDaemon, testConfigObject } from '../support/test-daemon.js';

const token = createSoftHsmToken('faults-a');
const second = token.addToken('faults-b');
test.after.always(() => token.cleanup());

const logged: string[] = [];
const recorder: Logger = {
  debug: (o: object | string, m?: string) => void logged.push(JSON.stringify([o, m])),
  info: (o: object | string, m?: string) => void logged.push(JSON.stringify([o, m])),
  warn: (o: object | string, m?: string) => void logged.push(JSON.stringify([o, m])),
  error: (o: object | string, m?: string) => void logged.push(JSON.stringify([o, m])),
  child: () => recorder,
};

function backend(overrides: Partial<Pkcs11BackendOptions> = {}): Pkcs11Backend {
  return new Pkcs11Backend({
    name: 'hsm',
    modulePath: token.module,
    token: token.label,
    pin: { file: token.pinFile },
    keyPrefix: 'faults',
    createMissingKeys: true,
    logger: recorder,
    ...overrides,
  });
}

async function refusal(t: import('ava').ExecutionContext, b: Pkcs11Backend): Promise<KeywardError> {
  const err = await t.throwsAsync(b.open());
  t.true(isKeywardError(err), `a KeywardError, got ${String(err)}`);
  t.false(b.isReady());
  await b.close();
  for (const pin of [token.pin, second.pin]) {
    t.false(err!.message.includes(pin), 'no PIN in the message');
    t.false(JSON.stringify(err).includes(pin));
  }
  return err as KeywardError;
}

function pinFileWith(content: string, mode = 0o600): string {
  const file = join(token.dir, `pin-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, content, { mode });
  chmodSync(file, mode);
  return file;
}

test.serial('a wrong PIN refuses to start: "login to token … failed" with the CKR name, and no PIN anywhere', async (t) => {
  const wrongPin = `${token.pin}x`;
  const err = await refusal(t, backend({ pin: { file: pinFileWith(`${wrongPin}\n`) } }));
  t.is(err.code, 'failed-precondition');
  t.regex(err.message, /^pkcs11 backend "hsm": login to token "faults-a" failed: CKR_PIN_INCORRECT \(PIN from the PIN file .+\)$/);
  t.false(err.message.includes(wrongPin));
  // The right PIN from the environment works, and the backend is ready.
  const ok = backend({ pin: { env: 'KEYWARD_TEST_HSM_PIN' }, env: { KEYWARD_TEST_HSM_PIN: token.pin } });
  await ok.open();
  t.true(ok.isReady());
  // While this process is logged in, PKCS#11 answers another login with
  // CKR_USER_ALREADY_LOGGED_IN without checking the PIN; keyward still refuses a wrong one.
  const sneaky = await refusal(t, backend({ pin: { file: pinFileWith(wrongPin) } }));
  t.is(sneaky.code, 'failed-precondition');
  t.regex(sneaky.message, /login to token "faults-a" failed: this process is already logged in to it with a different PIN/);
  await ok.close();
  for (const line of logged) {
    t.false(line.includes(token.pin));
    t.false(line.includes(wrongPin));
  }
});

test.serial('the daemon refuses to start on a wrong PIN with the same message', async (t) => {
  const dir = makeTempDir('keyward-pkcs11-faults-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const wrongPinFile = pinFileWith('0000\n');
  const err = await t.throwsAsync(
    startTestDaemon({
      dir,
      overrides: {
        backends: { hsm: { type: 'pkcs11', token: token.label, pin: { file: wrongPinFile }, create_missing_keys: true } },
        keys: [{ id: 'records', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' }],
      },
    }),
  );
  t.true(isKeywardError(err, 'failed-precondition'));
  t.regex(err!.message, /pkcs11 backend "hsm": login to token "faults-a" failed: CKR_PIN_INCORRECT/);
  t.false(err!.message.includes('0000'));
  t.false(err!.message.includes(token.pin));
});

test.serial('a missing module path refuses to start, naming the path; a file that is no PKCS#11 library too', async (t) => {
  const missing = await refusal(t, backend({ modulePath: '/nonexistent/libnope-pkcs11.so' }));
  t.is(missing.code, 'failed-precondition');
  t.is(missing.message, 'pkcs11 backend "hsm": PKCS#11 module /nonexistent/libnope-pkcs11.so does not exist');
  const notLibrary = await refusal(t, backend({ modulePath: token.conf }));
  t.is(notLibrary.code, 'failed-precondition');
  t.regex(notLibrary.message, new RegExp(`cannot load PKCS#11 module ${token.conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
});

test.serial('a missing token label refuses to start, naming it and listing the tokens present', async (t) => {
  const err = await refusal(t, backend({ token: 'no-such-token' }));
  t.is(err.code, 'failed-precondition');
  t.regex(err.message, /no token "no-such-token" in PKCS#11 module \/usr\/lib\/softhsm\/libsofthsm2\.so \(tokens present: /);
  t.regex(err.message, /"faults-a" \(serial [0-9a-f]+, slot \d+\)/);
  t.regex(err.message, /"faults-b" \(serial [0-9a-f]+, slot \d+\)/);
  const slot = await refusal(t, backend({ token: undefined, slotId: 4242 }));
  t.regex(slot.message, /no token in slot 4242 in PKCS#11 module/);
  const both = await refusal(t, backend({ slotId: 1 }));
  t.regex(both.message, /exactly one of "token" \(a label or a pkcs11: URI\) and "slot_id"/);
});

test.serial('a token is found by slot id and by RFC 7512 URI; URIs that carry a PIN or name an object are refused', async (t) => {
  const byUri = backend({ token: `pkcs11:token=${second.label};manufacturer=SoftHSM%20project`, pin: { file: second.pinFile } });
  await byUri.open();
  t.true(byUri.isReady());
  await byUri.ensureKey({ keyId: 'k', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' });
  const wrappedOnB = await byUri.generateDataKey('k', 1);
  await byUri.close();

  // The slot id of token B, as the module lists it; the backend finds the same token by it.
  const raw = await openRawSession(second);
  const slotId = raw.api
    .C_GetSlotList(true)
    .filter((s) => raw.api.C_GetTokenInfo(s).label.trimEnd() === second.label)
    .map((s) => Number(s.readBigUInt64LE(0)))[0]!;
  await raw.close();
  const bySlot = backend({ token: undefined, slotId, pin: { file: second.pinFile } });
  await bySlot.open();
  await bySlot.ensureKey({ keyId: 'k', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' });
  t.true((await bySlot.unwrapDataKey('k', 1, wrappedOnB.wrapped)).expose().equals(wrappedOnB.plaintext.expose()), 'the same token');
  await bySlot.close();

  const wrongSerial = await refusal(t, backend({ token: `pkcs11:token=${token.label};serial=0000000000000000` }));
  t.regex(wrongSerial.message, /no token pkcs11:token=faults-a;serial=0000000000000000 in PKCS#11 module/);
  const withPin = await refusal(t, backend({ token: `pkcs11:token=${token.label}?pin-value=${token.pin}` }));
  t.is(withPin.code, 'failed-precondition');
  t.regex(withPin.message, /"pin-value" is not accepted: the PIN is read from the backend's "pin" setting/);
  const withObject = await refusal(t, backend({ token: `pkcs11:token=${token.label};object=faults%2Fk%2Fv1` }));
  t.regex(withObject.message, /names an object .* name only the token/);
  const otherModule = await refusal(t, backend({ token: `pkcs11:token=${token.label}?module-path=/usr/lib/other.so` }));
  t.regex(otherModule.message, /names module-path \/usr\/lib\/other\.so but "module" is \/usr\/lib\/softhsm\/libsofthsm2\.so/);
});

test.serial('PIN sources: an unset variable, a missing file, a file others can read, an empty file — each named, none echoed', async (t) => {
  const unset = await refusal(t, backend({ pin: { env: 'KEYWARD_TEST_UNSET_PIN' }, env: {} }));
  t.is(unset.message, 'pkcs11 backend "hsm": the environment variable KEYWARD_TEST_UNSET_PIN is not set');
  const missing = await refusal(t, backend({ pin: { file: join(token.dir, 'nope.pin') } }));
  t.is(missing.message, `pkcs11 backend "hsm": cannot read the PIN file ${join(token.dir, 'nope.pin')}: ENOENT`);
  const open = pinFileWith(token.pin, 0o644);
  const readable = await refusal(t, backend({ pin: { file: open } }));
  t.is(readable.message, `pkcs11 backend "hsm": the PIN file ${open} is readable by group or others (mode 644); chmod 600 it`);
  const empty = pinFileWith('\n');
  t.regex((await refusal(t, backend({ pin: { file: empty } }))).message, /the PIN file .* is empty$/);
});

test.serial('the configuration takes a pkcs11 backend with defaults, and refuses an inline PIN or two ways to name the token', (t) => {
  const dir = makeTempDir('keyward-pkcs11-config-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keys = [{ id: 'k', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' }];
  const config = parseConfig(testConfigObject(dir, { backends: { hsm: { type: 'pkcs11', token: 'keyward', pin: { env: 'HSM_PIN' } } }, keys }));
  t.like(config.backends['hsm'], {
    type: 'pkcs11',
    token: 'keyward',
    key_prefix: 'keyward',
    create_missing_keys: false,
    sessions: 4,
    reconnect_initial_ms: 250,
    reconnect_max_ms: 30_000,
  });
  const inline = t.throws(() => parseConfig(testConfigObject(dir, { backends: { hsm: { type: 'pkcs11', token: 'keyward', pin: '123456' } }, keys })));
  t.true(isKeywardError(inline, 'invalid-argument'));
  t.false(inline!.message.includes('123456'));
  const twoWays = t.throws(() =>
    parseConfig(testConfigObject(dir, { backends: { hsm: { type: 'pkcs11', token: 'keyward', slot_id: 3, pin: { env: 'HSM_PIN' } } }, keys })),
  );
  t.regex(twoWays!.message, /backends\.hsm: name the token with exactly one of "token" \(a label or a pkcs11: URI\) and "slot_id"/);
  const badPrefix = t.throws(() =>
    parseConfig(testConfigObject(dir, { backends: { hsm: { type: 'pkcs11', token: 'k', key_prefix: '/abs', pin: { env: 'P' } } }, keys })),
  );
  t.regex(badPrefix!.message, /backends\.hsm\.key_prefix: expected segments of A-Z a-z 0-9/);
});
