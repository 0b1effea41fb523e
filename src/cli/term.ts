// Text from peers (names, chat, file names from grants, the Feed) reaches the terminal
// through these two functions only: a control character is shown as a visible escape
// (`\x1b`, `\u{202e}`), never sent raw, so a peer cannot move the cursor, retitle the window,
// hide text or reverse it. JSON output needs none of this: JSON.stringify escapes controls.

// C0 controls, DEL, C1 controls, and the Unicode format controls that reorder or hide text
// (bidi embeddings, overrides and isolates, marks, zero-width joiners, the BOM, line and
// paragraph separators).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;
// eslint-disable-next-line no-control-regex
const UNSAFE_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

function escapeChar(c: string): string {
  const n = c.codePointAt(0)!;
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
}

/** One field on one line (a name, a file name): every control escaped, newlines and tabs too. */
export function termSafe(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/** A block of text (chat, a whole command output): newlines and tabs kept, every other control escaped. */
export function termText(s: string): string {
  return s.replace(UNSAFE_BUT_LINES, escapeChar);
}
