//! Cutting text to a byte budget without splitting a character: the one rule every bounded
//! message, label and log field uses (str's own `floor_char_boundary` is not stable yet).

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` itself when it fits in `max` bytes, else its [`prefix`] of `max` bytes with `…` after
/// it (so the result may exceed `max` by the ellipsis' 3 bytes: a reader sees that it was cut).
pub fn cut(s: &str, max: usize) -> String {
    let kept = prefix(s, max);
    if kept.len() == s.len() {
        s.to_owned()
    } else {
        format!("{kept}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary_and_marks_the_cut() {
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("héllo", 3), "hé");
        assert_eq!(prefix("abc", 10), "abc");
        assert_eq!(prefix("€", 0), "");
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("ab€", 3), "ab…");
    }
}
