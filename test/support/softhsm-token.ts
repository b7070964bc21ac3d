// A real SoftHSM2 token for the tests of the pkcs11 backend, in a temp directory of its
// own (SOFTHSM2_CONF points there), so test files run in parallel without sharing
// tokens. PINs are random per run and the user PIN is written to a 0600 file, the way an
// operator provides it. Also: a raw session for tests that inspect or destroy objects
// behind the backend's back, and the fault the recovery tests inject (the token's files
// vanishing and coming back).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { Pkcs11Module } from '../../src/backends/pkcs11/pkcs11-module.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface TokenCredentials {
  readonly label: string;
  /** The user PIN, generated for this run (tests check it never leaks). */
  readonly pin: string;
  /** A 0600 file holding the user PIN and a newline. */
  readonly pinFile: string;
}

export interface SoftHsmToken extends TokenCredentials {
  /** The softhsm2.conf of this run (process.env.SOFTHSM2_CONF points to it). */
  readonly conf: string;
  /** The temp directory holding everything. */
  readonly dir: string;
  /** The directory SoftHSM keeps its tokens in. */
  readonly tokenDir: string;
  readonly module: string;
  /** Initializes one more token in the same token directory. */
  addToken(label: string): TokenCredentials;
  /** Moves every token's files out of the token directory (the token "vanishes"). */
  takeTokensAway(): void;
  /** Moves them back. */
  bringTokensBack(): void;
  cleanup(): void;
}

const randomPin = () => randomBytes(12).toString('base64url');

/**
 * Creates the temp directory, softhsm2.conf and a first token, and points SOFTHSM2_CONF at
 * the configuration. Call it before anything in the process initializes the module:
 * SoftHSM reads its configuration and token list in C_Initialize.
 */
export function createSoftHsmToken(label = `keyward-${randomBytes(3).toString('hex')}`): SoftHsmToken {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-softhsm-'));
  const tokenDir = join(dir, 'tokens');
  const awayDir = join(dir, 'away');
  mkdirSync(tokenDir, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600 });
  process.env['SOFTHSM2_CONF'] = conf;

  const addToken = (tokenLabel: string): TokenCredentials => {
    const pin = randomPin();
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--so-pin', randomPin(), '--pin', pin], {
      env: { ...process.env, SOFTHSM2_CONF: conf },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const pinFile = join(dir, `${tokenLabel}.pin`);
    writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
    return { label: tokenLabel, pin, pinFile };
  };
  const first = addToken(label);
  return {
    ...first,
    conf,
    dir,
    tokenDir,
    module: SOFTHSM_MODULE,
    addToken,
    takeTokensAway: () => {
      mkdirSync(awayDir, { recursive: true, mode: 0o700 });
      for (const entry of readdirSync(tokenDir)) renameSync(join(tokenDir, entry), join(awayDir, entry));
    },
    bringTokensBack: () => {
      for (const entry of readdirSync(awayDir)) renameSync(join(awayDir, entry), join(tokenDir, entry));
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A logged-in session of the test's own on a token, through the process's shared module. */
export interface RawSession {
  readonly api: pkcs11js.PKCS11;
  readonly session: pkcs11js.Handle;
  /** Token objects with this label. */
  find(label: string): pkcs11js.Handle[];
  close(): Promise<void>;
}

export async function openRawSession(token: { label: string; pin: string }, modulePath = SOFTHSM_MODULE): Promise<RawSession> {
  const module = await Pkcs11Module.acquire(modulePath);
  const api = module.api;
  const slot = api.C_GetSlotList(true).find((s) => {
    try {
      return api.C_GetTokenInfo(s).label.trimEnd() === token.label;
    } catch {
      return false;
    }
  });
  if (slot === undefined) {
    await module.release();
    throw new Error(`no token labelled ${token.label}`);
  }
  const session = api.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    api.C_Login(session, pkcs11js.CKU_USER, token.pin);
  } catch (err) {
    if ((err as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw err;
  }
  return {
    api,
    session,
    find: (label) => {
      api.C_FindObjectsInit(session, [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
      ]);
      try {
        return api.C_FindObjects(session, 100);
      } finally {
        api.C_FindObjectsFinal(session);
      }
    },
    close: async () => {
      try {
        api.C_CloseSession(session);
      } catch {
        // The module may have been re-initialized meanwhile.
      }
      await module.release();
    },
  };
}
