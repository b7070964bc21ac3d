// Tests of configuration loading (src/config/load-config.ts, config-schema.ts): the
// shipped example loads with its documented defaults, the result is deeply frozen, and
// every way a configuration can be wrong gives invalid-argument with a message that
// names the offending path (or file, or environment variable) and what is wrong.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { ENV_OVERRIDES, loadConfig, parseConfig } from '../../src/config/load-config.js';
import { KeywardError } from '../../src/core/keyward-error.js';

/** dist/test/config/ → the repository root. */
const EXAMPLE = fileURLToPath(new URL('../../../deploy/keyward.example.yaml', import.meta.url));
const SOURCE = 'test.yaml';
const HEAD = `${SOURCE} is invalid:\n  `;
const ALGORITHMS = '"aes-256-gcm", "ed25519", "ecdsa-p256", "rsa-4096", "hmac-sha256"';

type Raw = Record<string, any>;

/** The smallest valid configuration, fresh on each call so tests may mutate it. */
function minimal(): Raw {
  return {
    server: {
      data_socket: { path: '/run/keyward/keyward.sock' },
      admin_socket: { path: '/run/keyward/admin.sock' },
    },
    backends: { local: { type: 'local', keystore_dir: '/var/lib/keyward' } },
    keys: [{ id: 'demo', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' }],
  };
}

function key(id: string, purpose: string, algorithm: string, backend = 'local'): Raw {
  return { id, purpose, algorithm, backend };
}

/** Asserts that `fn` throws an invalid-argument KeywardError and returns its message. */
function invalid(t: ExecutionContext, fn: () => unknown): string {
  const err = t.throws(fn, { instanceOf: KeywardError });
  t.is(err?.code, 'invalid-argument');
  return err?.message ?? '';
}

/** Asserts that `raw` is rejected with exactly these problem lines, in this order. */
function rejects(t: ExecutionContext, raw: unknown, problems: readonly string[], env: Record<string, string> = {}): void {
  t.is(invalid(t, () => parseConfig(raw, env, SOURCE)), HEAD + problems.join('\n  '));
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeTemp(t: ExecutionContext, name: string, text: string): string {
  const file = join(tempDir(t), name);
  writeFileSync(file, text);
  return file;
}

function readExample(): string {
  return readFileSync(EXAMPLE, 'utf8');
}

function valueAt(config: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], config);
}

// --- the shipped example ----------------------------------------------------------

test('the example configuration loads with an empty environment', (t) => {
  const config = loadConfig(EXAMPLE, {});
  t.deepEqual(config.server, {
    data_socket: { path: 'var/run/keyward.sock', mode: 0o660 },
    admin_socket: { path: 'var/run/admin.sock', mode: 0o600 },
    shutdown_grace_ms: 10_000,
  });
  t.deepEqual(config.backends, { local: { type: 'local', keystore_dir: 'var/keystore' } });
  t.deepEqual(
    config.keys.map((k) => `${k.id}/${k.purpose}/${k.algorithm}/${k.backend}`),
    ['demo/encrypt/aes-256-gcm/local', 'payments-db/encrypt/aes-256-gcm/local', 'artifact-signing/sign/ed25519/local', 'webhooks/mac/hmac-sha256/local'],
  );
  t.is(config.log.level, 'info');
});

test('omitted fields get the documented defaults, the same values the example spells out', (t) => {
  const expectedDefaults = {
    limits: { max_plaintext_bytes: 1_048_576, max_associated_data_bytes: 65_536, max_batch_items: 1_000, max_batch_bytes: 16_777_216 },
    cache: {
      encrypt: { max_age_ms: 300_000, max_messages: 2 ** 20, max_bytes: 2 ** 30, max_keys: 1_024 },
      decrypt: { ttl_ms: 300_000, max_entries: 10_000 },
    },
    log: { level: 'info' },
  };
  const config = parseConfig(minimal(), {}, SOURCE);
  t.deepEqual(config.server, {
    data_socket: { path: '/run/keyward/keyward.sock', mode: 0o660 },
    admin_socket: { path: '/run/keyward/admin.sock', mode: 0o600 },
    shutdown_grace_ms: 10_000,
  });
  t.false('group' in config.server.data_socket, 'no socket group unless configured');
  t.false('root_key_file' in config.backends['local']!, 'root_key_file stays unset (the backend defaults it)');
  t.deepEqual({ limits: config.limits, cache: config.cache, log: config.log }, expectedDefaults);

  // The example states every default explicitly; stripping them changes nothing.
  const stripped = parseYaml(readExample()) as Raw;
  delete stripped['limits'];
  delete stripped['cache'];
  delete stripped['log'];
  delete stripped['server'].shutdown_grace_ms;
  delete stripped['server'].data_socket.mode;
  delete stripped['server'].admin_socket.mode;
  t.deepEqual(parseConfig(stripped, {}, SOURCE), loadConfig(EXAMPLE, {}));
});

test('a partly given section keeps the defaults of its other fields', (t) => {
  const raw = minimal();
  raw['cache'] = { encrypt: { max_messages: 1000 } };
  raw['limits'] = { max_batch_items: 5 };
  const config = parseConfig(raw, {}, SOURCE);
  t.deepEqual(config.cache.encrypt, { max_age_ms: 300_000, max_messages: 1000, max_bytes: 2 ** 30, max_keys: 1_024 });
  t.deepEqual(config.cache.decrypt, { ttl_ms: 300_000, max_entries: 10_000 });
  t.is(config.limits.max_batch_items, 5);
  t.is(config.limits.max_plaintext_bytes, 1_048_576);
});

// --- freezing ----------------------------------------------------------------------

test('the result is deeply frozen: writes at depth 3 throw and change nothing', (t) => {
  const config = loadConfig(EXAMPLE, {});
  const mutable = config as unknown as Raw;
  t.throws(() => {
    mutable['server'].data_socket.path = '/tmp/evil.sock';
  }, { instanceOf: TypeError });
  t.is(config.server.data_socket.path, 'var/run/keyward.sock');
  t.throws(() => {
    mutable['cache'].encrypt.max_messages = 2 ** 32;
  }, { instanceOf: TypeError });
  t.is(config.cache.encrypt.max_messages, 2 ** 20);
  t.throws(() => {
    mutable['keys'][0].backend = 'other';
  }, { instanceOf: TypeError });
  t.is(config.keys[0]!.backend, 'local');
  t.throws(() => {
    mutable['keys'].push(key('extra', 'mac', 'hmac-sha256'));
  }, { instanceOf: TypeError });
  t.is(config.keys.length, 4);
  t.throws(() => {
    delete mutable['backends'].local.keystore_dir;
  }, { instanceOf: TypeError });
  const local = config.backends['local'];
  t.is(local?.type === 'local' ? local.keystore_dir : undefined, 'var/keystore');

  const unfrozen: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== 'object') return;
    if (!Object.isFrozen(node)) unfrozen.push(path);
    for (const [k, v] of Object.entries(node)) walk(v, `${path}.${k}`);
  };
  walk(config, 'config');
  t.deepEqual(unfrozen, []);
});

