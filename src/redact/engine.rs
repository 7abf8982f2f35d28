//! The compiled redactor and its streaming form (the module docs of [`super`] say what is
//! matched).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, Input, MatchKind};

use super::forms::{self, MIN_SECRET_LEN};

/// What replaces a secret.
pub const MARKER: &str = "***";

/// The compiled set of secrets. Cheap to clone (one `Arc`); `Send + Sync`.
#[derive(Clone)]
pub struct Redactor {
    shared: Arc<Shared>,
}

struct Shared {
    /// `None` when there is no secret to look for (nothing is ever changed).
    inner: Option<Inner>,
    /// The last [`Redactor::with_extra`] result for a secret this one does not know: Codex
    /// sends the same bearer on every request, so it is compiled once, not per request.
    extra: ArcSwapOption<(Box<str>, Redactor)>,
}

struct Inner {
    /// Sorted, deduplicated, each at least [`MIN_SECRET_LEN`] bytes.
    secrets: Vec<Box<str>>,
    /// Every form of every secret, in full.
    forms: Vec<forms::Form>,
    /// Automata for the searched prefix of every form, at most [`GROUP_PATTERNS`] patterns
    /// each: leftmost-longest for the search, walked anchored to tell whether a chunk's tail
    /// could still become a match. Almost every config needs one.
    groups: Vec<Group>,
    /// Bytes that begin some pattern (a cheap filter before the anchored walk).
    starts: [bool; 256],
    /// Bytes that occur anywhere in some pattern: a tail that could begin one holds only these.
    in_pattern: [bool; 256],
    /// The longest pattern: a tail longer than this can never be the start of one.
    max_pattern_len: usize,
}

/// The most patterns one automaton gets (about 4 secrets). Its SIMD prefilter (Teddy) takes
/// at most 128 and slows down well before that; without it the search is some 30 times slower.
/// A config with more secrets gets several automata of equal size, each searched with its
/// prefilter (measured on 64 KiB with 20 secrets: one automaton 150 µs, groups of 128 135 µs,
/// of 64 20 µs, of 32 15 µs, of 16 50 µs).
pub(super) const GROUP_PATTERNS: usize = 32;

struct Group {
    nfa: NFA,
    /// The anchored start state of `nfa`.
    anchored_start: StateID,
}

impl Group {
    fn new(patterns: &[&[u8]]) -> Group {
        let nfa = NFA::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns)
            .expect("a few KiB of patterns are far below the automaton's size limit");
        let anchored_start = nfa
            .start_state(Anchored::Yes)
            .expect("NFAs support anchored searches");
        Group {
            nfa,
            anchored_start,
        }
    }

    /// Whether `tail` is the beginning of (or a whole) pattern of this group.
    fn begins_pattern(&self, tail: &[u8]) -> bool {
        let mut sid = self.anchored_start;
        tail.iter().all(|&b| {
            sid = self.nfa.next_state(Anchored::Yes, sid, b);
            !self.nfa.is_dead(sid)
        })
    }
}

/// One redaction: `[start, end)` of the haystack. `open` when more input could make it longer
/// (a plain-text echo that runs to the end of what has been seen).
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    open: bool,
}

