//! Keeping web pages out (docs/security.md#web-pages). A page in the user's browser can reach
//! a loopback port: by DNS rebinding (its own name, `attacker.example`, made to resolve to
//! 127.0.0.1, so the browser sends `Host: attacker.example` and lets the page read the reply)
//! or by a cross-site "simple" request (a form or `fetch(..., {mode: "no-cors"})` POST with
//! `Content-Type: text/plain`, which needs no CORS preflight). Every request passes [`check`]
//! before anything else runs, `/health` and `/metrics` included:
//!
//! - **`Host`** must name the listen address: `localhost`, a loopback IP (`127.0.0.0/8`,
//!   `[::1]`), the configured `listen.host`, or an entry of `listen.allowed_hosts`; any port
//!   (the name is what a rebinding page controls, not the port). `*.localhost` is not served
//!   unless listed: Codex never sends it and a resolver that does not special-case it would
//!   ask DNS. A request without `Host` (HTTP/1.0) is served: every browser sends one, so its
//!   absence proves no page made the request. With client keys (`listen.client_keys_env`) a
//!   request with a valid key is served under any `Host`: the daemon is then a deliberate
//!   network service and the key, which no page knows, is the defence.
//! - **`Origin`**: browsers send it on every cross-origin request and every POST, so a request
//!   that carries one is refused unless that exact origin is in `listen.allowed_origins`
//!   (then the reply carries the CORS headers that let that page read it; see [`preflight`]).
//!   A request without `Origin` that a browser marks `Sec-Fetch-Site: cross-site` or
//!   `same-site` (an `<img>` or `<script>` GET) is refused too. Codex sends neither header.
//! - **`Content-Type`** of a POST must be `application/json` (parameters allowed): the
//!   one type a page cannot send cross-site without a preflight that [`check`] refuses.
//!
//! Only `cfg.listen` is read, which a reload never changes (src/config/diff.rs
//! `keep_running`): what is allowed is what the listener was started with.

use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CONTENT_TYPE, HOST, HeaderValue, ORIGIN, VARY,
};
use hyper::{HeaderMap, Method, Response, StatusCode, Uri};

use super::body::ShimBody;
use super::error::ApiError;
use crate::config::Listen;

/// Set by browsers on every request: whether the page that made it is of the same origin.
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// Longest piece of a refused `Host` or `Origin` quoted in the reply and the log line.
const MAX_SHOWN: usize = 80;

/// A request the guard lets through.
#[derive(Debug, Default)]
pub struct Pass {
    /// The request's `Origin`, listed in `listen.allowed_origins`: the reply must name it in
    /// `Access-Control-Allow-Origin` for the page to read it.
    pub cors_origin: Option<HeaderValue>,
}

