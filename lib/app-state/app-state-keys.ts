/**
 * The app-state keys the phone shared with the device. Every key is kept (records of the account may be
 * under older ones) and uploads use the newest by timestamp, whatsmeow's rule: Baileys sets
 * `myAppStateKeyId` to the last key of the latest share, whatever its timestamp.
 */
import { toNumber, type proto } from '@whiskeysockets/baileys';
import { AppStateKeyMissingError } from '../errors.js';
import { mutationKeys, type MutationKeys } from './app-state-crypto.js';
import type { KeyLookup } from './sync-codec.js';

type KeyData = proto.Message.IAppStateSyncKeyData;


export class AppStateKeys {
  private readonly expanded = new Map<string, MutationKeys>();

  /** `known()`: the device's keys by id (base64), as stored (shares that arrive during a call included). */
  constructor(
    private readonly deviceId: string,
    private readonly known: () => Record<string, KeyData | null | undefined>,
  ) {}

  /** Expanded keys of a key id; AppStateKeyMissingError when the device lacks it. */
  readonly lookup: KeyLookup = (keyId) => this.expand(Buffer.from(keyId).toString('base64'));

  /** The key uploads use: the newest by timestamp (AppStateKeyMissingError when there is none). */
  upload(): { id: Uint8Array; keys: MutationKeys } {
    let newest: { id: string; at: number } | undefined;
    for (const [id, data] of Object.entries(this.known())) {
      if (!data?.keyData?.length) continue;
      const at = toNumber(data.timestamp);
      if (!newest || at > newest.at) newest = { id, at };
    }
    if (!newest) throw new AppStateKeyMissingError(this.deviceId);
    return { id: Buffer.from(newest.id, 'base64'), keys: this.expand(newest.id) };
  }

  private expand(id: string): MutationKeys {
    const cached = this.expanded.get(id);
    if (cached) return cached;
    const data = this.known()[id]?.keyData;
    if (!data?.length) throw new AppStateKeyMissingError(this.deviceId, id);
    const keys = mutationKeys(data);
    this.expanded.set(id, keys);
    return keys;
  }
}
