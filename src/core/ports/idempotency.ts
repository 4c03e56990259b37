/** Request keys (same key, same answer) and webhook deliveries (each handled once). */
import type { CommandLogEntry } from './audit.js';

/** Claimed: the caller runs the request. Otherwise what is known of the earlier claim. */
export type RequestKeyClaim =
  | { claimed: true }
  | { claimed: false; fingerprint: string | null; reply: unknown | null; claimedBy: string | null; at: string };

export interface IdempotencyStore {
  /** Claim a key; false when it was seen before. */
  claimKey(key: string): Promise<boolean>;
  /** Claim a request key for a request (its fingerprint) on behalf of a worker. */
  claimRequestKey(key: string, fingerprint: string, worker: string): Promise<RequestKeyClaim>;
  /** The fingerprint of the request that took a key, if any took it. */
  requestKeyFingerprint(key: string): Promise<string | null>;
  /** Take over a key whose claimant died before it answered; false when someone else did first. */
  takeOverKey(key: string, worker: string, from: string | null): Promise<boolean>;
  /** The answer to a request and its command-log line, together or not at all. */
  finishRequest(key: string, reply: unknown, entry: CommandLogEntry): Promise<void>;
  saveKeyReply(key: string, reply: unknown): Promise<void>;
  keyReply(key: string): Promise<unknown | undefined>;
  /** Forget a key that has no answer yet. */
  forgetKey(key: string): Promise<void>;
  /** Remember a webhook delivery id; false when it was delivered before. */
  claimDelivery(id: string): Promise<boolean>;
}
