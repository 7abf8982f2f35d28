//! The redactor: the one place that knows what a secret looks like in text leaving the daemon.
//!
//! A [`Redactor`] is compiled once per config load from every secret the daemon holds (provider
//! tokens, client keys, the values of `upstream.headers`); a request adds the client's own bearer
//! with [`Redactor::with_extra`]. Every exit (error messages, relayed bodies and headers, the
//! passthrough stream, log lines, control replies) runs its bytes through it, and through it only
//! once, before anything is truncated.
//!
//! What is matched, for each secret of at least [`MIN_SECRET_LEN`] bytes:
//! - the plain text (and so `Bearer X`), including an echo of a long prefix of it (see
//!   [`echo_prefix_len`]);
//! - its JSON string forms: the escapes JSON requires, `\/` for `/`, the HTML-safe escapes, every
//!   character as `\uXXXX`, and non-ASCII characters as `\uXXXX`, hex in either case;
//! - its percent-encodings: every byte as `%XX`, and the forms that keep the RFC 3986 unreserved
//!   characters (alone, with `/`, or with `!'()*`), hex in either case;
//! - base64, standard and URL-safe, padded or not, at each of the three byte alignments inside a
//!   longer base64 string: the run of characters determined by the secret's bytes alone.
//!
//! Every occurrence of any of these is replaced by [`MARKER`]; overlapping occurrences become one
//! marker. Matching is one leftmost-longest Aho-Corasick search whose SIMD prefilter makes text
//! without secrets cost about as much as a `memchr`, and text without a match is returned
//! borrowed, without a copy.
//!
//! [`StreamRedactor`] gives the same output for a body relayed chunk by chunk, however it is cut:
//! it keeps back only a chunk's tail that could still become a match, so an SSE event (which ends
//! in a blank line) leaves at once.

#[doc(hidden)]
pub mod check;
mod engine;
mod forms;
mod writer;

pub use engine::{MARKER, Redactor, StreamRedactor};
pub use forms::{MIN_SECRET_LEN, echo_prefix_len};
pub use writer::RedactingWriter;