test('parsing does not modify the object it was given, even with overrides', (t) => {
  const raw = minimal();
  const before = structuredClone(raw);
  const config = parseConfig(raw, { KEYWARD_DATA_SOCKET: '/run/other.sock', KEYWARD_SHUTDOWN_GRACE_MS: '5' }, SOURCE);
  t.is(config.server.data_socket.path, '/run/other.sock');
  t.deepEqual(raw, before);
  t.false(Object.isFrozen(raw));
});

// --- unknown fields, enums, purposes, references -------------------------------------

test('an unknown field at the top level is rejected', (t) => {
  const raw = minimal();
  raw['colour'] = 'blue';
  rejects(t, raw, ['(root): unknown field "colour"']);
});

test('an unknown nested field is rejected with its path', (t) => {
  const raw = minimal();
  raw['server'].data_socket.colour = 'blue';
  rejects(t, raw, ['server.data_socket: unknown field "colour"']);
});

test('escrow: off when absent; master_key_file required; nothing else accepted', (t) => {
  t.is(parseConfig(minimal(), {}, SOURCE).escrow, undefined);
  const raw = minimal();
  raw['escrow'] = { master_key_file: '/etc/keyward/escrow-master.key' };
  t.deepEqual(parseConfig(raw, {}, SOURCE).escrow, { master_key_file: '/etc/keyward/escrow-master.key' });
  raw['escrow'] = { master_key: 'inline' };
  rejects(t, raw, ['escrow.master_key_file: required', 'escrow: unknown field "master_key"']);
});