impl Redactor {
    /// Compiles `secrets` (duplicates and secrets shorter than [`MIN_SECRET_LEN`] are dropped).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        Redactor::grouped(secrets, GROUP_PATTERNS)
    }

    /// [`Redactor::new`] with at most `group_patterns` patterns per automaton (tests compare
    /// the split search with a single automaton).
    pub(super) fn grouped<'a>(
        secrets: impl IntoIterator<Item = &'a str>,
        group_patterns: usize,
    ) -> Redactor {
        let mut secrets: Vec<Box<str>> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .map(Box::from)
            .collect();
        secrets.sort_unstable();
        secrets.dedup();
        let inner = (!secrets.is_empty()).then(|| Inner::new(secrets, group_patterns));
        Redactor {
            shared: Arc::new(Shared {
                inner,
                extra: ArcSwapOption::empty(),
            }),
        }
    }

    /// A redactor that changes nothing.
    pub fn empty() -> Redactor {
        Redactor::new([])
    }

    /// This redactor plus one more secret (the client's own bearer on one request). A secret
    /// that is already known, or too short to be matched, costs one `Arc` clone, and so does
    /// the same unknown secret as last time; another one compiles a new automaton (tens of
    /// microseconds, once per request that needs it).
    pub fn with_extra(&self, secret: &str) -> Redactor {
        if secret.len() < MIN_SECRET_LEN || self.knows(secret) {
            return self.clone();
        }
        if let Some(cached) = &*self.shared.extra.load()
            && *cached.0 == *secret
        {
            return cached.1.clone();
        }
        let known = self.inner().into_iter().flat_map(|i| i.secrets.iter());
        let extended = Redactor::new(known.map(|s| &**s).chain([secret]));
        self.shared
            .extra
            .store(Some(Arc::new((secret.into(), extended.clone()))));
        extended
    }

    /// True when nothing is ever redacted.
    pub fn is_empty(&self) -> bool {
        self.shared.inner.is_none()
    }

    fn inner(&self) -> Option<&Inner> {
        self.shared.inner.as_ref()
    }

    /// Whether `secret` is one of the compiled secrets.
    fn knows(&self, secret: &str) -> bool {
        self.inner()
            .is_some_and(|i| i.secrets.binary_search_by(|s| (**s).cmp(secret)).is_ok())
    }

    /// `text` with every secret replaced by [`MARKER`]; borrowed when there is none.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.redact_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Every span starts and ends on a character boundary (the patterns are whole
            // characters, and an echo ends on one of the secret's), so this never replaces.
            Cow::Owned(bytes) => Cow::Owned(
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        }
    }

    /// `bytes` with every secret replaced by [`MARKER`]; borrowed when there is none.
    pub fn redact_bytes<'t>(&self, bytes: &'t [u8]) -> Cow<'t, [u8]> {
        let Some(inner) = self.inner() else {
            return Cow::Borrowed(bytes);
        };
        if inner.find(bytes, 0).is_none() {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        inner.redact_into(bytes, true, &mut out);
        Cow::Owned(out)
    }

    /// Redacts, then truncates to at most `max_bytes` (the `…` appended on a cut included) on a
    /// character boundary. Redaction comes first, so no prefix of a secret survives the cut.
    pub fn redact_truncated(&self, text: &str, max_bytes: usize) -> String {
        const ELLIPSIS: &str = "…";
        let text = self.redact(text);
        if text.len() <= max_bytes {
            return text.into_owned();
        }
        let (budget, tail) = match max_bytes.checked_sub(ELLIPSIS.len()) {
            Some(budget) => (budget, ELLIPSIS),
            None => (max_bytes, ""),
        };
        let kept = crate::text::prefix(&text, budget);
        let mut out = String::with_capacity(kept.len() + tail.len());
        out.push_str(kept);
        out.push_str(tail);
        out
    }

    /// A streaming redactor for one body relayed chunk by chunk.
    pub fn stream(&self) -> StreamRedactor {
        StreamRedactor {
            redactor: self.clone(),
            pending: Vec::new(),
        }
    }
}

impl AsRef<Redactor> for Redactor {
    fn as_ref(&self) -> &Redactor {
        self
    }
}

impl fmt::Debug for Redactor {
    // Never the secrets themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secrets, patterns) = self.inner().map_or((0, 0), |i| {
            let patterns = i.groups.iter().map(|g| g.nfa.patterns_len()).sum();
            (i.secrets.len(), patterns)
        });
        f.debug_struct("Redactor")
            .field("secrets", &secrets)
            .field("patterns", &patterns)
            .finish()
    }
}

impl Default for Redactor {
    fn default() -> Redactor {
        Redactor::empty()
    }
}

