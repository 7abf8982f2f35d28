//! Reading a client's request body: uncompressed only, within `limits.max_body_bytes`.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use hyper::{HeaderMap, StatusCode};

use super::error::ApiError;

/// Reads a request body up to `limit` bytes (413 past it; checked on `content-length` first
/// so an honest oversized request is refused before we read it).
pub async fn read(headers: &HeaderMap, body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    if let Some(enc) = header_str(headers, CONTENT_ENCODING)
        && !enc.eq_ignore_ascii_case("identity")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            Some("unsupported_content_encoding"),
            format!(
                "request bodies with content-encoding '{enc}' are not supported; send them uncompressed"
            ),
        ));
    }
    let declared = header_str(headers, CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::body_too_large(limit));
    }
    // One buffer, sized from content-length when the client says it (Codex always does), so a
    // large body is not assembled from chunks and copied again.
    let mut buf = Vec::with_capacity(declared.map_or(16 * 1024, |n| n as usize));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request(
                "invalid_body",
                format!("could not read the request body: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(ApiError::body_too_large(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

fn header_str(h: &HeaderMap, name: hyper::header::HeaderName) -> Option<&str> {
    h.get(name)?.to_str().ok().map(str::trim)
}
