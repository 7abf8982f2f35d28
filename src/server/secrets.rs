//! Keeping this request's secrets (provider token, forwarded client token, extra header
//! values) out of what we log or relay: provider messages, refusal bodies, logged request
//! bodies. Applied before anything is cut to length, so no fragment of a secret survives.

use crate::config::Upstream;

/// Every secret that could appear in text we log or relay for this request.
pub fn secrets_of(up: &Upstream, bearer: Option<&str>) -> Vec<String> {
    let mut s: Vec<String> = Vec::new();
    if let Some(t) = &up.token {
        s.push(t.expose().to_owned());
    }
    if let Some(b) = bearer {
        s.push(b.to_owned());
    }
    for (_, v) in &up.headers {
        s.push(v.expose().to_owned());
    }
    s.retain(|x| x.len() >= 4);
    s.sort();
    s.dedup();
    s
}

/// Replaces every occurrence of a secret with `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// [`redact`] for a body that is usually free of secrets (returned as it is then).
pub fn redact_bytes(body: Vec<u8>, secrets: &[String]) -> Vec<u8> {
    match std::str::from_utf8(&body) {
        Ok(s) if secrets.iter().any(|x| s.contains(x.as_str())) => redact(s, secrets).into_bytes(),
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_every_occurrence() {
        let s = vec!["sk-secret-123".to_string()];
        assert_eq!(
            redact("bad key sk-secret-123 (sk-secret-123)", &s),
            "bad key *** (***)"
        );
    }
}
