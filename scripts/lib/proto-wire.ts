// Hand encoding of the few protobuf messages the benchmark clients send
// (one buffer per request, no codec on the hot path).

export function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** A length-delimited field: its one-byte tag (field number << 3 | 2), the length, the bytes. */
export function lengthDelimited(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), varint(body.length), body]);
}
