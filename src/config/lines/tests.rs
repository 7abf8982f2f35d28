use super::*;

#[test]
fn key_line_finds_block_flow_and_quoted_keys() {
    let text = "# top\nlisten:\n  host: 0.0.0.0\n  port: 80\nupstream:\n  url: x\n  headers:\n    X-A: b\nmodels:\n  fast: { upstream: local, model: m }\n  \"moonshotai/*\": { upstream: nope }\n  Qwen/Qwen2.5.1:\n    upstream: other\n";
    assert_eq!(key_line(text, &["listen"]), Some(2));
    assert_eq!(key_line(text, &["listen", "port"]), Some(4));
    assert_eq!(key_line(text, &["upstream", "url"]), Some(6));
    assert_eq!(key_line(text, &["upstream", "headers", "X-A"]), Some(8));
    assert_eq!(key_line(text, &["models", "fast", "upstream"]), Some(10));
    assert_eq!(
        key_line(text, &["models", "moonshotai/*", "upstream"]),
        Some(11)
    );
    assert_eq!(
        key_line(text, &["models", "Qwen/Qwen2.5.1", "upstream"]),
        Some(13)
    );
    assert_eq!(key_line(text, &["models", "slow"]), None);
    assert_eq!(key_line(text, &["log", "level"]), None);
    assert_eq!(key_line("", &["listen"]), None);
    assert_eq!(key_line(text, &[]), None);
}
