// Encoding of a ConfChange into an entry's data, in the protobuf wire format
// of etcd's raftpb.ConfChange (1: id, 2: type, 3: node_id, 4: context), so a
// WAL written here reads like SwarmKit's.
import { ConfChangeType, type ConfChange } from "./types.js";

const EMPTY = new Uint8Array(0);

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const ctx = cc.context;
  const size =
    2 + // field 1 (id = 0)
    1 + varintSize(cc.type) +
    1 + varintSize(cc.nodeId) +
    (ctx.length > 0 ? 1 + varintSize(ctx.length) + ctx.length : 0);
  const buf = new Uint8Array(size);
  let p = 0;
  buf[p++] = 0x08;
  buf[p++] = 0;
  buf[p++] = 0x10;
  p = putVarint(buf, p, cc.type);
  buf[p++] = 0x18;
  p = putVarint(buf, p, cc.nodeId);
  if (ctx.length > 0) {
    buf[p++] = 0x22;
    p = putVarint(buf, p, ctx.length);
    buf.set(ctx, p);
  }
  return buf;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  let type = ConfChangeType.AddNode as ConfChangeType;
  let nodeId = 0;
  let context = EMPTY;
  let p = 0;
  const readVarint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (p >= data.length) throw new Error("raft: truncated ConfChange");
      const b = data[p++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (p < data.length) {
    const key = readVarint();
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) {
      const v = readVarint();
      if (field === 2) type = v as ConfChangeType;
      else if (field === 3) nodeId = v;
    } else if (wire === 2) {
      const len = readVarint();
      if (p + len > data.length) throw new Error("raft: truncated ConfChange");
      if (field === 4) context = data.slice(p, p + len);
      p += len;
    } else {
      throw new Error(`raft: bad ConfChange wire type ${wire}`);
    }
  }
  return { type, nodeId, context };
}
