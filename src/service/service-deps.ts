// The parts every use case works with, built once by the composition root.
import type { EnvelopeKeyring } from '../keys/envelope-keyring.js';
import type { KeyRegistry } from '../keys/key-registry.js';
import type { PublicKeyring } from '../keys/public-keyring.js';

export interface RequestLimits {
  readonly maxPlaintextBytes: number;
  readonly maxAssociatedDataBytes: number;
  readonly maxBatchItems: number;
  readonly maxBatchBytes: number;
}

export interface ServiceDeps {
  readonly registry: KeyRegistry;
  readonly keyring: EnvelopeKeyring;
  readonly publicKeys: PublicKeyring;
  readonly limits: RequestLimits;
}
