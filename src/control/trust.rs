//! Who may be on the other end of the control socket: only the user who runs us.
//!
//! Two checks, used by both the daemon and `shimctl`:
//! - [`check_dir`], the directory rule (tmux's for `/tmp/tmux-$UID`): the socket's directory
//!   must be a real directory (not a symlink), owned by our effective uid, and closed to group
//!   and other (no bit of `0o077`). Another user who creates `/tmp/deepinfra-shim-$UID/`
//!   first, or plants a symlink there, would otherwise serve `shimctl` a fake daemon.
//! - [`check_peer`]: the uid the kernel reports for the process on the other end
//!   (`SO_PEERCRED` on Linux, `getpeereid` on macOS, through tokio's `UnixStream::peer_cred`)
//!   must be our effective uid. This is the
//!   check that cannot be raced: the directory rule narrows who could bind there, the peer
//!   check proves who did. Root is refused too: a daemon answers only its own user, and
//!   `shimctl` believes only a daemon of its own user.
//!
//! Our effective uid comes from the kernel the same way ([`effective_uid`]: the peer of one
//! end of a socket pair is ourselves), so no unsafe `geteuid` call is needed.

use std::io;
use std::path::{Path, PathBuf};

/// The directory holding the socket at `socket` (`.` for a bare file name).
pub fn socket_dir(socket: &Path) -> PathBuf {
    match socket.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Why a socket directory cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirProblem {
    /// Nothing there (the daemon creates it; `shimctl` knows no daemon runs).
    Missing,
    /// It cannot be examined.
    Unreadable(String),
    /// It fails the rule: the whole message, naming the directory and the fix.
    Unsafe(String),
}

impl std::fmt::Display for DirProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirProblem::Missing => f.write_str("the directory does not exist"),
            DirProblem::Unreadable(m) | DirProblem::Unsafe(m) => f.write_str(m),
        }
    }
}

/// How to get out of a directory that is not ours, whoever we are.
const ELSEWHERE: &str = "or use a socket in a directory of your own (set XDG_RUNTIME_DIR, or \
                         pass the same path to deepinfra-shim --control-socket and shimctl \
                         --socket)";

