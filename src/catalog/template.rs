//! The Codex entry provider models are modelled on.
//!
//! Codex's `base_instructions` (about 20k characters of agent prompt) *replace* Codex's own
//! prompt for every model a catalog describes, so an entry needs a full one. We take it from
//! the user's own Codex (`codex debug models --bundled`, see [`super::codex_bin`]): nothing of
//! Codex's prompt lives in our source and the catalog follows the installed Codex version.
//! Only when no Codex can be run do we fall back to [`BUILTIN_INSTRUCTIONS`], with a loud
//! warning.
//!
//! Pure: JSON in, JSON out.

use serde_json::{Map, Value, json};

/// A bundled Codex catalog and the entry chosen as the base for provider models.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Every entry of the bundled catalog, unchanged (kept in the written file: a catalog
    /// replaces the bundled one, so without them the user's OpenAI models would lose theirs).
    pub bundled: Vec<Value>,
    /// Index into `bundled` of the base entry.
    pub base_index: usize,
    /// Where the catalog came from, e.g. `codex-cli 0.169.0`.
    pub origin: String,
    /// Caveats about the chosen base (e.g. it was written for a different tool mode).
    pub notes: Vec<String>,
}

impl Template {
    /// Reads `{"models":[…]}` (what `codex debug models --bundled` prints) and picks the base:
    /// the entry closest to what a Chat Completions model behind the shim gets (a plain
    /// Responses request, not "lite"; tools sent normally, not code-mode only; freeform
    /// `apply_patch`; a prompt present), first in Codex's order on ties.
    pub fn from_models_json(value: &Value, origin: impl Into<String>) -> Result<Template, String> {
        let bundled = value
            .get("models")
            .and_then(Value::as_array)
            .ok_or("the Codex catalog has no `models` array")?
            .clone();
        let mut best: Option<(i32, usize)> = None;
        for (i, entry) in bundled.iter().enumerate() {
            if entry.get("slug").and_then(Value::as_str).is_none() || instructions(entry).is_none()
            {
                continue;
            }
            let score = score(entry);
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i));
            }
        }
        let (_, base_index) = best.ok_or("no entry of the Codex catalog carries instructions")?;
        let base = &bundled[base_index];
        let slug = base["slug"].as_str().unwrap_or_default();
        let mut notes = Vec::new();
        if is_lite(base) || is_code_mode(base) {
            notes.push(format!(
                "the Codex entry `{slug}` used as the template was written for Codex's \
                 responses-lite/code mode; its prompt may mention tools a provider model does not get"
            ));
        }
        Ok(Template {
            base_index,
            origin: origin.into(),
            notes,
            bundled,
        })
    }

    pub fn base(&self) -> &Value {
        &self.bundled[self.base_index]
    }

    /// The base entry's slug (e.g. `gpt-5.5`).
    pub fn base_slug(&self) -> &str {
        self.base()["slug"].as_str().unwrap_or_default()
    }

    /// The bundled slugs.
    pub fn slugs(&self) -> impl Iterator<Item = &str> {
        self.bundled
            .iter()
            .filter_map(|e| e.get("slug").and_then(Value::as_str))
    }
}

fn is_lite(e: &Value) -> bool {
    e.get("use_responses_lite").and_then(Value::as_bool) == Some(true)
}

fn is_code_mode(e: &Value) -> bool {
    e.get("tool_mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.contains("code_mode"))
}

fn score(e: &Value) -> i32 {
    let mut s = 0;
    if !is_lite(e) {
        s += 8;
    }
    if !is_code_mode(e) {
        s += 4;
    }
    if e.get("apply_patch_tool_type").and_then(Value::as_str) == Some("freeform") {
        s += 2;
    }
    if e.get("visibility").and_then(Value::as_str) == Some("list") {
        s += 1;
    }
    s
}

/// The prompt an entry makes Codex use: `model_messages.instructions_template` wins over
/// `base_instructions` (Codex's own rule).
fn instructions(e: &Value) -> Option<&str> {
    e.pointer("/model_messages/instructions_template")
        .and_then(Value::as_str)
        .or_else(|| e.get("base_instructions").and_then(Value::as_str))
        .filter(|s| !s.trim().is_empty())
}

/// What one provider entry says (already resolved from config, upstream metadata, defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySpec<'a> {
    pub slug: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    /// The model named in the prompt's first line (`None`: a pattern, no single model).
    pub model_for_prompt: Option<&'a str>,
    pub hidden: bool,
    pub priority: i64,
    pub context_window: u64,
    pub auto_compact_token_limit: Option<u64>,
    pub vision: bool,
    pub reasoning: bool,
    pub apply_patch: bool,
}

