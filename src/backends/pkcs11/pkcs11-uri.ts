// RFC 7512 `pkcs11:` URIs, the standard way to name a token or an object (p11tool,
// OpenSSL's pkcs11 provider and pkcs11-tool speak them). The configuration accepts one
// where it names a token, and the backend prints one for every key object it creates or
// looks for, so an operator can hand it straight to those tools.
import { KeywardError } from '../../core/keyward-error.js';

/** The attributes keyward understands; every other standard attribute is refused. */
export interface Pkcs11Uri {
  readonly token?: string;
  readonly manufacturer?: string;
  readonly serial?: string;
  readonly model?: string;
  readonly slotId?: number;
  readonly slotDescription?: string;
  readonly slotManufacturer?: string;
  readonly libraryManufacturer?: string;
  readonly libraryDescription?: string;
  readonly object?: string;
  readonly id?: Buffer;
  readonly type?: 'cert' | 'data' | 'private' | 'public' | 'secret-key';
  readonly modulePath?: string;
  readonly moduleName?: string;
}

const TEXT_PATH_ATTRIBUTES: Readonly<Record<string, keyof Pkcs11Uri>> = {
  token: 'token',
  manufacturer: 'manufacturer',
  serial: 'serial',
  model: 'model',
  'slot-description': 'slotDescription',
  'slot-manufacturer': 'slotManufacturer',
  'library-manufacturer': 'libraryManufacturer',
  'library-description': 'libraryDescription',
  object: 'object',
};
const OBJECT_TYPES = new Set(['cert', 'data', 'private', 'public', 'secret-key']);
const UNRESERVED = /[A-Za-z0-9\-._~]/;

function invalid(message: string): KeywardError {
  return KeywardError.invalidArgument(`invalid pkcs11: URI: ${message}`);
}

/** Percent-decodes to bytes (RFC 3986 §2.1); `%` must be followed by two hex digits. */
function percentDecode(text: string, name: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    const ch = text[i]!;
    if (ch === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw invalid(`attribute "${name}" has a malformed percent-encoding`);
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
    } else {
      const code = text.codePointAt(i)!;
      bytes.push(...Buffer.from(String.fromCodePoint(code), 'utf8'));
      i += code > 0xffff ? 2 : 1;
    }
  }
  return Buffer.from(bytes);
}

function decodeText(text: string, name: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(percentDecode(text, name));
  } catch (err) {
    if (err instanceof KeywardError) throw err;
    throw invalid(`attribute "${name}" is not UTF-8 once decoded`);
  }
}

/** Percent-encodes every byte that is not an RFC 3986 unreserved character. */
function percentEncode(value: string | Uint8Array): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += b < 0x80 && UNRESERVED.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Parses a `pkcs11:` URI. Refuses `pin-value` and `pin-source` (keyward reads the PIN
 * from the backend's `pin` setting only, never from the configuration text), repeated
 * attributes and unknown standard attributes; vendor attributes (`x-…`) are ignored, as
 * RFC 7512 §2.3 allows. Never echoes a PIN in its messages.
 */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (!text.startsWith('pkcs11:')) throw invalid('it must start with "pkcs11:"');
  const body = text.slice('pkcs11:'.length);
  const q = body.indexOf('?');
  const pathPart = q === -1 ? body : body.slice(0, q);
  const queryPart = q === -1 ? '' : body.slice(q + 1);
  const out: { -readonly [K in keyof Pkcs11Uri]: Pkcs11Uri[K] } = {};
  const seen = new Set<string>();

  for (const item of pathPart === '' ? [] : pathPart.split(';')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalid('every path attribute must be name=value');
    const name = item.slice(0, eq).toLowerCase();
    const raw = item.slice(eq + 1);
    if (seen.has(name)) throw invalid(`attribute "${name}" appears more than once`);
    seen.add(name);
    const textKey = TEXT_PATH_ATTRIBUTES[name];
    if (textKey !== undefined) {
      (out as Record<string, unknown>)[textKey] = decodeText(raw, name);
    } else if (name === 'id') {
      out.id = percentDecode(raw, name);
    } else if (name === 'slot-id') {
      const decoded = decodeText(raw, name);
      if (!/^\d{1,15}$/.test(decoded)) throw invalid('attribute "slot-id" must be a decimal number');
      out.slotId = Number(decoded);
    } else if (name === 'type') {
      const decoded = decodeText(raw, name);
      if (!OBJECT_TYPES.has(decoded)) throw invalid(`attribute "type" must be one of ${[...OBJECT_TYPES].join(', ')}`);
      out.type = decoded as Pkcs11Uri['type'];
    } else if (name === 'library-version') {
      // Accepted and ignored: keyward loads one module, named by path.
    } else if (!name.startsWith('x-')) {
      throw invalid(`unknown path attribute "${name}"`);
    }
  }

  for (const item of queryPart === '' ? [] : queryPart.split('&')) {
    const eq = item.indexOf('=');
    const name = (eq === -1 ? item : item.slice(0, eq)).toLowerCase();
    if (seen.has(`?${name}`)) throw invalid(`query attribute "${name}" appears more than once`);
    seen.add(`?${name}`);
    if (name === 'pin-value' || name === 'pin-source') {
      throw invalid(`"${name}" is not accepted: the PIN is read from the backend's "pin" setting (a file or an environment variable), never from the configuration`);
    }
    if (eq === -1) throw invalid(`query attribute "${name}" has no value`);
    const raw = item.slice(eq + 1);
    if (name === 'module-path') out.modulePath = decodeText(raw, name);
    else if (name === 'module-name') out.moduleName = decodeText(raw, name);
    else if (!name.startsWith('x-')) throw invalid(`unknown query attribute "${name}"`);
  }
  return out;
}

/** Formats a `pkcs11:` URI, attributes in RFC 7512's order, values percent-encoded. */
export function formatPkcs11Uri(uri: Pkcs11Uri): string {
  const path: string[] = [];
  const add = (name: string, value: string | Uint8Array | undefined) => {
    if (value !== undefined) path.push(`${name}=${percentEncode(value)}`);
  };
  add('token', uri.token);
  add('manufacturer', uri.manufacturer);
  add('serial', uri.serial);
  add('model', uri.model);
  if (uri.slotId !== undefined) path.push(`slot-id=${uri.slotId}`);
  add('object', uri.object);
  add('id', uri.id);
  add('type', uri.type);
  const query: string[] = [];
  if (uri.modulePath !== undefined) query.push(`module-path=${percentEncode(uri.modulePath)}`);
  if (uri.moduleName !== undefined) query.push(`module-name=${percentEncode(uri.moduleName)}`);
  return `pkcs11:${path.join(';')}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}
