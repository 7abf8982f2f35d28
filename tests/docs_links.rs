//! The documentation's cross-references, so that a moved section or a renamed file fails the
//! build instead of a reader's click:
//!
//! - every relative link and image in `README.md`, `CONTRIBUTING.md` and `docs/*.md` points at a
//!   file or directory inside the repository, and every `#anchor` at a heading of the page it
//!   names (GitHub's anchor for the heading) or at an `<a id="…">` there;
//! - every Markdown file a document names in its text (`protocol.md`, `docs/service.md`) exists,
//!   next to the document or from the repository root, so no page refers to notes the
//!   repository does not hold.
//!
//! The Markdown is read with `pulldown-cmark`, so code blocks, code spans and tables are what
//! GitHub makes of them.
// Test code: a panic is how a check fails.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documents checked: `README.md`, `CONTRIBUTING.md` and every `docs/*.md`.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}

/// What one page offers (anchors) and refers to (links, file names), with line numbers.
#[derive(Default)]
struct Page {
    anchors: HashSet<String>,
    links: Vec<(usize, String)>,
    names: Vec<(usize, String)>,
}

fn read_page(text: &str) -> Page {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut page = Page::default();
    let mut heading: Option<String> = None;
    let mut slugs_seen: HashMap<String, usize> = HashMap::new();
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH);
    for (event, range) in parser.into_offset_iter() {
        let line = line_of(range.start);
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let slug = github_slug(&heading.take().unwrap_or_default());
                // GitHub numbers repeated headings: `usage`, `usage-1`, `usage-2`.
                let n = slugs_seen.entry(slug.clone()).or_insert(0);
                let anchor = if *n == 0 {
                    slug.clone()
                } else {
                    format!("{slug}-{n}")
                };
                *n += 1;
                page.anchors.insert(anchor);
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
                page.names
                    .extend(markdown_names(&t).into_iter().map(|n| (line, n)));
            }
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                page.links.push((line, dest_url.into_string()));
            }
            Event::Html(h) | Event::InlineHtml(h) => page.anchors.extend(html_ids(&h)),
            _ => {}
        }
    }
    page
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, everything but letters, digits,
/// `_` and `-` dropped.
fn github_slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
            _ => None,
        })
        .collect()
}

/// The `id`/`name` values of `<a …>` tags in an HTML fragment.
fn html_ids(html: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for tag in html.split('<').skip(1) {
        let Some(attrs) = tag.strip_prefix("a ") else {
            continue;
        };
        let attrs = attrs.split('>').next().unwrap_or_default();
        for key in ["id=\"", "name=\""] {
            if let Some(start) = attrs.find(key) {
                let value = &attrs[start + key.len()..];
                if let Some(end) = value.find('"') {
                    ids.push(value[..end].to_owned());
                }
            }
        }
    }
    ids
}

/// The Markdown file names in a text (`protocol.md`, `docs/service.md`); URLs left out.
fn markdown_names(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "_./~-".contains(c)))
        .map(|t| t.trim_end_matches('.'))
        .filter(|t| t.ends_with(".md") && t.len() > 3 && !t.starts_with("//"))
        .map(str::to_owned)
        .collect()
}

/// `dir/rel` without `.` and `..`, lexically; `None` when it climbs above the filesystem root.
fn join_clean(dir: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in dir.join(rel).components() {
        match part {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// Whether a link leaves the repository's files: `https:`, `mailto:` and other schemes.
fn is_external(dest: &str) -> bool {
    match dest.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        }
        None => false,
    }
}

/// The page at `path`, read once.
fn page_of<'p>(pages: &'p mut HashMap<PathBuf, Page>, path: &Path) -> Option<&'p Page> {
    if !pages.contains_key(path) {
        let text = std::fs::read_to_string(path).ok()?;
        pages.insert(path.to_owned(), read_page(&text));
    }
    pages.get(path)
}