/// Reasoning efforts offered for reasoning models: what DeepInfra's `reasoning_effort`
/// accepts for such models and the shim passes through unchanged.
pub const REASONING_LEVELS: [(&str, &str); 3] = [
    ("low", "Fast responses with lighter reasoning"),
    ("medium", "Balanced reasoning depth"),
    ("high", "Deepest reasoning for complex problems"),
];

/// Effort used when the user sets none.
pub const DEFAULT_REASONING_LEVEL: &str = "medium";

/// Fields of OpenAI entries that describe OpenAI-only service and would mislead Codex about
/// a provider model (lite requests, code mode, hosted search, upgrade prompts, speed tiers).
const DROPPED: &[&str] = &[
    "tool_mode",
    "default_service_tier",
    "model_specialty",
    "multi_agent_version",
    "multi_agent_reasoning_effort",
    "auto_compact_token_limit",
    "supports_reasoning_summaries",
];

/// A catalog entry for one provider model, from the template's base entry (or the built-in
/// minimal entry when `base` is `None`).
pub fn entry(spec: &EntrySpec<'_>, base: Option<&Value>) -> Value {
    let mut e = match base {
        Some(Value::Object(m)) => m.clone(),
        _ => builtin_base(),
    };
    for k in DROPPED {
        e.remove(*k);
    }
    let set = |e: &mut Map<String, Value>, k: &str, v: Value| {
        e.insert(k.to_owned(), v);
    };
    set(&mut e, "slug", json!(spec.slug));
    set(&mut e, "display_name", json!(spec.display_name));
    set(&mut e, "description", json!(spec.description));
    set(
        &mut e,
        "visibility",
        json!(if spec.hidden { "hide" } else { "list" }),
    );
    set(&mut e, "priority", json!(spec.priority));
    set(&mut e, "supported_in_api", json!(true));
    set(&mut e, "upgrade", Value::Null);
    set(&mut e, "availability_nux", Value::Null);
    set(&mut e, "service_tiers", json!([]));
    set(&mut e, "additional_speed_tiers", json!([]));
    set(&mut e, "use_responses_lite", json!(false));
    set(&mut e, "supports_search_tool", json!(false));
    set(&mut e, "supports_reasoning_effort_updates", json!(false));
    // Chat providers have no `text.verbosity`; Codex then sends none.
    set(&mut e, "support_verbosity", json!(false));
    set(&mut e, "default_verbosity", Value::Null);
    set(&mut e, "web_search_tool_type", json!("text"));
    set(&mut e, "supports_image_detail_original", json!(false));
    set(&mut e, "experimental_supported_tools", json!([]));
    set(&mut e, "context_window", json!(spec.context_window));
    if e.contains_key("max_context_window") {
        set(&mut e, "max_context_window", json!(spec.context_window));
    }
    if let Some(limit) = spec.auto_compact_token_limit {
        set(&mut e, "auto_compact_token_limit", json!(limit));
    }
    set(
        &mut e,
        "input_modalities",
        if spec.vision {
            json!(["text", "image"])
        } else {
            json!(["text"])
        },
    );
    if spec.apply_patch {
        set(&mut e, "apply_patch_tool_type", json!("freeform"));
    } else {
        e.remove("apply_patch_tool_type");
    }
    if spec.reasoning {
        let described = |effort: &str, ours: &str| {
            base.and_then(|b| b.get("supported_reasoning_levels"))
                .and_then(Value::as_array)
                .and_then(|levels| levels.iter().find(|l| l["effort"] == effort))
                .and_then(|l| l.get("description").and_then(Value::as_str))
                .unwrap_or(ours)
                .to_owned()
        };
        let levels: Vec<Value> = REASONING_LEVELS
            .iter()
            .map(|(effort, desc)| json!({"effort": effort, "description": described(effort, desc)}))
            .collect();
        set(&mut e, "supported_reasoning_levels", Value::Array(levels));
        set(
            &mut e,
            "default_reasoning_level",
            json!(DEFAULT_REASONING_LEVEL),
        );
    } else {
        set(&mut e, "supported_reasoning_levels", json!([]));
        e.remove("default_reasoning_level");
    }
    // The prompt's first line names the model it runs on; make it name this one.
    let target = spec
        .model_for_prompt
        .unwrap_or("a model served through deepinfra-shim");
    if let Some(Value::String(s)) = e.get_mut("base_instructions") {
        *s = retarget_prompt(s, target);
    }
    if let Some(Value::String(s)) = e
        .get_mut("model_messages")
        .and_then(|m| m.get_mut("instructions_template"))
    {
        *s = retarget_prompt(s, target);
    }
    Value::Object(e)
}