test('several unknown fields in one object are named together', (t) => {
  const raw = minimal();
  raw['cache'] = { encrypt: { max_age: 1, max_msgs: 2 } };
  rejects(t, raw, ['cache.encrypt: unknown fields "max_age", "max_msgs"']);
});

test('a bad enum value names its index and lists the allowed values', (t) => {
  const raw = minimal();
  raw['keys'] = [key('a', 'encrypt', 'aes-256-gcm'), key('b', 'sign', 'ed25519'), key('c', 'encrypt', 'aes-128-gcm')];
  rejects(t, raw, [`keys[2].algorithm: expected one of ${ALGORITHMS}`]);

  const purpose = minimal();
  purpose['keys'][0].purpose = 'wrap';
  rejects(t, purpose, ['keys[0].purpose: expected one of "encrypt", "sign", "mac"']);

  const level = minimal();
  level['log'] = { level: 'verbose' };
  rejects(t, level, ['log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent"']);
});

test('an algorithm of another purpose names keys[i].algorithm', (t) => {
  const cases: Array<[purpose: string, algorithm: string, message: string]> = [
    ['sign', 'aes-256-gcm', 'a sign key must use one of ed25519, ecdsa-p256, rsa-4096'],
    ['encrypt', 'ed25519', 'a encrypt key must use one of aes-256-gcm'],
    ['encrypt', 'hmac-sha256', 'a encrypt key must use one of aes-256-gcm'],
    ['mac', 'rsa-4096', 'a mac key must use one of hmac-sha256'],
    ['sign', 'hmac-sha256', 'a sign key must use one of ed25519, ecdsa-p256, rsa-4096'],
  ];
  for (const [purpose, algorithm, message] of cases) {
    const raw = minimal();
    raw['keys'].push(key('mismatch', purpose, algorithm));
    rejects(t, raw, [`keys[1].algorithm: ${message}`]);
  }
  // Every matching pair is accepted.
  const raw = minimal();
  raw['keys'] = [
    key('e', 'encrypt', 'aes-256-gcm'),
    key('s1', 'sign', 'ed25519'),
    key('s2', 'sign', 'ecdsa-p256'),
    key('s3', 'sign', 'rsa-4096'),
    key('m', 'mac', 'hmac-sha256'),
  ];
  t.is(parseConfig(raw, {}, SOURCE).keys.length, 5);
});

test('a duplicate key id is rejected at its second occurrence', (t) => {
  const raw = minimal();
  raw['keys'] = [key('demo', 'encrypt', 'aes-256-gcm'), key('other', 'mac', 'hmac-sha256'), key('demo', 'mac', 'hmac-sha256')];
  rejects(t, raw, ['keys[2].id: duplicate key id "demo"']);
});

test('key ids are case-sensitive: Demo and demo are two keys', (t) => {
  const raw = minimal();
  raw['keys'].push(key('Demo', 'encrypt', 'aes-256-gcm'));
  t.is(parseConfig(raw, {}, SOURCE).keys.length, 2);
});

test('a malformed key id is rejected with the pattern spelled out', (t) => {
  const raw = minimal();
  raw['keys'][0].id = '-leading-dash';
  rejects(t, raw, ['keys[0].id: expected 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit']);
  const long = minimal();
  long['keys'][0].id = 'k'.repeat(129);
  rejects(t, long, ['keys[0].id: expected 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit']);
  const max = minimal();
  max['keys'][0].id = 'k'.repeat(128);
  t.is(parseConfig(max, {}, SOURCE).keys[0]!.id.length, 128);
});

