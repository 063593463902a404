// HPACK's static Huffman code (RFC 7541 Appendix B), decoding only. The code
// is canonical: codes are handed out in order of (length, symbol), so the
// 257 code lengths determine every code and the table stays one short string.
import { SwarmError } from "../../../shared/errors.js";

/** Code length of symbols 0..256 (256 = EOS), one base-32 digit each. */
const CODE_LENGTHS =
  "dnsssssssoussussssssssusssssssss6aacd68baa8b8666555666666678f6cad67777777777777777777777878djde6f56565666577666567655677777fbedsk" +
  "mkkmmmnmnnnnnonoomnonnnnlmnmnnomlkmmnnlnmmolmnnllmlnmnnkmmmnmmnqqkjmnmpqqqrrqopjlqrrqrollqqsrrrkoklmllnmmppooqnqrqqrrrrrsrrrrrqu";

const EOS = 256;
const MAX_LENGTH = 30;

/**
 * Canonical decoding tables: for each length L, the first code of that length
 * (`firstCode[L]`), how many codes have it (`count[L]`) and where its symbols
 * start in `symbols` (sorted by length, then value).
 */
const firstCode = new Int32Array(MAX_LENGTH + 2);
const count = new Int32Array(MAX_LENGTH + 2);
const offset = new Int32Array(MAX_LENGTH + 2);
const symbols = new Uint16Array(EOS + 1);

function buildTables(): void {
  const lengths = Array.from(CODE_LENGTHS, (c) => parseInt(c, 32));
  if (lengths.length !== EOS + 1) throw new Error(`HPACK Huffman table has ${lengths.length} lengths, want ${EOS + 1}`);
  for (const len of lengths) count[len]++;
  let code = 0;
  let index = 0;
  for (let len = 1; len <= MAX_LENGTH; len++) {
    code = (code + count[len - 1]) << 1;
    firstCode[len] = code;
    offset[len] = index;
    index += count[len];
  }
  const next = offset.slice();
  for (let sym = 0; sym <= EOS; sym++) symbols[next[lengths[sym]]++] = sym;
}
buildTables();

/** The code lengths, exposed so tests can check the code is complete (Kraft sum of 1). */
export function huffmanCodeLengths(): number[] {
  return Array.from(CODE_LENGTHS, (c) => parseInt(c, 32));
}

/**
 * Decode `src[start, end)`. Throws on EOS inside the string and on padding
 * that is longer than 7 bits or not made of 1 bits (RFC 7541 5.2), as an
 * HPACK decoder must.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): Buffer {
  // Every code is at least 5 bits, so the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil(((end - start) * 8) / 5));
  let n = 0;
  let code = 0;
  let len = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i];
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      len++;
      const k = code - firstCode[len];
      if (k < count[len]) {
        const sym = symbols[offset[len] + k];
        if (sym === EOS) throw new SwarmError("INVALID_ARGUMENT", "HPACK Huffman string contains EOS");
        out[n++] = sym;
        code = 0;
        len = 0;
      } else if (len >= MAX_LENGTH) {
        throw new SwarmError("INVALID_ARGUMENT", "HPACK Huffman string has an invalid code");
      }
    }
  }
  // Leftover bits are padding: at most 7, all ones (a prefix of EOS).
  if (len > 7 || code !== (1 << len) - 1) {
    throw new SwarmError("INVALID_ARGUMENT", "HPACK Huffman string has invalid padding");
  }
  return out.subarray(0, n);
}
