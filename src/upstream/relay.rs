//! A reply handed on as it is (the passthrough endpoints).
//!
//! Only the headers a client needs are kept: the content type, and `Retry-After` when it is
//! what RFC 9110 allows (delta-seconds or an HTTP date). Anything else in `Retry-After` is
//! provider text in a header, which could carry an echoed secret, and is dropped. The body is
//! redacted by the handler that relays it.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};

use super::body::UpstreamStream;
use crate::config::Upstream;

/// A provider's reply with the headers a client of the passthrough may need.
pub struct Relayed {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    /// Present only when it is a number of seconds or an HTTP date (`is_retry_after`).
    pub retry_after: Option<HeaderValue>,
    pub body: UpstreamStream,
}

impl Relayed {
    pub(super) fn new(resp: reqwest::Response, up: &Upstream) -> Self {
        let h = resp.headers();
        Relayed {
            status: resp.status(),
            content_type: h.get(CONTENT_TYPE).cloned(),
            retry_after: h.get(RETRY_AFTER).filter(|v| is_retry_after(v)).cloned(),
            body: UpstreamStream::new(resp, &up.url, up.timeout),
        }
    }
}

/// Whether `v` is a `Retry-After` value RFC 9110 allows: delta-seconds (digits) or an HTTP
/// date in one of its three formats. Only the shape is checked: a shape that holds nothing but
/// digits, names of days and months, and fixed punctuation cannot carry a secret.
pub fn is_retry_after(v: &HeaderValue) -> bool {
    let Ok(v) = v.to_str() else {
        return false;
    };
    let v = v.trim();
    if !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    is_imf_fixdate(v) || is_rfc850_date(v) || is_asctime_date(v)
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// `HH:MM:SS`.
fn is_time(s: &str) -> bool {
    let mut parts = s.split(':');
    let ok = (0..3).all(|_| parts.next().is_some_and(|p| digits(p, 2)));
    ok && parts.next().is_none()
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (the preferred format).
fn is_imf_fixdate(v: &str) -> bool {
    let f: Vec<&str> = v.split(' ').collect();
    matches!(f.as_slice(), [day, dd, mon, yyyy, time, "GMT"]
        if day.strip_suffix(',').is_some_and(|d| DAYS.contains(&d))
            && digits(dd, 2)
            && MONTHS.contains(mon)
            && digits(yyyy, 4)
            && is_time(time))
}

/// `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete RFC 850).
fn is_rfc850_date(v: &str) -> bool {
    let f: Vec<&str> = v.split(' ').collect();
    let [day, date, time, "GMT"] = f.as_slice() else {
        return false;
    };
    let d: Vec<&str> = date.split('-').collect();
    day.strip_suffix(',')
        .is_some_and(|d| LONG_DAYS.contains(&d))
        && matches!(d.as_slice(), [dd, mon, yy] if digits(dd, 2) && MONTHS.contains(mon) && digits(yy, 2))
        && is_time(time)
}

/// `Sun Nov  6 08:49:37 1994` (obsolete asctime; a one-digit day is space-padded).
fn is_asctime_date(v: &str) -> bool {
    let f: Vec<&str> = v.split(' ').filter(|p| !p.is_empty()).collect();
    matches!(f.as_slice(), [day, mon, d, time, yyyy]
        if DAYS.contains(day)
            && MONTHS.contains(mon)
            && (digits(d, 1) || digits(d, 2))
            && is_time(time)
            && digits(yyyy, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &str) -> bool {
        is_retry_after(&HeaderValue::from_str(v).unwrap())
    }

    #[test]
    fn numbers_and_http_dates_are_relayed() {
        for v in [
            "7",
            " 120 ",
            "0",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert!(ok(v), "{v:?}");
        }
    }

    #[test]
    fn anything_else_is_dropped() {
        for v in [
            "",
            "garbage",
            "7 seconds",
            "1.5",
            "-1",
            "99999999999",
            "Bearer sk-0123456789abcdef",
            "Sun, 06 Nov 1994 08:49:37 sk-secret",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
        ] {
            assert!(!ok(v), "{v:?}");
        }
    }
}