test('a key naming a missing backend is rejected, listing the configured ones', (t) => {
  const raw = minimal();
  raw['backends']['dev-two'] = { type: 'local', keystore_dir: '/var/lib/two' };
  raw['keys'].push(key('orphan', 'encrypt', 'aes-256-gcm', 'vault'));
  rejects(t, raw, ['keys[1].backend: no backend named "vault" (configured: local, dev-two)']);

  const none = minimal();
  none['backends'] = {};
  rejects(t, none, ['keys[0].backend: no backend named "local" (configured: none)']);
});

test('a backend name outside the allowed pattern, or an unknown type, is rejected', (t) => {
  const raw = minimal();
  raw['backends']['Local_2'] = { type: 'local', keystore_dir: '/x' };
  rejects(t, raw, ['backends.Local_2: invalid name: expected a lowercase backend name']);
  const type = minimal();
  type['backends']['local'].type = 'nope';
  rejects(t, type, ['backends.local.type: expected one of "local", "vault", "pkcs11"']);
});

// --- sockets -------------------------------------------------------------------------

test('a socket path longer than 107 bytes (once absolute) is rejected', (t) => {
  const message = 'the absolute socket path must be at most 107 bytes (a Unix socket limit)';
  const at107 = `/${'a'.repeat(106)}`;
  const at108 = `/${'a'.repeat(107)}`;
  t.is(Buffer.byteLength(at107), 107);
  const ok = minimal();
  ok['server'].data_socket.path = at107;
  t.is(parseConfig(ok, {}, SOURCE).server.data_socket.path, at107);

  const long = minimal();
  long['server'].data_socket.path = at108;
  rejects(t, long, [`server.data_socket.path: ${message}`]);

  // Bytes, not characters: 54 two-byte characters make 109 bytes.
  const utf8 = minimal();
  utf8['server'].admin_socket.path = `/${'é'.repeat(54)}`;
  t.is(`/${'é'.repeat(54)}`.length, 55);
  rejects(t, utf8, [`server.admin_socket.path: ${message}`]);

  // A relative path counts at its absolute length (against the working directory).
  const relative = 'r'.repeat(107 - resolve('.').length);
  t.true(Buffer.byteLength(relative) < 107);
  t.true(Buffer.byteLength(resolve(relative)) > 107);
  const rel = minimal();
  rel['server'].data_socket.path = relative;
  rejects(t, rel, [`server.data_socket.path: ${message}`]);
});

test('the data and admin sockets may not share a path, however it is spelled', (t) => {
  const raw = minimal();
  raw['server'].admin_socket.path = raw['server'].data_socket.path;
  rejects(t, raw, ['server.admin_socket.path: must differ from the data socket path']);

  const spelled = minimal();
  spelled['server'].admin_socket.path = '/run/keyward/../keyward/./keyward.sock';
  rejects(t, spelled, ['server.admin_socket.path: must differ from the data socket path']);

  const relative = minimal();
  relative['server'].data_socket.path = 'var/run/k.sock';
  relative['server'].admin_socket.path = resolve('var/run/k.sock');
  rejects(t, relative, ['server.admin_socket.path: must differ from the data socket path']);
});

test('socket modes are octal strings; a number gets the "as a string" hint', (t) => {
  const hint = 'expected an octal mode as a string, e.g. "0660"';
  // YAML 1.2 reads an unquoted 0660 as the decimal number 660.
  const fromYaml = parseYaml('mode: 0660') as Raw;
  t.is(fromYaml['mode'], 660);
  const raw = minimal();
  raw['server'].data_socket.mode = fromYaml['mode'];
  rejects(t, raw, [`server.data_socket.mode: ${hint} (got the number 660: quote it, YAML reads an unquoted 0660 as 660)`]);

  for (const bad of ['rw-rw----', '0868', '66', '006600', '', '0x1b0']) {
    const r = minimal();
    r['server'].admin_socket.mode = bad;
    rejects(t, r, [`server.admin_socket.mode: ${hint}`]);
  }
  const nul = minimal();
  nul['server'].admin_socket.mode = null;
  rejects(t, nul, [`server.admin_socket.mode: ${hint}`]);

  const accepted: Array<[string, number]> = [
    ['0660', 0o660],
    ['660', 0o660],
    ['0o640', 0o640],
    ['0600', 0o600],
    ['0700', 0o700],
  ];
  for (const [mode, expected] of accepted) {
    const r = minimal();
    r['server'].data_socket.mode = mode;
    t.is(parseConfig(r, {}, SOURCE).server.data_socket.mode, expected, mode);
  }
});

