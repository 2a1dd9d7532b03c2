/**
 * GPT-2's byte-level alphabet: every byte as a printable character (printable Latin-1 bytes as
 * themselves, the others from U+0100 on), so a vocabulary of strings covers all byte sequences.
 */
const utf8 = new TextEncoder();

export const BYTE_CHAR: string[] = [];
export const CHAR_BYTE = new Map<string, number>();
{
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    const ch = String.fromCharCode(printable ? b : 256 + extra++);
    BYTE_CHAR.push(ch);
    CHAR_BYTE.set(ch, b);
  }
}

export function toByteChars(text: string): string {
  let out = "";
  for (const b of utf8.encode(text)) out += BYTE_CHAR[b];
  return out;
}

/** GPT-2's pre-tokenization pattern (contractions, letters, digits, other, whitespace), whitespace in Unicode's sense. */
export const GPT2_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;