impl Inner {
    fn new(secrets: Vec<Box<str>>, group_patterns: usize) -> Inner {
        let forms: Vec<forms::Form> = secrets.iter().flat_map(|s| forms::all(s)).collect();
        let mut patterns: Vec<&[u8]> = forms
            .iter()
            .map(|f| &f.full.as_bytes()[..f.prefix_len])
            .collect();
        patterns.sort_unstable();
        patterns.dedup();
        let per_group = patterns
            .len()
            .div_ceil(patterns.len().div_ceil(group_patterns.max(1)));
        let groups: Vec<Group> = patterns.chunks(per_group).map(Group::new).collect();
        let mut starts = [false; 256];
        for p in &patterns {
            starts[usize::from(p[0])] = true;
        }
        let mut in_pattern = [false; 256];
        for &b in patterns.iter().flat_map(|p| p.iter()) {
            in_pattern[usize::from(b)] = true;
        }
        let max_pattern_len = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        Inner {
            secrets,
            forms,
            groups,
            starts,
            in_pattern,
            max_pattern_len,
        }
    }

    /// The leftmost-longest match starting at or after `at`, over every group. Once a group has
    /// a match, the next ones only search as far as a match that could still win can begin.
    fn find(&self, hay: &[u8], at: usize) -> Option<aho_corasick::Match> {
        let mut best: Option<aho_corasick::Match> = None;
        for group in &self.groups {
            let end = best.map_or(hay.len(), |b| {
                (b.start() + self.max_pattern_len).min(hay.len())
            });
            let input = Input::new(hay).span(at..end);
            let found = group
                .nfa
                .try_find(&input)
                .expect("unanchored searches are supported by every NFA");
            if let Some(m) = found
                && best.is_none_or(|b| (m.start(), b.end()) < (b.start(), m.end()))
            {
                best = Some(m);
            }
        }
        best
    }

    /// Writes `hay` redacted to `out` up to the returned cut, leaving `hay[cut..]` for later:
    /// the shortest tail that more input could turn into (or join to) a match. With `eof`
    /// nothing more comes, and the cut is `hay.len()`.
    fn redact_into(&self, hay: &[u8], eof: bool, out: &mut Vec<u8>) -> usize {
        let hold = if eof { hay.len() } else { self.hold_start(hay) };
        let mut spans = Spans {
            inner: self,
            hay,
            eof,
            next: None,
            at: 0,
        };
        let mut pos = 0;
        let cut = loop {
            match spans.next() {
                None => break hold,
                // A span that reaches into the held tail could still grow or merge with a
                // match that starts there: keep it for the next chunk, whole.
                Some(span) if span.open || span.end > hold => break span.start.min(hold),
                Some(span) => {
                    out.extend_from_slice(&hay[pos..span.start]);
                    out.extend_from_slice(MARKER.as_bytes());
                    pos = span.end;
                }
            }
        };
        out.extend_from_slice(&hay[pos..cut]);
        cut
    }

    /// Where the tail of `hay` that could be the start of a pattern begins (`hay.len()` when
    /// no tail could). Such a tail holds only bytes that occur in patterns and is shorter than
    /// the longest one: the last byte of an SSE event (`\n`) ends the look at once. Inside
    /// that, each byte that begins a pattern gets an anchored walk to the end.
    fn hold_start(&self, hay: &[u8]) -> usize {
        let floor = hay
            .len()
            .saturating_sub(self.max_pattern_len.saturating_sub(1));
        let mut from = hay.len();
        while from > floor && self.in_pattern[usize::from(hay[from - 1])] {
            from -= 1;
        }
        for start in from..hay.len() {
            if !self.starts[usize::from(hay[start])] {
                continue;
            }
            if self.groups.iter().any(|g| g.begins_pattern(&hay[start..])) {
                return start;
            }
        }
        hay.len()
    }