/// Every broken reference in `docs`, as `FILE:LINE: what is wrong` (paths relative to `root`).
fn problems(root: &Path, docs: &[PathBuf]) -> Vec<String> {
    let mut pages: HashMap<PathBuf, Page> = HashMap::new();
    let shown = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut out = Vec::new();
    for doc in docs {
        let dir = doc.parent().unwrap();
        let (links, names) = {
            let page =
                page_of(&mut pages, doc).unwrap_or_else(|| panic!("cannot read {}", doc.display()));
            (page.links.clone(), page.names.clone())
        };
        for (line, dest) in links {
            if is_external(&dest) {
                continue;
            }
            let at = format!("{}:{line}: link `{dest}`", shown(doc));
            let (path, anchor) = dest.split_once('#').unwrap_or((&dest, ""));
            let target = if path.is_empty() {
                doc.clone()
            } else {
                match join_clean(dir, path) {
                    Some(t) if t.starts_with(root) => t,
                    _ => {
                        out.push(format!("{at}: points outside the repository"));
                        continue;
                    }
                }
            };
            if !target.exists() {
                out.push(format!("{at}: {} does not exist", shown(&target)));
                continue;
            }
            if anchor.is_empty() {
                continue;
            }
            if target.extension().is_none_or(|e| e != "md") {
                out.push(format!("{at}: an anchor into a file that is not Markdown"));
                continue;
            }
            let has = page_of(&mut pages, &target).is_some_and(|p| p.anchors.contains(anchor));
            if !has {
                out.push(format!(
                    "{at}: {} has no heading or <a id> for #{anchor}",
                    shown(&target)
                ));
            }
        }
        for (line, name) in names {
            let found = [dir, root]
                .iter()
                .any(|base| join_clean(base, &name).is_some_and(|p| p.is_file()));
            if !found {
                out.push(format!(
                    "{}:{line}: names `{name}`, which is not a file of the repository",
                    shown(doc)
                ));
            }
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_in_the_docs_resolves() {
    let root = repo();
    let docs = documents(&root);
    assert!(
        docs.iter().any(|d| d.ends_with("docs/configuration.md")),
        "the docs are where this test looks: {docs:?}"
    );
    let found = problems(&root, &docs);
    assert!(
        found.is_empty(),
        "broken references in the documentation:\n{}",
        found.join("\n")
    );
}

/// The README links to every page of `docs/`, so none is orphaned.
#[test]
fn the_readme_links_to_every_page_of_docs() {
    let root = repo();
    let readme = read_page(&std::fs::read_to_string(root.join("README.md")).unwrap());
    let linked: HashSet<String> = readme
        .links
        .iter()
        .map(|(_, d)| d.split('#').next().unwrap_or_default().to_owned())
        .collect();
    let missing: Vec<String> = documents(&root)
        .iter()
        .filter_map(|d| {
            let rel = d.strip_prefix(&root).unwrap().display().to_string();
            (!linked.contains(&rel)).then_some(rel)
        })
        .filter(|rel| rel != "README.md")
        .collect();
    assert!(
        missing.is_empty(),
        "README.md links to none of: {missing:?}"
    );
}

/// The checker itself: each kind of broken reference in a scratch repository is reported, and
/// nothing else is.
#[test]
fn the_checker_reports_each_kind_of_broken_reference() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    std::fs::create_dir(root.join("docs")).unwrap();
    std::fs::write(
        root.join("README.md"),
        "# Title\n\n## Set up: `shimctl doctor`\n\n\
         [ok](docs/b.md#the-second-part) [ok](#set-up-shimctl-doctor) [ok](docs/) \
         [ok](https://example.com/x.md#y) [ok](docs/b.md#pinned)\n\
         [bad](docs/b.md#nowhere)\n\
         [bad](docs/missing.md)\n\
         [bad](../outside.md)\n\
         Read notes.md and docs/b.md.\n\n\
         ```text\n[not a link](nowhere.md#x)\n```\n",
    )
    .unwrap();
    std::fs::write(root.join("CONTRIBUTING.md"), "[ok](README.md#title)\n").unwrap();
    std::fs::write(
        root.join("docs/b.md"),
        "# B\n\n## The second part\n\n<a id=\"pinned\"></a>\n## Usage\n\n## Usage\n\n\
         [ok](#usage-1) [bad](#usage-2) [ok](../README.md)\n",
    )
    .unwrap();
    let found = problems(root, &documents(root));
    let want = [
        "README.md:6: link `docs/b.md#nowhere`: docs/b.md has no heading or <a id> for #nowhere",
        "README.md:7: link `docs/missing.md`: docs/missing.md does not exist",
        "README.md:8: link `../outside.md`: points outside the repository",
        "README.md:9: names `notes.md`, which is not a file of the repository",
        "README.md:12: names `nowhere.md`, which is not a file of the repository",
        "docs/b.md:10: link `#usage-2`: docs/b.md has no heading or <a id> for #usage-2",
    ];
    assert_eq!(found, want);
}

#[test]
fn anchors_are_the_ones_github_makes() {
    assert_eq!(github_slug("What `.ci/run` does"), "what-cirun-does");
    assert_eq!(github_slug("Codex's config"), "codexs-config");
    assert_eq!(
        github_slug("Never name the provider \"OpenAI\""),
        "never-name-the-provider-openai"
    );
    assert_eq!(github_slug("1. Install"), "1-install");
    assert_eq!(github_slug("A -- B_c"), "a----b_c");
}
