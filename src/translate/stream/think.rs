//! The `<think>` splitter: tells reasoning from answer text when a provider sends both in
//! `content` (docs/protocol.md#think-tags).
//!
//! Only a `<think>` at the very start of the content (after whitespace) opens a reasoning
//! block, so text is held back only while everything seen so far could still be a prefix of
//! `<think>` (usually one chunk at most). The R1-distill form, where the template already
//! opened the block and only `</think>` appears, cannot be told apart from an answer that
//! mentions `</think>` without holding back the whole answer; it is passed through as plain
//! text.

const THINK_OPEN: &str = "<think>";
const THINK_CLOSE: &str = "</think>";

/// A piece of content, sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Piece<'s> {
    Reasoning(&'s str),
    Text(&'s str),
}

/// Where `content` text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing shown yet: `pending` holds content that may still become `<think>`.
    Detect,
    /// Inside `<think>`: content is reasoning; `pending` holds a tail that may be the start
    /// of `</think>` or whitespace that must not end the reasoning text.
    Think { started: bool },
    /// Right after `</think>`: whitespace before the answer is dropped.
    AfterThink,
    /// Plain text.
    Text,
}

#[derive(Debug)]
pub(super) struct ThinkSplitter {
    mode: Mode,
    pending: String,
}

impl ThinkSplitter {
    pub(super) fn new() -> Self {
        ThinkSplitter {
            mode: Mode::Detect,
            pending: String::new(),
        }
    }

    /// True while some content is held back.
    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Sorts `s` (the next piece of `content`) and hands what can be shown to `emit`, in order.
    /// Pieces may be empty; the deltas given out add up to the final texts.
    pub(super) fn push(&mut self, s: &str, emit: &mut impl FnMut(Piece<'_>)) {
        if s.is_empty() {
            return;
        }
        match self.mode {
            Mode::Text => emit(Piece::Text(s)),
            Mode::Detect => {
                self.pending.push_str(s);
                let trimmed = self.pending.trim_start();
                if let Some(rest) = trimmed.strip_prefix(THINK_OPEN) {
                    let rest = rest.to_owned();
                    self.pending.clear();
                    self.mode = Mode::Think { started: false };
                    self.push(&rest, emit);
                } else if !THINK_OPEN.starts_with(trimmed) {
                    self.mode = Mode::Text;
                    emit(Piece::Text(&self.pending));
                    self.pending.clear();
                }
                // Otherwise (empty, whitespace, or a prefix such as "<thi"): keep waiting.
            }
            Mode::Think { started } => {
                let s = if started { s } else { s.trim_start() };
                if s.is_empty() {
                    return;
                }
                self.mode = Mode::Think { started: true };
                self.pending.push_str(s);
                if let Some(at) = self.pending.find(THINK_CLOSE) {
                    let after = self.pending[at + THINK_CLOSE.len()..].to_owned();
                    emit(Piece::Reasoning(self.pending[..at].trim_end()));
                    self.pending.clear();
                    self.mode = Mode::AfterThink;
                    self.push(&after, emit);
                } else {
                    // Hold back what may be the start of `</think>` and trailing whitespace
                    // (trimmed when the block closes), so the deltas add up to the final text.
                    let keep = partial_suffix(&self.pending, THINK_CLOSE);
                    let cut = self.pending[..self.pending.len() - keep].trim_end().len();
                    if cut > 0 {
                        emit(Piece::Reasoning(&self.pending[..cut]));
                        self.pending.drain(..cut);
                    }
                }
            }
            Mode::AfterThink => {
                let rest = s.trim_start();
                if !rest.is_empty() {
                    self.mode = Mode::Text;
                    emit(Piece::Text(rest));
                }
            }
        }
    }

    /// Releases what is held back (the upstream finished).
    pub(super) fn flush(&mut self, emit: &mut impl FnMut(Piece<'_>)) {
        match self.mode {
            Mode::Detect => {
                self.mode = Mode::Text;
                emit(Piece::Text(&self.pending));
            }
            Mode::Think { .. } => emit(Piece::Reasoning(self.pending.trim_end())),
            Mode::AfterThink | Mode::Text => {}
        }
        self.pending.clear();
    }
}

/// The length of the longest proper prefix of `pat` that `s` ends with.
fn partial_suffix(s: &str, pat: &str) -> usize {
    let (s, pat) = (s.as_bytes(), pat.as_bytes());
    (1..pat.len().min(s.len() + 1))
        .rev()
        .find(|&n| s.ends_with(&pat[..n]))
        .unwrap_or(0)
}
