// Construction of plain-data messages with one fixed shape (so V8 keeps the
// property access monomorphic) and the shared empty values they default to.
import { MessageType, type Entry, type Message, type MemberId } from "./types.js";

export const NO_ENTRIES: Entry[] = Object.freeze([]) as unknown as Entry[];
export const NO_CONTEXT: Uint8Array = new Uint8Array(0);
/** Marks a vote request that comes from a leadership transfer (bypasses the lease). */
export const TRANSFER_CONTEXT: Uint8Array = new TextEncoder().encode("CampaignTransfer");

export function newMessage(type: MessageType, to: MemberId, from: MemberId, term: number): Message {
  return {
    type,
    to,
    from,
    term,
    logTerm: 0,
    index: 0,
    entries: NO_ENTRIES,
    commit: 0,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: NO_CONTEXT,
  };
}

export function isTransferContext(ctx: Uint8Array): boolean {
  if (ctx.length !== TRANSFER_CONTEXT.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== TRANSFER_CONTEXT[i]) return false;
  return true;
}

/** Read sequence numbers travel in heartbeat contexts as 8 little-endian bytes. */
export function encodeReadSeq(seq: number): Uint8Array {
  const b = new Uint8Array(8);
  const lo = seq % 4294967296;
  const hi = Math.floor(seq / 4294967296);
  b[0] = lo & 0xff;
  b[1] = (lo >>> 8) & 0xff;
  b[2] = (lo >>> 16) & 0xff;
  b[3] = (lo >>> 24) & 0xff;
  b[4] = hi & 0xff;
  b[5] = (hi >>> 8) & 0xff;
  b[6] = (hi >>> 16) & 0xff;
  b[7] = (hi >>> 24) & 0xff;
  return b;
}

/** 0 when the context carries no read sequence. */
export function decodeReadSeq(ctx: Uint8Array): number {
  if (ctx.length !== 8) return 0;
  const lo = (ctx[0]! | (ctx[1]! << 8) | (ctx[2]! << 16) | (ctx[3]! << 24)) >>> 0;
  const hi = (ctx[4]! | (ctx[5]! << 8) | (ctx[6]! << 16) | (ctx[7]! << 24)) >>> 0;
  return hi * 4294967296 + lo;
}

/** Local-only message types, which the public step() refuses. */
export function isLocalMessage(t: MessageType): boolean {
  return (
    t === MessageType.Hup ||
    t === MessageType.Beat ||
    t === MessageType.Unreachable ||
    t === MessageType.SnapStatus ||
    t === MessageType.CheckQuorum
  );
}

export function isResponseMessage(t: MessageType): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.Unreachable ||
    t === MessageType.PreVoteResp
  );
}
