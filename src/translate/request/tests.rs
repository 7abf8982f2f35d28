//! Request translation tests. Bodies are shaped like Codex's (docs/protocol.md#request,
//! #input-items, #tools).

use serde_json::{Value, json};

use super::*;
use crate::translate::options::{ImagePolicy, ReasoningPolicy};
use crate::translate::reasoning;
use crate::translate::tools::{ToolKind, is_valid_wire_name, wire_name};

const MODEL: &str = "deepseek-ai/DeepSeek-V4-Flash";

fn opts() -> TranslateOptions {
    TranslateOptions::for_model("upstream/model")
}

/// Translates a JSON body and returns the chat body as a value plus the result.
fn run_with(body: Value, o: &TranslateOptions) -> (Value, TranslatedRequest) {
    let bytes = serde_json::to_vec(&body).unwrap();
    let req = parse_request(&bytes).expect("parses");
    let tr = translate_request(&req, o).expect("translates");
    let v: Value = serde_json::from_slice(&tr.body).expect("chat body is JSON");
    assert_chat_valid(&v);
    (v, tr)
}

fn run(body: Value) -> Value {
    run_with(body, &opts()).0
}

fn translate_err(body: Value) -> TranslateError {
    let bytes = serde_json::to_vec(&body).unwrap();
    let req = parse_request(&bytes).expect("parses");
    translate_request(&req, &opts()).expect_err("must fail")
}

fn request(input: Value) -> Value {
    json!({"model": MODEL, "stream": true, "input": input, "tools": tool_defs(),
           "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {"summary": "auto"},
           "store": false, "include": ["reasoning.encrypted_content"],
           "prompt_cache_key": "thread-1", "client_metadata": {"session_id": "s"}})
}

