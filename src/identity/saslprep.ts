/**
 * Password normalisation for SCRAM-SHA-256, as PostgreSQL applies it
 * (`src/common/saslprep.c`): a verifier we compute must be byte-identical to
 * the one PostgreSQL would compute, and must match the proof libpq/pg clients
 * send, or the user cannot log in through the proxy.
 *
 * PostgreSQL's rules, reproduced:
 * - a pure-ASCII password is used unchanged (no mapping, no checks);
 * - RFC 3454 C.1.2 (non-ASCII spaces) → U+0020, B.1 (mapped to nothing) removed;
 * - NFKC;
 * - if the result contains a prohibited code point (C.1.2–C.9), the *raw*
 *   password is used instead — PostgreSQL does not reject such passwords.
 *
 * Simplifications (documented, deliberate): we use the NFKC of the running
 * Node ICU, not Unicode 3.2; we skip the "unassigned code point" table (A.1)
 * and the bidirectional check (RFC 3454 §6), for which JavaScript has no
 * property escapes. Only passwords that mix characters NFKC changes with
 * code points unassigned in Unicode 3.2, or mix RTL and LTR letters, can get
 * a different verifier than PostgreSQL would compute; ASCII never does.
 */

// RFC 3454 Table C.1.2 — non-ASCII space characters.
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/gu;
// RFC 3454 Table B.1 — commonly mapped to nothing (joiners, variation selectors: intended).
// eslint-disable-next-line no-misleading-character-class
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu;

/** RFC 3454 C.1.2 … C.9 (prohibited output), as code point ranges. */
const PROHIBITED: ReadonlyArray<readonly [number, number]> = [
  [0x0000, 0x001f], // C.2.1 ASCII control
  [0x007f, 0x009f], // C.2.1 DEL, C.2.2 C1 controls
  [0x00a0, 0x00a0], // C.1.2
  [0x0340, 0x0341], // C.8
  [0x06dd, 0x06dd], // C.2.2
  [0x070f, 0x070f],
  [0x1680, 0x1680], // C.1.2
  [0x180e, 0x180e], // C.2.2
  [0x2000, 0x200f], // C.1.2, C.2.2, C.8
  [0x2028, 0x202f], // C.2.2, C.8, C.1.2
  [0x205f, 0x2063], // C.1.2, C.2.2
  [0x206a, 0x206f], // C.2.2, C.8
  [0x2ff0, 0x2ffb], // C.7
  [0x3000, 0x3000], // C.1.2
  [0xd800, 0xdfff], // C.5 surrogates
  [0xe000, 0xf8ff], // C.3 private use
  [0xfdd0, 0xfdef], // C.4
  [0xfeff, 0xfeff], // C.2.2
  [0xfff9, 0xffff], // C.2.2, C.6, C.4
  [0x1d173, 0x1d17a], // C.2.2
  [0xe0001, 0xe0001], // C.9
  [0xe0020, 0xe007f], // C.9
  [0xf0000, 0x10ffff], // C.3 private use planes (their non-characters are C.4 too)
];

function isProhibited(codePoint: number): boolean {
  if ((codePoint & 0xfffe) === 0xfffe) return true; // C.4: U+xFFFE/U+xFFFF of every plane
  return PROHIBITED.some(([from, to]) => codePoint >= from && codePoint <= to);
}

export function saslprep(password: string): string {
  // eslint-disable-next-line no-control-regex -- the whole ASCII range is the point
  if (/^[\u0000-\u007f]*$/.test(password)) return password;
  const prepared = password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  for (const char of prepared) {
    if (isProhibited(char.codePointAt(0) ?? 0)) return password;
  }
  return prepared;
}