test('the socket group is a name or a gid', (t) => {
  const named = minimal();
  named['server'].data_socket.group = 'keyward';
  t.is(parseConfig(named, {}, SOURCE).server.data_socket.group, 'keyward');
  const gid = minimal();
  gid['server'].data_socket.group = 1001;
  t.is(parseConfig(gid, {}, SOURCE).server.data_socket.group, 1001);
  const negative = minimal();
  negative['server'].data_socket.group = -1;
  invalid(t, () => parseConfig(negative, {}, SOURCE));
});

// --- required fields and types ----------------------------------------------------------

test('a missing required field says required', (t) => {
  const path = minimal();
  delete path['server'].data_socket.path;
  rejects(t, path, ['server.data_socket.path: required']);

  const keys = minimal();
  delete keys['keys'];
  rejects(t, keys, ['keys: required']);

  const server = minimal();
  delete server['server'];
  rejects(t, server, ['server: required']);

  const dir = minimal();
  delete dir['backends'].local.keystore_dir;
  rejects(t, dir, ['backends.local.keystore_dir: required']);

  const backend = minimal();
  delete backend['keys'][0].backend;
  rejects(t, backend, ['keys[0].backend: required']);
});

test('a field of the wrong type names the expected type, not "required"', (t) => {
  const grace = minimal();
  grace['server'].shutdown_grace_ms = '10s';
  rejects(t, grace, ['server.shutdown_grace_ms: expected number']);

  const nulled = minimal();
  nulled['server'].data_socket.path = null;
  rejects(t, nulled, ['server.data_socket.path: expected string']);

  const list = minimal();
  list['keys'] = { id: 'demo' };
  rejects(t, list, ['keys: expected array']);

  const fraction = minimal();
  fraction['limits'] = { max_batch_items: 2.5 };
  rejects(t, fraction, ['limits.max_batch_items: expected int']);
});

test('numbers outside their limits are rejected', (t) => {
  const grace = minimal();
  grace['server'].shutdown_grace_ms = 600_001;
  rejects(t, grace, ['server.shutdown_grace_ms: Too big: expected number to be <=600000']);
  const plaintext = minimal();
  plaintext['limits'] = { max_plaintext_bytes: 64 * 1024 * 1024 + 1 };
  rejects(t, plaintext, ['limits.max_plaintext_bytes: Too big: expected number to be <=67108864']);
  const ttl = minimal();
  ttl['cache'] = { decrypt: { ttl_ms: 0 } };
  rejects(t, ttl, ['cache.decrypt.ttl_ms: Too small: expected number to be >=1']);
  const noKeys = minimal();
  noKeys['keys'] = [];
  rejects(t, noKeys, ['keys: Too small: expected array to have >=1 items']);
});

test('a top level that is not a mapping is rejected', (t) => {
  for (const raw of [null, [], 'server', 42]) {
    t.is(invalid(t, () => parseConfig(raw, {}, SOURCE)), `${SOURCE}: expected a YAML mapping at the top level`);
  }
});

// --- environment overrides -----------------------------------------------------------

/** One value per override; a new entry in ENV_OVERRIDES without one here fails the test. */
const OVERRIDE_VALUES: Record<string, { env: string; expected: unknown }> = {
  KEYWARD_DATA_SOCKET: { env: '/run/env/data.sock', expected: '/run/env/data.sock' },
  KEYWARD_SOCKET_GROUP: { env: 'apps', expected: 'apps' },
  KEYWARD_ADMIN_SOCKET: { env: '/run/env/admin.sock', expected: '/run/env/admin.sock' },
  KEYWARD_SHUTDOWN_GRACE_MS: { env: '2500', expected: 2500 },
  KEYWARD_LOG_LEVEL: { env: 'debug', expected: 'debug' },
};

