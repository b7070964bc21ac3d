// Which token the backend uses: named by its label, by an RFC 7512 `pkcs11:` URI (label,
// serial, manufacturer, model, slot), or by slot id. Finding it lists the slots that
// hold a token and picks the one that matches; when none or several match, the message
// lists what the module offers so the operator can fix the configuration.
import pkcs11js from 'pkcs11js';
import { KeywardError } from '../../core/keyward-error.js';
import { decodeUlong } from './key-inspection.js';
import { parsePkcs11Uri, type Pkcs11Uri } from './pkcs11-uri.js';

export interface FoundToken {
  readonly slot: pkcs11js.Handle;
  readonly slotId: number;
  readonly label: string;
  readonly serial: string;
}

/** One slot with a token, as the module reports it. */
interface Candidate {
  readonly slot: pkcs11js.Handle;
  readonly slotId: number;
  readonly token: pkcs11js.TokenInfo | undefined;
  readonly slotInfo: pkcs11js.SlotInfo | undefined;
}

const trim = (s: string | undefined) => (s ?? '').replace(/[\s\0]+$/, '');

export class TokenSelection {
  /** How messages name the wanted token: `token "keyward"`, `token in slot 3`. */
  readonly description: string;
  /** A module path the URI names (`module-path`), if any. */
  readonly modulePath: string | undefined;
  readonly #uri: Pkcs11Uri;

  private constructor(description: string, uri: Pkcs11Uri) {
    this.description = description;
    this.#uri = uri;
    this.modulePath = uri.modulePath;
  }

  /**
   * From the configuration: `token` (a label, or a `pkcs11:` URI) or `slotId`, exactly
   * one. Throws `failed-precondition` for a URI keyward cannot use.
   */
  static from(token: string | undefined, slotId: number | undefined): TokenSelection {
    if ((token === undefined) === (slotId === undefined)) {
      throw new KeywardError('failed-precondition', 'name the token with exactly one of "token" (a label or a pkcs11: URI) and "slot_id"');
    }
    if (slotId !== undefined) return new TokenSelection(`token in slot ${slotId}`, { slotId });
    if (!token!.startsWith('pkcs11:')) return new TokenSelection(`token "${token}"`, { token: token! });
    let uri: Pkcs11Uri;
    try {
      uri = parsePkcs11Uri(token!);
    } catch (err) {
      throw new KeywardError('failed-precondition', (err as Error).message);
    }
    if (uri.object !== undefined || uri.id !== undefined || uri.type !== undefined) {
      throw new KeywardError('failed-precondition', `the token URI ${token} names an object (object, id or type); name only the token`);
    }
    const selects = [uri.token, uri.serial, uri.slotId, uri.manufacturer, uri.model, uri.slotDescription, uri.slotManufacturer];
    if (selects.every((v) => v === undefined)) {
      throw new KeywardError('failed-precondition', `the token URI ${token} names no token (give token=, serial= or slot-id=)`);
    }
    return new TokenSelection(`token ${token}`, uri);
  }

  /** Finds the one slot whose token matches. Throws `failed-precondition` otherwise. */
  find(api: pkcs11js.PKCS11, modulePath: string): FoundToken {
    const candidates: Candidate[] = api.C_GetSlotList(true).map((slot) => {
      let token: pkcs11js.TokenInfo | undefined;
      let slotInfo: pkcs11js.SlotInfo | undefined;
      try {
        token = api.C_GetTokenInfo(slot);
        slotInfo = api.C_GetSlotInfo(slot);
      } catch {
        // A token that does not answer matches nothing.
      }
      return { slot, slotId: decodeUlong(slot), token, slotInfo };
    });
    const initialized = (c: Candidate) => c.token !== undefined && (c.token.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0;
    const matches = candidates.filter((c) => this.#matches(c, api));
    if (matches.length === 0) {
      const present = candidates
        .filter(initialized)
        .map((c) => `"${trim(c.token!.label)}" (serial ${trim(c.token!.serialNumber)}, slot ${c.slotId})`);
      throw new KeywardError(
        'failed-precondition',
        `no ${this.description} in PKCS#11 module ${modulePath} (${present.length > 0 ? `tokens present: ${present.join(', ')}` : 'no initialized token present'})`,
      );
    }
    if (matches.length > 1) {
      throw new KeywardError(
        'failed-precondition',
        `${matches.length} tokens match ${this.description} in PKCS#11 module ${modulePath} (slots ${matches.map((c) => c.slotId).join(', ')}); name one by serial in a pkcs11: URI (pkcs11:token=…;serial=…) or by slot_id`,
      );
    }
    const found = matches[0]!;
    const info = found.token!;
    const label = trim(info.label);
    if (!initialized(found)) throw new KeywardError('failed-precondition', `${this.description} is not initialized`);
    if ((info.flags & pkcs11js.CKF_USER_PIN_INITIALIZED) === 0) {
      throw new KeywardError('failed-precondition', `the user PIN of token "${label}" is not initialized`);
    }
    if ((info.flags & pkcs11js.CKF_USER_PIN_LOCKED) !== 0) {
      throw new KeywardError('failed-precondition', `the user PIN of token "${label}" is locked`);
    }
    return { slot: found.slot, slotId: found.slotId, label, serial: trim(info.serialNumber) };
  }

  #matches(c: Candidate, api: pkcs11js.PKCS11): boolean {
    const u = this.#uri;
    if (c.token === undefined) return false;
    if (u.slotId !== undefined && c.slotId !== u.slotId) return false;
    if (u.token !== undefined && trim(c.token.label) !== u.token) return false;
    if (u.serial !== undefined && trim(c.token.serialNumber) !== u.serial) return false;
    if (u.manufacturer !== undefined && trim(c.token.manufacturerID) !== u.manufacturer) return false;
    if (u.model !== undefined && trim(c.token.model) !== u.model) return false;
    if (u.slotDescription !== undefined && trim(c.slotInfo?.slotDescription) !== u.slotDescription) return false;
    if (u.slotManufacturer !== undefined && trim(c.slotInfo?.manufacturerID) !== u.slotManufacturer) return false;
    if (u.libraryManufacturer !== undefined || u.libraryDescription !== undefined) {
      const info = api.C_GetInfo();
      if (u.libraryManufacturer !== undefined && trim(info.manufacturerID) !== u.libraryManufacturer) return false;
      if (u.libraryDescription !== undefined && trim(info.libraryDescription) !== u.libraryDescription) return false;
    }
    return true;
  }
}