impl Pass {
    /// Adds the CORS headers an allowed origin needs to read `resp`.
    pub fn decorate(&self, resp: &mut Response<ShimBody>) {
        if let Some(origin) = &self.cors_origin {
            let h = resp.headers_mut();
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            h.append(VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// Lets the request through, or says why not (403, or 415 for the content type).
/// `keyed` is true when the request carried a valid client key (`listen.client_keys_env`
/// set): then any `Host` is served.
pub fn check(
    listen: &Listen,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    keyed: bool,
) -> Result<Pass, ApiError> {
    let cors_origin = check_origin(listen, headers)?;
    if !keyed {
        check_host(listen, uri, headers)?;
    }
    if method == Method::POST {
        check_content_type(headers)?;
    }
    Ok(Pass { cors_origin })
}

/// The reply to a CORS preflight (`OPTIONS` from an allowed origin): the methods and request
/// headers Codex-like clients use, cached by the browser for 10 minutes.
pub fn preflight(pass: &Pass) -> Response<ShimBody> {
    let mut resp = Response::new(ShimBody::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST"),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, x-request-id"),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    pass.decorate(&mut resp);
    resp
}

fn check_origin(listen: &Listen, headers: &HeaderMap) -> Result<Option<HeaderValue>, ApiError> {
    let mut origins = headers.get_all(ORIGIN).iter();
    let Some(origin) = origins.next() else {
        return check_fetch_site(headers).map(|()| None);
    };
    let listed = origins.next().is_none()
        && origin.to_str().is_ok_and(|o| {
            listen
                .allowed_origins
                .iter()
                .any(|a| a.eq_ignore_ascii_case(o))
        });
    if listed {
        Ok(Some(origin.clone()))
    } else {
        Err(forbidden(
            "origin_not_allowed",
            format!(
                "requests from web pages are refused: Origin {} is not in listen.allowed_origins \
                 (list it there, as scheme://host[:port], to let that page use the daemon)",
                shown(origin.as_bytes())
            ),
        ))
    }
}

/// A cross-site `GET` in `no-cors` mode (`<img src>`, `<script src>`) carries no `Origin`,
/// but current browsers mark it `Sec-Fetch-Site: cross-site` (or `same-site`). Without an
/// `Origin` to look up, such a request is refused: no listed page needs it (a `fetch` in
/// `cors` mode sends `Origin`). `same-origin` and `none` (the user typed the address) pass.
fn check_fetch_site(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(site) = headers.get(SEC_FETCH_SITE) else {
        return Ok(());
    };
    let b = site.as_bytes();
    if b.eq_ignore_ascii_case(b"same-origin") || b.eq_ignore_ascii_case(b"none") {
        return Ok(());
    }
    Err(forbidden(
        "origin_not_allowed",
        format!(
            "requests from web pages are refused: this one is Sec-Fetch-Site {} and names no \
             Origin (a page listed in listen.allowed_origins must send its Origin, as fetch in \
             cors mode does)",
            shown(b)
        ),
    ))
}

fn check_host(listen: &Listen, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let mut hosts = headers.get_all(HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(host_refused(listen, b"(more than one Host header)"));
    }
    // An absolute-form request line (`POST http://name/... HTTP/1.1`) names a host too, and
    // takes precedence over `Host` (RFC 9112 §3.2.2): both must pass.
    if let Some(authority) = uri.authority()
        && !host_allowed(listen, authority.as_str().as_bytes())
    {
        return Err(host_refused(listen, authority.as_str().as_bytes()));
    }
    match first {
        Some(v) if !host_allowed(listen, v.as_bytes()) => Err(host_refused(listen, v.as_bytes())),
        _ => Ok(()),
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let mut types = headers.get_all(CONTENT_TYPE).iter();
    let first = types.next();
    let json = types.next().is_none() && first.is_some_and(|v| is_json(v.as_bytes()));
    if json {
        return Ok(());
    }
    let got = first.map_or_else(|| "none".to_owned(), |v| shown(v.as_bytes()));
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "invalid_request_error",
        Some("unsupported_media_type"),
        format!(
            "POST bodies must be sent with Content-Type: application/json (got {got}); other \
             types are what a web page can send cross-site, so no setting allows them"
        ),
    ))
}

/// `application/json`, any case, optionally followed by `;` and parameters.
fn is_json(v: &[u8]) -> bool {
    let media = v.split(|&b| b == b';').next().unwrap_or(v);
    media.trim_ascii().eq_ignore_ascii_case(b"application/json")
}

/// A `Host` value (`name`, `name:port`, `[v6]`, `[v6]:port`) split into its lowercased name
/// (without brackets) and its port; `None` when it is not one.
fn split_host(v: &[u8]) -> Option<(String, Option<&str>)> {
    let v = std::str::from_utf8(v).ok()?.trim();
    let (name, port) = match v.strip_prefix('[') {
        Some(r) => {
            let (ip, after) = r.split_once(']')?;
            ip.parse::<std::net::Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                a => Some(a.strip_prefix(':')?),
            };
            (ip, port)
        }
        None => match v.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (v, None),
        },
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    (name_ok && port_ok).then(|| (name.to_ascii_lowercase(), port))
}

fn host_allowed(listen: &Listen, v: &[u8]) -> bool {
    let Some((name, port)) = split_host(v) else {
        return false;
    };
    if name == "localhost" || is_loopback_ip(&name) {
        return true;
    }
    let configured = listen.host.trim_start_matches('[').trim_end_matches(']');
    if name.eq_ignore_ascii_case(configured) {
        return true;
    }
    listen.allowed_hosts.iter().any(|entry| {
        split_host(entry.as_bytes()).is_some_and(|(n, p)| n == name && (p.is_none() || p == port))
    })
}

fn is_loopback_ip(name: &str) -> bool {
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn host_refused(listen: &Listen, v: &[u8]) -> ApiError {
    let keys = if listen.client_keys_env.is_some() {
        ", or send a valid client key (listen.client_keys_env)"
    } else {
        ""
    };
    forbidden(
        "host_not_allowed",
        format!(
            "Host {} does not name this daemon's listen address (a web page using DNS \
             rebinding sends such a Host): to serve it, add it to listen.allowed_hosts{keys}",
            shown(v)
        ),
    )
}

fn forbidden(code: &str, message: String) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "permission_error",
        Some(code),
        message,
    )
}

/// A header value as quoted in a refusal: at most [`MAX_SHOWN`] characters, control
/// characters escaped, so the log line stays one short line.
fn shown(v: &[u8]) -> String {
    let text = String::from_utf8_lossy(v);
    let mut out: String = text.chars().take(MAX_SHOWN).collect();
    let cut = out.len() < text.len();
    out = format!("'{}'", out.escape_debug());
    if cut {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