fn tool_defs() -> Value {
    json!([
        {"type":"function","name":"exec_command","description":"Runs a command","strict":false,
         "parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}},
        {"type":"function","name":"view_image","description":"View an image","strict":false,
         "parameters":{"type":"object","properties":{"path":{"type":"string"}}}},
        {"type":"web_search","external_web_access":false}
    ])
}

fn dev(text: &str) -> Value {
    json!({"type":"message","id":"msg_d","role":"developer","content":[{"type":"input_text","text":text}]})
}
fn user(text: &str) -> Value {
    json!({"type":"message","id":"msg_u","role":"user","content":[{"type":"input_text","text":text}]})
}
fn assistant(text: &str) -> Value {
    json!({"type":"message","id":"msg_a","role":"assistant","status":"completed",
           "content":[{"type":"output_text","text":text,"annotations":[]}],"phase":"commentary"})
}
fn call(id: &str, name: &str, args: &str) -> Value {
    json!({"type":"function_call","id":"fc_1","status":"completed","name":name,"arguments":args,"call_id":id})
}
fn output(id: &str, out: Value) -> Value {
    json!({"type":"function_call_output","id":"fco_1","call_id":id,"output":out})
}
fn reasoning_item(encrypted: Option<&str>, content: Option<&str>, summary: Option<&str>) -> Value {
    json!({"type":"reasoning","id":"rs_1",
           "summary": summary.map_or(json!([]), |s| json!([{"type":"summary_text","text":s}])),
           "content": content.map_or(Value::Null, |c| json!([{"type":"reasoning_text","text":c}])),
           "encrypted_content": encrypted})
}

fn messages(v: &Value) -> &Vec<Value> {
    v["messages"].as_array().unwrap()
}

fn roles(v: &Value) -> Vec<&str> {
    messages(v)
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect()
}

/// The chat rules providers enforce: roles are known, `system` only first, every assistant
/// `tool_calls` is followed directly by exactly one tool message per call id, tool messages
/// appear nowhere else, tool content is a string, arguments are strings, names are valid, and
/// no empty `reasoning_content`.
fn assert_chat_valid(v: &Value) {
    let msgs = messages(v);
    assert!(!msgs.is_empty(), "no messages");
    let mut i = 0;
    while i < msgs.len() {
        let m = &msgs[i];
        let role = m["role"].as_str().expect("role");
        assert!(
            matches!(role, "system" | "user" | "assistant"),
            "message {i}: unexpected role {role} here: {v}"
        );
        assert!(m.get("content").is_some(), "message {i} has no content");
        if role == "system" {
            assert_eq!(i, 0, "system message not first");
        }
        if let Some(rc) = m.get("reasoning_content") {
            assert!(
                rc.as_str().is_some_and(|s| !s.is_empty()),
                "empty reasoning_content"
            );
        }
        i += 1;
        if role == "assistant" {
            if let Some(calls) = m.get("tool_calls") {
                let calls = calls.as_array().expect("tool_calls array");
                assert!(!calls.is_empty());
                let mut ids: Vec<&str> = Vec::new();
                for c in calls {
                    assert_eq!(c["type"], "function");
                    let name = c["function"]["name"].as_str().unwrap();
                    assert!(is_valid_wire_name(name), "bad name {name}");
                    assert!(
                        c["function"]["arguments"].is_string(),
                        "arguments not a string"
                    );
                    ids.push(c["id"].as_str().unwrap());
                }
                for id in ids {
                    let t = msgs
                        .get(i)
                        .unwrap_or_else(|| panic!("no tool reply for {id}"));
                    assert_eq!(
                        t["role"], "tool",
                        "call {id} not followed by its tool message"
                    );
                    assert_eq!(t["tool_call_id"], id, "tool messages out of call order");
                    assert!(t["content"].is_string(), "tool content must be a string");
                    i += 1;
                }
            } else {
                assert!(
                    m["content"].is_string(),
                    "assistant without calls needs content"
                );
            }
        }
    }
    if let Some(tools) = v.get("tools") {
        for t in tools.as_array().unwrap() {
            assert_eq!(t["type"], "function");
            assert!(is_valid_wire_name(t["function"]["name"].as_str().unwrap()));
            assert!(t["function"]["parameters"].is_object());
        }
    }
}

#[test]
fn first_request_becomes_one_system_and_two_users() {
    let body = request(json!([
        dev("<base prompt>"),
        {"type":"message","id":"msg_2","role":"developer","content":[
            {"type":"input_text","text":"<skills>"},{"type":"input_text","text":"<permissions>"}]},
        user("<environment_context>…</environment_context>"),
        user("Run echo hi"),
    ]));
    let (v, tr) = run_with(body, &opts());
    assert_eq!(roles(&v), ["system", "user", "user"]);
    assert_eq!(
        v["messages"][0]["content"],
        "<base prompt>\n\n<skills>\n\n<permissions>"
    );
    assert_eq!(
        v["messages"][1]["content"],
        "<environment_context>…</environment_context>"
    );
    assert_eq!(v["messages"][2]["content"], "Run echo hi");
    let text = String::from_utf8(tr.body.clone()).unwrap();
    assert!(!text.contains("developer"), "developer role leaked: {text}");
    for dropped in [
        "store",
        "include",
        "client_metadata",
        "parallel_tool_calls",
        "reasoning_effort",
        "reasoning",
        "input",
        "instructions",
    ] {
        assert!(v.get(dropped).is_none(), "{dropped} must not be sent");
    }
    assert_eq!(v["model"], "upstream/model");
    assert_eq!(v["stream"], true);
    assert_eq!(v["stream_options"], json!({"include_usage": true}));
    assert_eq!(v["prompt_cache_key"], "thread-1");
    assert_eq!(v["tool_choice"], "auto");
    // web_search is hosted: dropped; strict dropped; parameters byte-identical.
    let tools = v["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2);
    assert_eq!(
        tools[0],
        json!({"type":"function","function":{"name":"exec_command","description":"Runs a command",
               "parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}}})
    );
    assert_eq!(
        tr.tools.lookup("exec_command").unwrap().kind,
        ToolKind::Function
    );
    assert_eq!(tr.shape.roles, ["system", "user", "user"]);
    assert_eq!(tr.shape.tools, 2);
    assert_eq!(tr.shape.input_items, 4);
    assert_eq!(tr.shape.model, MODEL);
    assert_eq!(
        tr.shape.to_string(),
        format!("model={MODEL} items=4 roles=system,user,user tools=2")
    );
}

#[test]
fn instructions_come_first_in_the_system_message() {
    let mut body = request(json!([dev("dev text"), user("hi")]));
    body["instructions"] = json!("be brief");
    let v = run(body);
    assert_eq!(v["messages"][0]["content"], "be brief\n\ndev text");
}

/// Request text stays escaped JSON on its way through (it is never decoded and re-encoded):
/// texts with escapes (newline, quote, backslash, `\u00e9`, a surrogate pair) joined from
/// several pieces, wrapped or prefixed, must still decode to exactly the right characters.
#[test]
fn escaped_text_joins_and_wraps_to_the_exact_value() {
    let body = br#"{"model":"m","instructions":"I: \"q\"\\n",
      "input":[
        {"type":"message","role":"developer","content":[{"type":"input_text","text":"a\n\"b\"\tc\\d \u00e9"}]},
        {"type":"message","role":"developer","content":[{"type":"input_text","text":"\ud83d\ude00 x\/y"}]},
        {"type":"message","role":"user","content":[{"type":"input_text","text":"u1\n"},{"type":"input_text","text":"\"u2\""}]},
        {"type":"message","role":"developer","content":[{"type":"input_text","text":"late \u00e9\\"}]},
        {"type":"function_call_output","call_id":"orphan","output":"o\n\"\u00e9\""}
      ],
      "tools":[{"type":"namespace","name":"ns","description":"N \"d\"\n","tools":[
        {"type":"function","name":"f","description":"F\\\u00e9","parameters":{"type":"object"}}]}]}"#;
    let req = parse_request(body).unwrap();
    let tr = translate_request(&req, &opts()).unwrap();
    let v: Value = serde_json::from_slice(&tr.body).expect("chat body is JSON");
    assert_chat_valid(&v);
    let m = messages(&v);
    assert_eq!(
        m[0]["content"],
        "I: \"q\"\\n\n\na\n\"b\"\tc\\d \u{e9}\n\n\u{1f600} x/y"
    );
    assert_eq!(m[1]["content"], "u1\n\n\n\"u2\"");
    assert_eq!(
        m[2]["content"],
        "<system-message>\nlate \u{e9}\\\n</system-message>"
    );
    assert_eq!(
        m[3]["content"],
        "[tool output for call orphan]: o\n\"\u{e9}\""
    );
    assert_eq!(
        v["tools"][0]["function"]["description"],
        "N \"d\"\n\n\nF\\\u{e9}"
    );
}

#[test]
fn parameters_pass_through_byte_for_byte() {
    let body = br#"{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":{"b":1.50,  "a":"\u00e9"}}]}"#;
    let req = parse_request(body).unwrap();
    let tr = translate_request(&req, &opts()).unwrap();
    let text = String::from_utf8(tr.body).unwrap();
    assert!(
        text.contains(r#""parameters":{"b":1.50,  "a":"\u00e9"}"#),
        "{text}"
    );
}

#[test]
fn tool_loop_history_pairs_calls_and_outputs() {
    let v = run(request(json!([
        dev("p"),
        user("Run echo hi"),
        assistant("I'll run it."),
        call("call_1", "exec_command", r#"{"cmd":"echo hi"}"#),
        output("call_1", json!("hi\n")),
        assistant("Done: hi"),
    ])));
    assert_eq!(
        roles(&v),
        ["system", "user", "assistant", "tool", "assistant"]
    );
    let a = &v["messages"][2];
    assert_eq!(a["content"], "I'll run it.");
    assert_eq!(
        a["tool_calls"],
        json!([{"id":"call_1","type":"function","function":{"name":"exec_command","arguments":"{\"cmd\":\"echo hi\"}"}}])
    );
    assert_eq!(
        v["messages"][3],
        json!({"role":"tool","content":"hi\n","tool_call_id":"call_1"})
    );
    assert_eq!(v["messages"][4]["content"], "Done: hi");
    assert!(v["messages"][4].get("tool_calls").is_none());
}

#[test]
fn parallel_calls_make_one_assistant_message_then_outputs_in_call_order() {
    let v = run(request(json!([
        user("two things"),
        call("call_a", "exec_command", r#"{"cmd":"a"}"#),
        call("call_b", "exec_command", r#"{"cmd":"b"}"#),
        output("call_a", json!("A")),
        output("call_b", json!("B")),
    ])));
    assert_eq!(roles(&v), ["user", "assistant", "tool", "tool"]);
    assert_eq!(v["messages"][1]["content"], Value::Null);
    assert_eq!(v["messages"][1]["tool_calls"].as_array().unwrap().len(), 2);
    assert_eq!(v["messages"][2]["content"], "A");
    assert_eq!(v["messages"][3]["tool_call_id"], "call_b");
}

#[test]
fn outputs_out_of_order_are_moved_behind_their_calls() {
    let v = run(request(json!([
        user("go"),
        call("call_a", "exec_command", "{}"),
        call("call_b", "exec_command", "{}"),
        output("call_b", json!("B")),
        user("interrupting"),
        output("call_a", json!("A")),
    ])));
    assert_eq!(roles(&v), ["user", "assistant", "tool", "tool", "user"]);
    assert_eq!(v["messages"][2]["content"], "A");
    assert_eq!(v["messages"][3]["content"], "B");
}

#[test]
fn namespaced_tools_round_trip_through_the_table() {
    let long_ns = format!("mcp__{}", "very_long_server_name_".repeat(4));
    let mut body = request(json!([
        user("say hi"),
        {"type":"function_call","name":"say","namespace":"mcp__echo","arguments":"{\"text\":\"hi\"}","call_id":"c1"},
        output("c1", json!("hi")),
        {"type":"function_call","name":"read","namespace":long_ns,"arguments":"{}","call_id":"c2"},
        output("c2", json!("ok")),
    ]));
    body["tools"] = json!([
        {"type":"namespace","name":"mcp__echo","description":"Echo server.","tools":[
            {"type":"function","name":"say","description":"Say it","parameters":{"type":"object","properties":{}}},
            {"type":"function","name":"shout","parameters":{"type":"object","properties":{}}}]},
        {"type":"namespace","name":long_ns,"tools":[
            {"type":"function","name":"read","description":"Read","parameters":{"type":"object","properties":{}}}]}
    ]);
    let (v, tr) = run_with(body, &opts());
    let tools = v["tools"].as_array().unwrap();
    let names: Vec<&str> = tools
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    let folded = wire_name(Some(&long_ns), "read");
    assert_eq!(
        names,
        ["mcp__echo__say", "mcp__echo__shout", folded.as_str()]
    );
    assert!(folded.len() <= 64);
    assert_eq!(
        tools[0]["function"]["description"],
        "Echo server.\n\nSay it"
    );
    assert_eq!(tools[1]["function"]["description"], "Echo server.");
    assert_eq!(tools[2]["function"]["description"], "Read");
    assert_eq!(
        v["messages"][1]["tool_calls"][0]["function"]["name"],
        "mcp__echo__say"
    );
    assert_eq!(
        v["messages"][3]["tool_calls"][0]["function"]["name"],
        folded.as_str()
    );
    let e = tr.tools.lookup(&folded).unwrap();
    assert_eq!(
        (e.namespace.as_deref(), e.name.as_str()),
        (Some(long_ns.as_str()), "read")
    );
    let e = tr.tools.lookup("mcp__echo__say").unwrap();
    assert_eq!(
        (e.namespace.as_deref(), e.name.as_str()),
        (Some("mcp__echo"), "say")
    );
}

#[test]
fn custom_apply_patch_definition_and_history() {
    let mut body = request(json!([
        user("edit"),
        {"type":"custom_tool_call","id":"ctc_1","status":"completed","call_id":"call_P","name":"apply_patch",
         "input":"*** Begin Patch\n*** End Patch\n"},
        {"type":"custom_tool_call_output","id":"ctco_1","call_id":"call_P","output":"Exit code: 0\n"},
    ]));
    body["tools"] = json!([{"type":"custom","name":"apply_patch","description":"Apply a patch.",
        "format":{"type":"grammar","syntax":"lark","definition":"start: begin_patch"}}]);
    let (v, tr) = run_with(body, &opts());
    let f = &v["tools"][0]["function"];
    assert_eq!(f["name"], "apply_patch");
    assert_eq!(
        f["parameters"],
        json!({"type":"object","properties":{"input":{"type":"string","description":"Raw freeform text for this tool, not JSON-wrapped"}},"required":["input"]})
    );
    let d = f["description"].as_str().unwrap();
    // The wire-format note comes first, then Codex's own description.
    assert!(
        d.starts_with("Call this tool with a single argument, `input`"),
        "{d}"
    );
    assert!(d.contains("\n\nApply a patch.\n\n"), "{d}");
    assert!(d.contains("not JSON-wrapped"));
    assert!(
        d.ends_with("\n\nThe input must follow this Lark grammar:\nstart: begin_patch"),
        "{d}"
    );
    assert_eq!(
        tr.tools.lookup("apply_patch").unwrap().kind,
        ToolKind::Custom
    );
    let c = &v["messages"][1]["tool_calls"][0];
    assert_eq!(c["function"]["name"], "apply_patch");
    let args: Value = serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"input":"*** Begin Patch\n*** End Patch\n"}));
    assert_eq!(
        v["messages"][2],
        json!({"role":"tool","content":"Exit code: 0\n","tool_call_id":"call_P"})
    );
}

#[test]
fn tool_search_results_are_added_to_the_chat_tools() {
    let mut body = request(json!([
        user("find a tool"),
        {"type":"tool_search_call","id":"tsc_1","call_id":"call_S","status":"completed","execution":"client",
         "arguments":{"query":"agents","limit":2}},
        {"type":"tool_search_output","id":"tso_1","call_id":"call_S","status":"completed","execution":"client",
         "tools":[{"type":"namespace","name":"multi_agent_v1","description":"Sub-agents.","tools":[
            {"type":"function","name":"spawn_agent","defer_loading":true,"parameters":{"type":"object","properties":{}}},
            {"type":"function","name":"wait_agent","defer_loading":true,"parameters":{"type":"object","properties":{}}}]}]},
        {"type":"function_call","name":"spawn_agent","namespace":"multi_agent_v1","arguments":"{}","call_id":"call_2"},
        output("call_2", json!("{\"agent_id\":\"a1\"}")),
    ]));
    body["tools"] = json!([{"type":"tool_search","execution":"client","description":"Search tools",
        "parameters":{"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"number"}},"required":["query"]}}]);
    let (v, tr) = run_with(body, &opts());
    let names: Vec<&str> = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "tool_search",
            "multi_agent_v1__spawn_agent",
            "multi_agent_v1__wait_agent"
        ]
    );
    assert_eq!(
        tr.tools.lookup("tool_search").unwrap().kind,
        ToolKind::ToolSearch
    );
    assert_eq!(
        tr.tools.lookup("multi_agent_v1__wait_agent").unwrap().name,
        "wait_agent"
    );
    let c = &v["messages"][1]["tool_calls"][0];
    assert_eq!(c["function"]["name"], "tool_search");
    let args: Value = serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"query":"agents","limit":2}));
    let listing = v["messages"][2]["content"].as_str().unwrap();
    assert!(
        listing.contains("multi_agent_v1__spawn_agent")
            && listing.contains("multi_agent_v1__wait_agent")
    );
    assert_eq!(
        v["messages"][3]["tool_calls"][0]["function"]["name"],
        "multi_agent_v1__spawn_agent"
    );
}

#[test]
fn images_in_user_messages_keep_or_placeholder() {
    let body = request(json!([
        {"type":"message","role":"user","content":[
            {"type":"input_text","text":"<image name=[Image #1]>"},
            {"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"high"},
            {"type":"input_text","text":"</image>"},
            {"type":"input_image","image_url":"https://x/y.png"},
            {"type":"input_text","text":"what is this?"}]},
    ]));
    let v = run(body.clone());
    assert_eq!(
        v["messages"][0]["content"],
        json!([
            {"type":"text","text":"<image name=[Image #1]>"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"high"}},
            {"type":"text","text":"</image>"},
            {"type":"image_url","image_url":{"url":"https://x/y.png"}},
            {"type":"text","text":"what is this?"}])
    );
    let mut o = opts();
    o.images = ImagePolicy::Placeholder;
    let (v, _) = run_with(body, &o);
    assert_eq!(
        v["messages"][0]["content"],
        "<image name=[Image #1]>\n\n[image omitted: this model accepts text only]\n\n</image>\n\n\
         [image omitted: this model accepts text only]\n\nwhat is this?"
    );
}

#[test]
fn images_in_tool_outputs_follow_the_tool_messages() {
    let body = request(json!([
        user("look"),
        call("c1", "view_image", r#"{"path":"a.png"}"#),
        call("c2", "exec_command", r#"{"cmd":"ls"}"#),
        output(
            "c1",
            json!([{"type":"input_text","text":"a.png"},
                            {"type":"input_image","image_url":"data:image/png;base64,QQ","detail":"high"}])
        ),
        output(
            "c2",
            json!([{"type":"input_text","text":"line1"},{"type":"output_text","text":"line2"}])
        ),
    ]));
    let v = run(body.clone());
    assert_eq!(roles(&v), ["user", "assistant", "tool", "tool", "user"]);
    assert_eq!(
        v["messages"][2]["content"],
        "a.png\n[image attached in the next message]"
    );
    assert_eq!(v["messages"][3]["content"], "line1\nline2");
    assert_eq!(
        v["messages"][4]["content"],
        json!([{"type":"text","text":"[image output of call c1]"},
               {"type":"image_url","image_url":{"url":"data:image/png;base64,QQ","detail":"high"}}])
    );
    let mut o = opts();
    o.images = ImagePolicy::Placeholder;
    let (v, _) = run_with(body, &o);
    assert_eq!(roles(&v), ["user", "assistant", "tool", "tool"]);
    assert_eq!(
        v["messages"][2]["content"],
        "a.png\n[image omitted: this model accepts text only]"
    );
}

fn reasoning_history() -> Value {
    let env1 = reasoning::encode("deepinfra", MODEL, "old thoughts");
    let env2 = reasoning::encode("deepinfra", MODEL, "17*23 = 391");
    let env3 = reasoning::encode("deepinfra", MODEL, "wrap up");
    request(json!([
        user("first"),
        reasoning_item(Some(&env1), Some("old thoughts"), None),
        call("c0", "exec_command", "{}"),
        output("c0", json!("x")),
        reasoning_item(Some(&env3), None, None),
        assistant("first done"),
        user("second"),
        reasoning_item(Some(&env2), None, None),
        call("c1", "exec_command", r#"{"cmd":"echo"}"#),
        output("c1", json!("y")),
    ]))
}

#[test]
fn reasoning_replay_follows_the_policy() {
    let with = |p: ReasoningPolicy| {
        let mut o = opts();
        o.reasoning = p;
        run_with(reasoning_history(), &o).0
    };
    // Auto: the current tool loop (after the last user message) and every tool-call turn
    // (DeepSeek and Kimi reject an earlier tool-call message without it), but not the plain
    // text answers of earlier turns.
    let v = with(ReasoningPolicy::Auto);
    assert_eq!(
        roles(&v),
        [
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
            "assistant",
            "tool"
        ]
    );
    assert_eq!(v["messages"][1]["reasoning_content"], "old thoughts");
    assert!(v["messages"][3].get("reasoning_content").is_none());
    assert_eq!(v["messages"][5]["reasoning_content"], "17*23 = 391");
    // Replay: every assistant message that has reasoning.
    let v = with(ReasoningPolicy::Replay);
    assert_eq!(v["messages"][1]["reasoning_content"], "old thoughts");
    assert_eq!(v["messages"][3]["reasoning_content"], "wrap up");
    assert_eq!(v["messages"][5]["reasoning_content"], "17*23 = 391");
    // Drop: never.
    let v = with(ReasoningPolicy::Drop);
    assert!(
        !serde_json::to_string(&v)
            .unwrap()
            .contains("reasoning_content")
    );
}

#[test]
fn reasoning_falls_back_to_content_then_summary() {
    let mut o = opts();
    o.reasoning = ReasoningPolicy::Replay;
    let body = request(json!([
        user("q"),
        reasoning_item(None, Some("raw text"), Some("summary text")),
        call("c1", "exec_command", "{}"),
        output("c1", json!("o")),
        reasoning_item(Some("gAAAAforeign"), None, Some("only summary")),
        call("c2", "exec_command", "{}"),
        output("c2", json!("o")),
        reasoning_item(None, None, None),
        assistant("final"),
        reasoning_item(None, Some("dangling"), None),
    ]));
    let (v, _) = run_with(body, &o);
    assert_eq!(
        roles(&v),
        [
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "assistant"
        ]
    );
    assert_eq!(v["messages"][1]["reasoning_content"], "raw text");
    assert_eq!(v["messages"][3]["reasoning_content"], "only summary");
    assert!(v["messages"][5].get("reasoning_content").is_none());
    assert_eq!(v["messages"][5]["content"], "final");
}

#[test]
fn reasoning_before_message_and_calls_of_one_response_makes_one_assistant_message() {
    let env = reasoning::encode("p", "m", "think");
    let v = run(request(json!([
        user("q"),
        reasoning_item(Some(&env), None, None),
        assistant("Let me look."),
        call("c1", "exec_command", "{}"),
        call("c2", "exec_command", "{}"),
        output("c1", json!("1")),
        output("c2", json!("2")),
        reasoning_item(Some(&env), None, None),
        assistant("Answer."),
    ])));
    assert_eq!(
        roles(&v),
        ["user", "assistant", "tool", "tool", "assistant"]
    );
    let a = &v["messages"][1];
    assert_eq!(a["content"], "Let me look.");
    assert_eq!(a["reasoning_content"], "think");
    assert_eq!(a["tool_calls"].as_array().unwrap().len(), 2);
    assert_eq!(v["messages"][4]["reasoning_content"], "think");
}

#[test]
fn drop_tool_call_content_nulls_text_next_to_calls_only() {
    let mut o = opts();
    o.drop_tool_call_content = true;
    let (v, _) = run_with(
        request(json!([
            user("q"),
            assistant("preamble"),
            call("c1", "exec_command", "{}"),
            output("c1", json!("1")),
            assistant("final"),
        ])),
        &o,
    );
    assert_eq!(v["messages"][1]["content"], Value::Null);
    assert_eq!(v["messages"][3]["content"], "final");
}

#[test]
fn orphan_calls_get_a_placeholder_and_orphan_outputs_become_user_text() {
    let v = run(request(json!([
        user("q"),
        call("c1", "exec_command", "{}"),
        output("nobody", json!("stray")),
        user("next"),
    ])));
    assert_eq!(roles(&v), ["user", "assistant", "tool", "user", "user"]);
    assert_eq!(v["messages"][2]["content"], "[no output recorded]");
    assert_eq!(
        v["messages"][3]["content"],
        "[tool output for call nobody]: stray"
    );
}

#[test]
fn later_developer_messages_become_tagged_user_messages_in_place() {
    let v = run(request(json!([
        dev("base"),
        user("q"),
        assistant("a"),
        dev("permissions changed"),
        user("q2"),
    ])));
    assert_eq!(roles(&v), ["system", "user", "assistant", "user", "user"]);
    assert_eq!(v["messages"][0]["content"], "base");
    assert_eq!(
        v["messages"][3]["content"],
        "<system-message>\npermissions changed\n</system-message>"
    );
}

#[test]
fn arguments_are_always_json_strings() {
    let v = run(request(json!([
        user("q"),
        {"type":"function_call","name":"exec_command","arguments":{"cmd":"ls"},"call_id":"c1"},
        {"type":"function_call","name":"exec_command","arguments":"","call_id":"c2"},
        {"type":"function_call","name":"exec_command","call_id":"c3"},
        output("c1", json!("")), output("c2", json!("")), output("c3", json!("")),
    ])));
    let calls = v["messages"][1]["tool_calls"].as_array().unwrap();
    assert_eq!(calls[0]["function"]["arguments"], r#"{"cmd":"ls"}"#);
    assert_eq!(calls[1]["function"]["arguments"], "{}");
    assert_eq!(calls[2]["function"]["arguments"], "{}");
}

#[test]
fn unknown_items_are_skipped_and_shorthands_accepted() {
    let v = run(request(json!([
        {"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"x"}},
        {"type":"compaction","id":"cmp","encrypted_content":"opaque"},
        {"type":"future_thing","content":{"weird":true},"summary":"nope","tools":5},
        {"role":"user","content":"shorthand"},
        {"type":"message","role":"user","content":"plain string"},
        "not an object",
    ])));
    assert_eq!(roles(&v), ["user", "user"]);
    assert_eq!(v["messages"][0]["content"], "shorthand");
    // A string input is one user message.
    let v = run(json!({"model": MODEL, "input": "hello"}));
    assert_eq!(v["messages"], json!([{"role":"user","content":"hello"}]));
    assert_eq!(v["stream"], false);
    assert!(v.get("stream_options").is_none());
    assert!(v.get("tools").is_none());
}

#[test]
fn compaction_trigger_and_responses_lite_are_unsupported() {
    let e = translate_err(request(json!([user("q"), {"type":"compaction_trigger"}])));
    assert!(
        matches!(&e, TranslateError::Unsupported(m) if m.contains("\"OpenAI\"") && m.contains("config.toml")),
        "{e}"
    );
    let e = translate_err(request(json!([
        {"type":"additional_tools","id":"at_1","role":"developer","tools":[]}, user("q")])));
    assert!(
        matches!(&e, TranslateError::Unsupported(m) if m.contains("model slug")),
        "{e}"
    );
}

#[test]
fn bad_requests_are_classified() {
    assert!(matches!(
        parse_request(b"{not json"),
        Err(TranslateError::InvalidJson(_))
    ));
    // Not UTF-8: refused as bad JSON, with the place of the bad byte.
    match parse_request(b"{\"model\":\"m\",\"input\":\"caf\xe9\"}") {
        Err(TranslateError::InvalidJson(m)) => assert!(m.contains("line 1 column"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse_request(br#"{"input":"x"}"#),
        Err(TranslateError::Invalid(_))
    ));
    assert!(matches!(
        parse_request(br#"{"model":"m","input":5}"#),
        Err(TranslateError::Invalid(_))
    ));
    let e = translate_err(json!({"model": MODEL, "input": [], "instructions": "sys"}));
    assert!(matches!(&e, TranslateError::Invalid(m) if m.contains("at least one message")));
    let e = translate_err(json!({"model": MODEL, "input": [{"type":"function_call","name":"f"}]}));
    assert!(matches!(e, TranslateError::Invalid(_)));
}

#[test]
fn text_format_becomes_response_format() {
    let mut body = request(json!([user("q")]));
    body["text"] = json!({"verbosity":"low","format":{"type":"json_schema","name":"codex_output_schema","strict":true,
        "schema":{"type":"object","properties":{"a":{"type":"string"}}}}});
    let v = run(body.clone());
    assert_eq!(
        v["response_format"],
        json!({"type":"json_schema","json_schema":{"name":"codex_output_schema",
               "schema":{"type":"object","properties":{"a":{"type":"string"}}},"strict":true}})
    );
    assert!(v.get("text").is_none() && v.get("verbosity").is_none());
    body["text"] = json!({"format":{"type":"json_object"}});
    assert_eq!(
        run(body.clone())["response_format"],
        json!({"type":"json_object"})
    );
    body["text"] = json!({"format":{"type":"text"}});
    assert!(run(body)["response_format"].is_null());
}

#[test]
fn reasoning_effort_maps_to_the_gateway_enum() {
    for (given, sent) in [
        ("high", "high"),
        ("xhigh", "xhigh"),
        ("minimal", "minimal"),
        ("none", "none"),
        ("max", "max"),
        ("ultra", "high"),
        ("Medium", "medium"),
    ] {
        let mut body = request(json!([user("q")]));
        body["reasoning"] = json!({"effort": given, "summary": "detailed"});
        assert_eq!(run(body)["reasoning_effort"], sent, "{given}");
    }
}

#[test]
fn empty_tools_omit_tools_and_tool_choice() {
    let mut body = request(json!([user("summarise")]));
    body["tools"] = json!([]);
    body["parallel_tool_calls"] = json!(false);
    let mut o = opts();
    o.send_parallel_tool_calls = true;
    let (v, tr) = run_with(body.clone(), &o);
    assert!(v.get("tools").is_none());
    assert!(v.get("tool_choice").is_none());
    assert!(v.get("parallel_tool_calls").is_none());
    assert!(tr.tools.is_empty());
    // Only hosted tools: the same.
    body["tools"] = json!([{"type":"web_search"}]);
    let v = run(body);
    assert!(v.get("tools").is_none() && v.get("tool_choice").is_none());
}

#[test]
fn other_fields_map_as_configured() {
    let mut body = request(json!([user("q")]));
    body["temperature"] = json!(0.5);
    body["top_p"] = json!(0.9);
    body["service_tier"] = json!("priority");
    let mut o = opts();
    o.max_output_tokens = Some(4096);
    o.send_parallel_tool_calls = true;
    let (v, _) = run_with(body.clone(), &o);
    assert_eq!(v["max_tokens"], 4096);
    assert_eq!(v["temperature"], 0.5);
    assert_eq!(v["top_p"], 0.9);
    assert_eq!(v["service_tier"], "priority");
    assert_eq!(v["parallel_tool_calls"], true);
    body["max_output_tokens"] = json!(100);
    body["service_tier"] = json!("default");
    let (v, _) = run_with(body, &o);
    assert_eq!(v["max_tokens"], 100);
    assert!(v.get("service_tier").is_none());
}

#[test]
fn tool_choice_objects_name_the_wire_function() {
    let mut body = request(json!([user("q")]));
    body["tool_choice"] = json!({"type":"function","name":"exec_command"});
    assert_eq!(
        run(body.clone())["tool_choice"],
        json!({"type":"function","function":{"name":"exec_command"}})
    );
    body["tool_choice"] = json!("required");
    assert_eq!(run(body.clone())["tool_choice"], "required");
    body["tool_choice"] = json!({"type":"web_search"});
    assert!(run(body)["tool_choice"].is_null());
}