/// Replaces "based on GPT-…" in the prompt's first line with "running on `<model>`", so the
/// model does not introduce itself as an OpenAI model. Anything else is left as written.
pub fn retarget_prompt(text: &str, model: &str) -> String {
    const NEEDLE: &str = "based on GPT-";
    let head = &text[..text.find('\n').unwrap_or(text.len())];
    let Some(at) = head.find(NEEDLE) else {
        return text.to_owned();
    };
    let rest = &head[at + NEEDLE.len()..];
    let token_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .unwrap_or(rest.len());
    let token = rest[..token_len].trim_end_matches('.');
    let end = at + NEEDLE.len() + token.len();
    format!("{}running on {model}{}", &text[..at], &text[end..])
}

/// The fields Codex 0.169.0 requires, for when no Codex template is available.
fn builtin_base() -> Map<String, Value> {
    let v = json!({
        "slug": "",
        "display_name": "",
        "description": null,
        "supported_reasoning_levels": [],
        "shell_type": "unified_exec",
        "visibility": "list",
        "supported_in_api": true,
        "priority": 0,
        "upgrade": null,
        "base_instructions": BUILTIN_INSTRUCTIONS,
        "support_verbosity": false,
        "default_verbosity": null,
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [],
        "effective_context_window_percent": 95,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

/// The short prompt used only when no Codex could be asked for its own. It *replaces*
/// Codex's much longer prompt, so the agent is less capable with it: `shimctl` says so loudly.
pub const BUILTIN_INSTRUCTIONS: &str = "\
You are Codex, a coding agent working in the user's terminal through the Codex CLI. You and the \
user share one workspace; your job is to carry their request through to a working result.

# How you work
- Explore before you change anything: list files, read the relevant code, search with `rg`.
- Use the shell tool to run commands. Prefer fast, read-only commands while investigating.
- Edit files with the `apply_patch` tool (when it is offered): one patch per logical change, \
  with enough context lines to apply cleanly. Do not write files with `cat`, `echo` or scripts \
  when a patch will do.
- Keep changes minimal and in the style of the surrounding code. Fix the root cause, not the \
  symptom. Do not add unrelated refactors, licenses or comments that narrate the change.
- After changing code, build and run the relevant tests when the project has them, and fix \
  what you broke.
- Never revert or overwrite changes you did not make. Do not run destructive commands \
  (`rm -rf`, `git reset --hard`, force pushes) unless the user asked for exactly that.
- Respect the sandbox and approval rules given to you in developer messages; if a command is \
  refused, explain what you needed and why instead of working around it.
- Keep going until the task is done or you are truly blocked; ask the user only when a \
  decision is theirs to make.

# Talking to the user
- Before a group of related commands, say in one short sentence what you are about to do.
- Finish with a concise summary: what you changed (file paths), how you verified it, and \
  anything left for the user. Use plain Markdown; no headings for short answers.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled() -> Value {
        json!({"models": [
            {"slug": "gpt-lite", "display_name": "L", "use_responses_lite": true,
             "tool_mode": "code_mode_only", "apply_patch_tool_type": "freeform",
             "visibility": "list", "base_instructions": "You are Codex, an agent based on GPT-6. Hi"},
            {"slug": "gpt-5.5", "display_name": "GPT-5.5", "use_responses_lite": false,
             "apply_patch_tool_type": "freeform", "visibility": "list", "priority": 13,
             "upgrade": {"model": "gpt-6-sol", "migration_markdown": "m"},
             "supported_reasoning_levels": [{"effort": "low", "description": "theirs"}],
             "default_reasoning_level": "medium", "support_verbosity": true,
             "default_verbosity": "low", "service_tiers": [{"id": "priority"}],
             "supports_search_tool": true, "max_context_window": 272000, "context_window": 272000,
             "base_instructions": "You are Codex, a coding agent based on GPT-5. You share.\nBody GPT-5 stays.",
             "model_messages": {"instructions_template": "You are Codex, a coding agent based on GPT-5.5-codex. X", "approvals": null}},
            {"slug": "no-prompt", "display_name": "N", "base_instructions": ""}
        ]})
    }

    fn spec<'a>() -> EntrySpec<'a> {
        EntrySpec {
            slug: "deepseek-ai/DeepSeek-V3.2",
            display_name: "DeepSeek-V3.2",
            description: "d",
            model_for_prompt: Some("deepseek-ai/DeepSeek-V3.2"),
            hidden: false,
            priority: -3,
            context_window: 65_536,
            auto_compact_token_limit: None,
            vision: false,
            reasoning: false,
            apply_patch: true,
        }
    }

    #[test]
    fn picks_the_plain_entry() {
        let t = Template::from_models_json(&bundled(), "codex-cli test").unwrap();
        assert_eq!(t.base_slug(), "gpt-5.5");
        assert!(t.notes.is_empty());
        assert_eq!(t.slugs().count(), 3);
        let lite_only = json!({"models": [bundled()["models"][0].clone()]});
        let t = Template::from_models_json(&lite_only, "x").unwrap();
        assert_eq!(t.base_slug(), "gpt-lite");
        assert_eq!(t.notes.len(), 1);
        assert!(Template::from_models_json(&json!({"models": []}), "x").is_err());
        assert!(Template::from_models_json(&json!([]), "x").is_err());
    }

    #[test]
    fn entry_from_template() {
        let t = Template::from_models_json(&bundled(), "x").unwrap();
        let e = entry(&spec(), Some(t.base()));
        assert_eq!(e["slug"], "deepseek-ai/DeepSeek-V3.2");
        assert_eq!(e["context_window"], 65_536);
        assert_eq!(e["max_context_window"], 65_536);
        assert_eq!(e["apply_patch_tool_type"], "freeform");
        assert_eq!(e["input_modalities"], json!(["text"]));
        assert_eq!(e["supported_reasoning_levels"], json!([]));
        assert!(e.get("default_reasoning_level").is_none());
        assert_eq!(e["upgrade"], Value::Null);
        assert_eq!(e["use_responses_lite"], false);
        assert_eq!(e["supports_search_tool"], false);
        assert_eq!(e["support_verbosity"], false);
        assert_eq!(e["service_tiers"], json!([]));
        assert_eq!(e["priority"], -3);
        assert!(e.get("auto_compact_token_limit").is_none());
        let bi = e["base_instructions"].as_str().unwrap();
        assert!(
            bi.starts_with(
                "You are Codex, a coding agent running on deepseek-ai/DeepSeek-V3.2. You share.\n"
            ),
            "{bi}"
        );
        assert!(bi.ends_with("Body GPT-5 stays."));
        assert_eq!(
            e["model_messages"]["instructions_template"],
            "You are Codex, a coding agent running on deepseek-ai/DeepSeek-V3.2. X"
        );
    }

    #[test]
    fn entry_switches() {
        let t = Template::from_models_json(&bundled(), "x").unwrap();
        let mut s = spec();
        s.vision = true;
        s.reasoning = true;
        s.apply_patch = false;
        s.hidden = true;
        s.auto_compact_token_limit = Some(40_000);
        s.model_for_prompt = None;
        let e = entry(&s, Some(t.base()));
        assert!(e.get("apply_patch_tool_type").is_none());
        assert_eq!(e["input_modalities"], json!(["text", "image"]));
        assert_eq!(e["visibility"], "hide");
        assert_eq!(e["auto_compact_token_limit"], 40_000);
        assert_eq!(e["default_reasoning_level"], "medium");
        let levels = e["supported_reasoning_levels"].as_array().unwrap();
        let efforts: Vec<&str> = levels
            .iter()
            .map(|l| l["effort"].as_str().unwrap())
            .collect();
        assert_eq!(efforts, ["low", "medium", "high"]);
        assert_eq!(levels[0]["description"], "theirs");
        assert!(
            e["base_instructions"]
                .as_str()
                .unwrap()
                .contains("running on a model served through deepinfra-shim. ")
        );
    }

    #[test]
    fn builtin_entry_has_the_required_fields() {
        let e = entry(&spec(), None);
        for k in [
            "slug",
            "display_name",
            "supported_reasoning_levels",
            "shell_type",
            "visibility",
            "supported_in_api",
            "priority",
            "support_verbosity",
            "truncation_policy",
            "experimental_supported_tools",
            "base_instructions",
        ] {
            assert!(e.get(k).is_some(), "missing {k}");
        }
        assert_eq!(e["base_instructions"], BUILTIN_INSTRUCTIONS);
        assert!(e.get("max_context_window").is_none());
    }

    #[test]
    fn retargeting() {
        assert_eq!(
            retarget_prompt("You are X based on GPT-5.5. Go", "m"),
            "You are X running on m. Go"
        );
        assert_eq!(retarget_prompt("based on GPT-6", "m"), "running on m");
        assert_eq!(
            retarget_prompt("No model\nbased on GPT-5.", "m"),
            "No model\nbased on GPT-5."
        );
    }
}
