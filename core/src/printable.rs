//! [`printable`]: untrusted text made safe to show an operator.
//!
//! Error messages quote what they could not read: a piece of a trace line, a
//! peers file, a peer's reply. That text comes from outside and may hold
//! terminal control sequences (ESC, BEL: a hostile file can retitle a
//! window, hide lines or worse) or be a hundred megabytes long. Everything
//! quoted from outside goes through [`printable`] first.

use std::fmt::Write;

/// The longest excerpt an error message quotes, in characters.
pub const EXCERPT_CHARS: usize = 160;

/// `text` with every control character escaped (`\u{1b}` for ESC, `\n` for
/// a newline, …) and cut after `max_chars` characters, saying how much was
/// left out. Printable Unicode is kept as it is.
///
/// ```
/// assert_eq!(connmgr::printable("bell\x07 and \x1b[31mred", 80), "bell\\u{7} and \\u{1b}[31mred");
/// assert_eq!(connmgr::printable("abcdef", 3), "abc… (3 more bytes)");
/// ```
pub fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars) + 16);
    for (count, (at, c)) in text.char_indices().enumerate() {
        if count == max_chars {
            let _ = write!(out, "… ({} more bytes)", text.len() - at);
            break;
        }
        if c.is_control() || is_invisible_override(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The bidirectional overrides and isolates, which reorder what follows
/// them on a terminal ("Trojan source").
fn is_invisible_override(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_text_kept() {
        let hostile = "ok\x1b]0;pwned\x07\r\nnext\u{202e}txt.exe é";
        let shown = printable(hostile, 200);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(!shown.contains('\u{202e}'), "{shown:?}");
        assert!(
            shown.starts_with("ok\\u{1b}]0;pwned\\u{7}\\r\\nnext"),
            "{shown}"
        );
        assert!(shown.ends_with("txt.exe é"), "{shown}");
    }

    #[test]
    fn long_text_is_cut_with_a_count() {
        let long = "x".repeat(1_000_000);
        let shown = printable(&long, EXCERPT_CHARS);
        assert_eq!(
            shown,
            format!("{}… (999840 more bytes)", "x".repeat(EXCERPT_CHARS))
        );
        assert_eq!(printable("", 5), "");
        assert_eq!(printable("abc", 3), "abc");
    }
}