test('every environment override is applied, alone and all together', (t) => {
  t.deepEqual(
    ENV_OVERRIDES.map((o) => o.env).sort(),
    Object.keys(OVERRIDE_VALUES).sort(),
    'every override has a test value',
  );
  const base = loadConfig(EXAMPLE, {});
  const all: Record<string, string> = {};
  for (const { env, path } of ENV_OVERRIDES) {
    const { env: value, expected } = OVERRIDE_VALUES[env]!;
    all[env] = value;
    t.not(valueAt(base, path), expected, `${env}: the example does not already hold the value`);
    const config = loadConfig(EXAMPLE, { [env]: value });
    t.is(valueAt(config, path), expected, env);
    // Nothing else changed.
    const rest = structuredClone(config) as Raw;
    const reference = structuredClone(base) as Raw;
    const parent = path.slice(0, -1);
    const leaf = path[path.length - 1]!;
    delete (valueAt(rest, parent) as Raw)[leaf];
    delete (valueAt(reference, parent) as Raw)[leaf];
    t.deepEqual(rest, reference, `${env} changed only ${path.join('.')}`);
  }
  const config = loadConfig(EXAMPLE, all);
  for (const { env, path } of ENV_OVERRIDES) t.is(valueAt(config, path), OVERRIDE_VALUES[env]!.expected, env);
});

test('an override fills a field the file omits, and an empty variable is ignored', (t) => {
  const raw = minimal();
  delete raw['server'].data_socket.path;
  const config = parseConfig(raw, { KEYWARD_DATA_SOCKET: '/run/from-env.sock' }, SOURCE);
  t.is(config.server.data_socket.path, '/run/from-env.sock');

  const kept = parseConfig(minimal(), { KEYWARD_DATA_SOCKET: '', KEYWARD_SHUTDOWN_GRACE_MS: '' }, SOURCE);
  t.is(kept.server.data_socket.path, '/run/keyward/keyward.sock');
  t.is(kept.server.shutdown_grace_ms, 10_000);
});

test('a bad integer override names the variable', (t) => {
  for (const value of ['abc', '-5', '1.5', '10s', ' 10']) {
    rejects(t, minimal(), [`KEYWARD_SHUTDOWN_GRACE_MS: expected a whole number, got "${value}"`], {
      KEYWARD_SHUTDOWN_GRACE_MS: value,
    });
  }
});

test('overrides are validated like the file', (t) => {
  rejects(t, minimal(), ['server.shutdown_grace_ms: Too big: expected number to be <=600000'], {
    KEYWARD_SHUTDOWN_GRACE_MS: '600001',
  });
  rejects(t, minimal(), ['log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent"'], {
    KEYWARD_LOG_LEVEL: 'loud',
  });
  rejects(t, minimal(), ['server.admin_socket.path: must differ from the data socket path'], {
    KEYWARD_ADMIN_SOCKET: '/run/keyward/keyward.sock',
  });
});

// --- several problems at once ----------------------------------------------------------

test('several problems are all listed in one error', (t) => {
  const raw = minimal();
  delete raw['server'].data_socket.path;
  raw['server'].admin_socket.mode = 600;
  raw['limits'] = { max_batch_items: 0 };
  raw['keys'] = [key('a', 'encrypt', 'aes-256-gcm'), key('b', 'sign', 'ed25519'), key('c', 'encrypt', 'des')];
  raw['log'] = { level: 'info', format: 'json' };
  rejects(
    t,
    raw,
    [
      'KEYWARD_SHUTDOWN_GRACE_MS: expected a whole number, got "abc"',
      'server.data_socket.path: required',
      'server.admin_socket.mode: expected an octal mode as a string, e.g. "0660" (got the number 600: quote it, YAML reads an unquoted 0660 as 660)',
      'limits.max_batch_items: Too small: expected number to be >=1',
      `keys[2].algorithm: expected one of ${ALGORITHMS}`,
      'log: unknown field "format"',
    ],
    { KEYWARD_SHUTDOWN_GRACE_MS: 'abc' },
  );
});

