// How keyward names its objects on a token: every version of a key is one object (a
// secret key) or two (a private and a public key) labelled `<prefix>/<key id>/v<N>`,
// with CKA_ID holding the same bytes. Key ids cannot contain "/", so a label parses back
// without ambiguity, and two daemons with different prefixes can share one token.
import { KEY_ID_PATTERN } from '../../core/key-types.js';

/** A key prefix: slash-separated segments of the key-id alphabet, at most 64 characters. */
export const KEY_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
export const KEY_PREFIX_MAX_LENGTH = 64;

export class KeyObjectNaming {
  readonly prefix: string;

  constructor(prefix: string) {
    if (!KEY_PREFIX_PATTERN.test(prefix) || prefix.length > KEY_PREFIX_MAX_LENGTH) {
      throw new RangeError(`invalid key prefix "${prefix}"`);
    }
    this.prefix = prefix;
  }

  /** The CKA_LABEL of a version: `<prefix>/<key id>/v<N>`. */
  label(keyId: string, version: number): string {
    return `${this.prefix}/${keyId}/v${version}`;
  }

  /** The CKA_ID of a version: the label's UTF-8 bytes. */
  id(keyId: string, version: number): Buffer {
    return Buffer.from(this.label(keyId, version), 'utf8');
  }

  /** How messages describe every label of a key: `<prefix>/<key id>/v<N>`. */
  pattern(keyId: string): string {
    return `${this.prefix}/${keyId}/v<N>`;
  }

  /** The key id and version a label names, when it is one of ours. */
  parse(label: string): { keyId: string; version: number } | undefined {
    if (!label.startsWith(`${this.prefix}/`)) return undefined;
    const rest = label.slice(this.prefix.length + 1);
    const match = /^([^/]+)\/v([1-9][0-9]{0,8})$/.exec(rest);
    if (match === null || !KEY_ID_PATTERN.test(match[1]!)) return undefined;
    return { keyId: match[1]!, version: Number(match[2]) };
  }
}
