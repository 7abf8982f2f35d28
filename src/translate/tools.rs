//! The table from chat "wire" function names back to Codex tool identities.
//!
//! Chat providers only know flat function names matching `^[A-Za-z0-9_-]{1,64}$`. Codex has
//! plain functions, freeform `custom` tools, a `tool_search` tool and `namespace` containers
//! (MCP servers, sub-agents) whose inner tools must come back as `namespace` + inner `name`.
//! The table is built per request (from `tools` plus every `tool_search_output` in the input)
//! and is used twice: to encode replayed history with the same wire names the tools were
//! offered under, and to rebuild the upstream's calls into the item type Codex expects.
//!
//! Names are deterministic: the same (namespace, name) always gets the same wire name, so a
//! call recorded in history maps to the same name even if the tool is no longer offered.
//! We never split on `__` to recover a namespace (MCP namespaces contain `__`); the table is
//! the only way back.

use std::collections::HashMap;

/// Longest function name providers accept.
pub const MAX_WIRE_NAME: usize = 64;

/// What kind of Codex item a call to this tool must become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    /// `function_call` with a JSON string `arguments`.
    Function,
    /// `custom_tool_call` with raw `input` (freeform tools such as `apply_patch`).
    Custom,
    /// `tool_search_call` with `arguments` as a JSON object.
    ToolSearch,
}

/// A Codex tool identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolEntry {
    pub namespace: Option<String>,
    pub name: String,
    pub kind: ToolKind,
}

/// Wire name -> tool identity, plus the reverse for encoding history.
#[derive(Debug, Clone, Default)]
pub struct ToolTable {
    by_wire: HashMap<String, ToolEntry>,
    by_identity: HashMap<(Option<String>, String), String>,
}

impl ToolTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a tool and returns its wire name. Registering the same identity twice returns
    /// the same name (the kind of the first registration wins).
    pub fn register(&mut self, namespace: Option<&str>, name: &str, kind: ToolKind) -> String {
        let key = (namespace.map(str::to_owned), name.to_owned());
        if let Some(wire) = self.by_identity.get(&key) {
            return wire.clone();
        }
        let mut wire = wire_name(namespace, name);
        if self.by_wire.contains_key(&wire) {
            // A different identity already took this name (e.g. a plain function literally
            // called `ns__tool` next to namespace `ns` with tool `tool`): fall back to the
            // hashed form of the qualified name, which differs by construction.
            wire = fold(&qualified(namespace, name), true);
        }
        self.by_wire.insert(
            wire.clone(),
            ToolEntry {
                namespace: key.0.clone(),
                name: key.1.clone(),
                kind,
            },
        );
        self.by_identity.insert(key, wire.clone());
        wire
    }

    /// The tool a wire name stands for, if it was registered in this request.
    pub fn lookup(&self, wire: &str) -> Option<&ToolEntry> {
        self.by_wire.get(wire)
    }

    /// The wire name for a tool seen in history: the registered one, or the deterministic
    /// name when the tool is not offered in this request.
    pub fn wire_for(&self, namespace: Option<&str>, name: &str) -> String {
        let key = (namespace.map(str::to_owned), name.to_owned());
        match self.by_identity.get(&key) {
            Some(wire) => wire.clone(),
            None => wire_name(namespace, name),
        }
    }

    pub fn len(&self) -> usize {
        self.by_wire.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_wire.is_empty()
    }
}

/// True when providers accept `name` as a function name as is.
pub fn is_valid_wire_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_WIRE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The deterministic wire name of a tool identity.
pub fn wire_name(namespace: Option<&str>, name: &str) -> String {
    let q = qualified(namespace, name);
    if is_valid_wire_name(&q) {
        q
    } else {
        fold(&q, false)
    }
}

fn qualified(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}__{name}"),
        None => name.to_owned(),
    }
}

/// A valid wire name for any string: invalid characters become `_`, and the tail is a stable
/// hash of the original so different inputs stay different after truncation.
fn fold(original: &str, salted: bool) -> String {
    let mut hash = fnv1a64(original.as_bytes());
    if salted {
        hash = fnv1a64(&hash.to_le_bytes()) ^ 0x9e37_79b9_7f4a_7c15;
    }
    let suffix = format!("_{hash:016x}");
    let keep = MAX_WIRE_NAME - suffix.len();
    let mut out: String = original
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(keep)
        .collect();
    out.push_str(&suffix);
    out
}

/// FNV-1a: tiny, stable across Rust versions and platforms (unlike `DefaultHasher`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_valid_names_pass_through() {
        let mut t = ToolTable::new();
        assert_eq!(
            t.register(None, "exec_command", ToolKind::Function),
            "exec_command"
        );
        assert_eq!(t.lookup("exec_command").unwrap().kind, ToolKind::Function);
    }

    #[test]
    fn namespaced_names_are_reversible_through_the_table_not_by_splitting() {
        let mut t = ToolTable::new();
        let w = t.register(Some("mcp__echo_srv"), "say__it", ToolKind::Function);
        assert_eq!(w, "mcp__echo_srv__say__it");
        let e = t.lookup(&w).unwrap();
        assert_eq!(e.namespace.as_deref(), Some("mcp__echo_srv"));
        assert_eq!(e.name, "say__it");
    }

    #[test]
    fn long_and_invalid_names_fold_to_valid_unique_names() {
        let mut t = ToolTable::new();
        let long_ns = "mcp__".to_string() + &"x".repeat(70);
        let a = t.register(Some(&long_ns), "read", ToolKind::Function);
        let b = t.register(Some(&long_ns), "write", ToolKind::Function);
        let c = t.register(Some("clock"), "what time?", ToolKind::Function);
        for w in [&a, &b, &c] {
            assert!(is_valid_wire_name(w), "{w}");
        }
        assert_ne!(a, b);
        assert_eq!(t.lookup(&b).unwrap().name, "write");
        // Deterministic: the same identity folds to the same name in another request.
        assert_eq!(wire_name(Some(&long_ns), "read"), a);
    }

    #[test]
    fn collisions_between_identities_get_distinct_names() {
        let mut t = ToolTable::new();
        let a = t.register(None, "ns__tool", ToolKind::Function);
        let b = t.register(Some("ns"), "tool", ToolKind::Function);
        assert_ne!(a, b);
        assert!(is_valid_wire_name(&b));
        assert_eq!(t.lookup(&b).unwrap().namespace.as_deref(), Some("ns"));
        assert_eq!(t.wire_for(Some("ns"), "tool"), b);
    }
}