test('several cross-field problems are all listed in one error', (t) => {
  const raw = minimal();
  raw['server'].admin_socket.path = raw['server'].data_socket.path;
  raw['keys'] = [
    key('a', 'encrypt', 'aes-256-gcm'),
    key('a', 'mac', 'hmac-sha256'),
    key('b', 'sign', 'aes-256-gcm', 'hsm'),
  ];
  rejects(t, raw, [
    'keys[1].id: duplicate key id "a"',
    'keys[2].algorithm: a sign key must use one of ed25519, ecdsa-p256, rsa-4096',
    'keys[2].backend: no backend named "hsm" (configured: local)',
    'server.admin_socket.path: must differ from the data socket path',
  ]);
});

// --- the file --------------------------------------------------------------------------

test('a YAML syntax error is reported with the file name and position', (t) => {
  const file = writeTemp(t, 'broken.yaml', 'server:\n  data_socket: [unclosed\nkeys: []\n');
  const message = invalid(t, () => loadConfig(file, {}));
  t.true(message.startsWith(`${file}: YAML error: `), message);
  t.regex(message, /at line \d+, column \d+/);
});

test('a duplicate YAML key is reported with the file name and position', (t) => {
  const text = readExample().replace('  shutdown_grace_ms: 10000\n', '  shutdown_grace_ms: 10000\n  shutdown_grace_ms: 5\n');
  t.not(text, readExample());
  const file = writeTemp(t, 'dup.yaml', text);
  const message = invalid(t, () => loadConfig(file, {}));
  const line = text.split('\n').indexOf('  shutdown_grace_ms: 5') + 1;
  t.is(message.split('\n')[0], `${file}: YAML error: Map keys must be unique at line ${line}, column 3:`);
});

test('a missing file gives invalid-argument naming the file', (t) => {
  const file = join(tempDir(t), 'nowhere.yaml');
  t.is(invalid(t, () => loadConfig(file, {})), `cannot read configuration ${file}: ENOENT`);
});

test('a directory in place of the file gives invalid-argument naming it', (t) => {
  const dir = tempDir(t);
  t.is(invalid(t, () => loadConfig(dir, {})), `cannot read configuration ${dir}: EISDIR`);
});

test('an empty file or a list at the top level is rejected with the file name', (t) => {
  const empty = writeTemp(t, 'empty.yaml', '# nothing here\n');
  t.is(invalid(t, () => loadConfig(empty, {})), `${empty}: expected a YAML mapping at the top level`);
  const list = writeTemp(t, 'list.yaml', '- server\n');
  t.is(invalid(t, () => loadConfig(list, {})), `${list}: expected a YAML mapping at the top level`);
});

test('schema problems in a file are reported under the file name', (t) => {
  const file = writeTemp(t, 'mode.yaml', readExample().replace('mode: "0660"', 'mode: 0660'));
  t.is(
    invalid(t, () => loadConfig(file, {})),
    `${file} is invalid:\n  server.data_socket.mode: expected an octal mode as a string, e.g. "0660" (got the number 660: quote it, YAML reads an unquoted 0660 as 660)`,
  );
});

test('the deployment configurations parse: the container image default and the DaemonSet ConfigMap', (t) => {
  const container = loadConfig(fileURLToPath(new URL('../../../deploy/keyward.container.yaml', import.meta.url)), {});
  t.is(container.authorization.rules.length, 1);
  const manifests = parseAllDocuments(readFileSync(fileURLToPath(new URL('../../../deploy/kubernetes/daemonset.yaml', import.meta.url)), 'utf8')).map(
    (d) => d.toJS() as { kind?: string; data?: Record<string, string> },
  );
  const configMap = manifests.find((m) => m.kind === 'ConfigMap');
  const config = parseConfig(parseYaml(configMap!.data!['keyward.yaml']!), {}, 'daemonset.yaml ConfigMap');
  t.true(config.authorization.rules.some((r) => r.name === 'payments-api'));
});