/// The directory rule: `dir` (not followed if it is a symlink) is a directory owned by `euid`
/// with no permission bit for group or other.
pub fn check_dir(dir: &Path, euid: u32) -> Result<(), DirProblem> {
    use std::os::unix::fs::MetadataExt;
    let shown = dir.display();
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(DirProblem::Missing),
        Err(e) => {
            return Err(DirProblem::Unreadable(format!(
                "cannot examine the control socket directory {shown}: {e}"
            )));
        }
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(dir)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default();
        return Err(DirProblem::Unsafe(format!(
            "the control socket directory {shown} is a symlink{target}, not a directory; \
             someone may have planted it to pose as the daemon. Remove it (`rm {shown}`) and \
             start the daemon again, {ELSEWHERE}"
        )));
    }
    if !meta.is_dir() {
        return Err(DirProblem::Unsafe(format!(
            "the control socket directory {shown} is not a directory; remove it and start the \
             daemon again, {ELSEWHERE}"
        )));
    }
    if meta.uid() != euid {
        return Err(DirProblem::Unsafe(format!(
            "the control socket directory {shown} belongs to uid {}, not to you (uid {euid}); \
             another user may have created it to pose as the daemon. Have it removed (`rm -r \
             {shown}`, as its owner or root) and start the daemon again, {ELSEWHERE}",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(DirProblem::Unsafe(format!(
            "the control socket directory {shown} is open to other users (mode {mode:04o}); \
             only you may enter it: run `chmod 700 {shown}`"
        )));
    }
    Ok(())
}

/// Our effective uid, as the kernel reports it for a socket we hold: the peer of one end of a
/// fresh socket pair is this process. Needs a tokio runtime (both ends of the control socket
/// run in one).
pub fn effective_uid() -> io::Result<u32> {
    let (a, _b) = tokio::net::UnixStream::pair()?;
    Ok(a.peer_cred()?.uid())
}

/// The peer's uid and pid on `stream`, from tokio's `peer_cred` on the Unix stream inside
/// the local socket. (Not `interprocess`' own `peer_creds`: on Linux it fails when the peer's
/// pid is not visible, as for a client outside the daemon's pid namespace, although the uid is
/// known.)
pub fn peer(stream: &interprocess::local_socket::tokio::Stream) -> io::Result<(u32, Option<i32>)> {
    let interprocess::local_socket::tokio::Stream::UdSocket(s) = stream;
    let cred = s.inner().peer_cred()?;
    Ok((cred.uid(), cred.pid()))
}

/// The peer's uid on `stream`, or why it cannot be known.
pub fn peer_uid(stream: &interprocess::local_socket::tokio::Stream) -> io::Result<u32> {
    peer(stream).map(|(uid, _)| uid)
}

/// Ok when `peer` (the uid on the other end) is `me`; else why not, in words for `shimctl`.
pub fn check_peer(peer: io::Result<u32>, me: u32) -> Result<(), String> {
    match peer {
        Ok(uid) if uid == me => Ok(()),
        Ok(uid) => Err(format!(
            "it is served by uid {uid}, not by you (uid {me}): another user may be posing as \
             the daemon, so nothing was sent. Find out who owns it (`ls -ln` on the socket), \
             have it removed, {ELSEWHERE}"
        )),
        Err(e) => Err(format!(
            "cannot tell who serves it ({e}), so nothing was sent; {ELSEWHERE}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn unsafe_message(r: Result<(), DirProblem>) -> String {
        match r {
            Err(DirProblem::Unsafe(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_private_directory_of_ours_passes() {
        let t = tempfile::tempdir().unwrap();
        let me = std::fs::metadata(t.path()).unwrap().uid();
        chmod(t.path(), 0o700);
        assert_eq!(check_dir(t.path(), me), Ok(()));
        // Fewer bits for ourselves are our business, not a risk.
        chmod(t.path(), 0o500);
        assert_eq!(check_dir(t.path(), me), Ok(()));
        chmod(t.path(), 0o700);
    }

    #[test]
    fn any_group_or_other_bit_is_refused_with_the_chmod_that_fixes_it() {
        let t = tempfile::tempdir().unwrap();
        let me = std::fs::metadata(t.path()).unwrap().uid();
        for mode in [0o755, 0o750, 0o701, 0o710, 0o770, 0o1777, 0o720] {
            chmod(t.path(), mode);
            let m = unsafe_message(check_dir(t.path(), me));
            assert!(m.contains(&t.path().display().to_string()), "{m}");
            assert!(m.contains(&format!("mode {mode:04o}")), "{m}");
            assert!(
                m.contains(&format!("chmod 700 {}", t.path().display())),
                "{m}"
            );
        }
        chmod(t.path(), 0o700);
    }

    #[test]
    fn another_owner_is_refused_even_root() {
        let t = tempfile::tempdir().unwrap();
        let owner = std::fs::metadata(t.path()).unwrap().uid();
        chmod(t.path(), 0o700);
        let m = unsafe_message(check_dir(t.path(), owner.wrapping_add(1)));
        assert!(m.contains(&format!("belongs to uid {owner}")), "{m}");
        assert!(m.contains("rm -r"), "{m}");
        assert!(m.contains("XDG_RUNTIME_DIR"), "{m}");
    }

    #[test]
    fn a_symlink_is_refused_even_to_a_good_directory() {
        let t = tempfile::tempdir().unwrap();
        let me = std::fs::metadata(t.path()).unwrap().uid();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        chmod(&real, 0o700);
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let m = unsafe_message(check_dir(&link, me));
        assert!(m.contains("is a symlink"), "{m}");
        assert!(m.contains(&real.display().to_string()), "{m}");
        assert!(m.contains(&format!("rm {}", link.display())), "{m}");
    }

    #[test]
    fn missing_and_not_a_directory() {
        let t = tempfile::tempdir().unwrap();
        let me = std::fs::metadata(t.path()).unwrap().uid();
        assert_eq!(
            check_dir(&t.path().join("nope"), me),
            Err(DirProblem::Missing)
        );
        let f = t.path().join("file");
        std::fs::write(&f, "").unwrap();
        chmod(&f, 0o600);
        assert!(unsafe_message(check_dir(&f, me)).contains("is not a directory"));
    }

    #[test]
    fn socket_dir_of_bare_and_nested_names() {
        assert_eq!(socket_dir(Path::new("c.sock")), PathBuf::from("."));
        assert_eq!(
            socket_dir(Path::new("/run/x/c.sock")),
            PathBuf::from("/run/x")
        );
    }

    #[tokio::test]
    async fn effective_uid_is_the_owner_of_what_we_create() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("mine");
        std::fs::write(&f, "").unwrap();
        let owner = std::fs::metadata(&f).unwrap().uid();
        assert_eq!(effective_uid().unwrap(), owner);
    }

    #[test]
    fn peer_rule() {
        assert_eq!(check_peer(Ok(1000), 1000), Ok(()));
        let m = check_peer(Ok(0), 1000).unwrap_err();
        assert!(m.contains("uid 0, not by you (uid 1000)"), "{m}");
        assert!(m.contains("nothing was sent"), "{m}");
        let m = check_peer(Err(io::Error::other("nope")), 1000).unwrap_err();
        assert!(m.contains("cannot tell who serves it"), "{m}");
    }
}