    /// The end of the redaction for a match at `start`: at least the match, and as far as the
    /// text goes on agreeing with any form whose searched prefix it shows (every form is
    /// checked, not only the one the automaton reported: two forms can share a beginning).
    /// `open` when that agreement runs to the end of `hay` before the form ends and more input
    /// may follow.
    fn extend(&self, hay: &[u8], start: usize, end: usize, eof: bool) -> (usize, bool) {
        let tail = &hay[start..];
        let mut best = end;
        let mut open = false;
        for form in &self.forms {
            let full = form.full.as_bytes();
            if tail.first() != full.first() {
                continue;
            }
            let mut agree = tail.iter().zip(full).take_while(|(a, b)| a == b).count();
            if agree < form.prefix_len {
                continue;
            }
            if agree == tail.len() && agree < full.len() && !eof {
                open = true;
            }
            // End on a character of the form, so redacted text stays valid UTF-8.
            while !form.full.is_char_boundary(agree) {
                agree -= 1;
            }
            best = best.max(start + agree);
        }
        (best, open)
    }
}

/// The redaction spans of one haystack in order, overlapping matches merged: after each match
/// the search resumes one byte after its start, so a match that begins inside another and
/// reaches past it extends the span instead of being cut off.
struct Spans<'a> {
    inner: &'a Inner,
    hay: &'a [u8],
    eof: bool,
    /// A match found while looking for overlaps that begins after the current span.
    next: Option<Span>,
    /// Where the next search starts.
    at: usize,
}

impl Spans<'_> {
    fn find(&mut self) -> Option<Span> {
        if self.at > self.hay.len() {
            return None;
        }
        let Some(m) = self.inner.find(self.hay, self.at) else {
            self.at = self.hay.len() + 1;
            return None;
        };
        self.at = m.start() + 1;
        let (end, open) = self.inner.extend(self.hay, m.start(), m.end(), self.eof);
        Some(Span {
            start: m.start(),
            end,
            open,
        })
    }
}

impl Iterator for Spans<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        let mut span = self.next.take().or_else(|| self.find())?;
        while let Some(m) = self.find() {
            if m.start >= span.end {
                self.next = Some(m);
                break;
            }
            span.end = span.end.max(m.end);
            span.open |= m.open;
        }
        Some(span)
    }
}

/// Redacts a body relayed in chunks: the concatenated output equals [`Redactor::redact_bytes`]
/// of the whole body, wherever the chunks are cut.
pub struct StreamRedactor {
    redactor: Redactor,
    /// The kept-back tail of what was pushed: a possible start of a secret.
    pending: Vec<u8>,
}

impl StreamRedactor {
    /// Appends the redacted bytes of `chunk` that are safe to send now to `out`; keeps back only
    /// a tail that could be the start of a secret (so a secret split across chunks is caught).
    /// A chunk ending in bytes that begin no pattern (every SSE event ends in `\n\n`) leaves
    /// whole.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(inner) = self.redactor.shared.inner.as_ref() else {
            out.extend_from_slice(chunk);
            return;
        };
        if self.pending.is_empty() {
            let cut = inner.redact_into(chunk, false, out);
            self.pending.extend_from_slice(&chunk[cut..]);
        } else {
            self.pending.extend_from_slice(chunk);
            let cut = inner.redact_into(&self.pending, false, out);
            self.pending.drain(..cut);
        }
    }

    /// Flushes the kept-back tail at the end of the body.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if let Some(inner) = self.redactor.shared.inner.as_ref() {
            inner.redact_into(&self.pending, true, out);
        }
        self.pending.clear();
    }

    /// How many bytes are kept back now.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

impl fmt::Debug for StreamRedactor {
    // The kept-back tail may be the start of a secret: its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRedactor")
            .field("redactor", &self.redactor)
            .field("pending", &self.pending.len())
            .finish()
    }
}

// The tests live beside the engine they inspect (private fields such as the shared cache).
#[cfg(test)]
#[path = "tests.rs"]
mod tests;
