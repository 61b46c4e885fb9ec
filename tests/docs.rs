//! The documentation against the repository, so that it cannot go stale
//! unnoticed: every relative link in every Markdown file resolves to a file
//! (and, with a `#fragment`, to a heading of it) inside the repository; every
//! function crate the docs name exists and ARCHITECTURE.md names every one;
//! every template name the operator's pages put in backticks is one
//! template.yaml (or the code) has; every `file.rs::test_name` the docs cite
//! is a function of that file; CHANGELOG.md's newest release is the
//! workspace's version. Needs no local stack.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use profile_link_tests::workspace_root;

/// The repository root, without `..` (links are resolved against it).
fn root() -> PathBuf {
    workspace_root().canonicalize().expect("the workspace root exists")
}

/// Folders whose Markdown is not the project's documentation: build output,
/// installed packages, local state, and the bench report's test fixtures
/// (generated text whose links are relative to docs/, checked by the bench's own tests).
const SKIPPED: [&str; 8] = ["target", ".git", "node_modules", ".local", ".venv", "artifacts", "testdata", "fuzz"];

fn markdown_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !SKIPPED.contains(&name.as_str()) {
                    walk(&path, out);
                }
            } else if name.ends_with(".md") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// The file's lines outside fenced code blocks (``` or ~~~), with their numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match fence {
            Some(marker) if trimmed.starts_with(marker) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") => fence = Some("```"),
            None if trimmed.starts_with("~~~") => fence = Some("~~~"),
            None => out.push((i + 1, line)),
        }
    }
    out
}

/// A line with its inline code spans blanked (a link inside backticks is text).
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else {
            out.push(if in_code { ' ' } else { c });
        }
    }
    out
}

/// Inline links and images, `[text](target)` and `![alt](target "title")`, and
/// reference definitions `[label]: target`, with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_code_spans(line);
        let trimmed = line.trim_start();
        if trimmed.starts_with('[')
            && let Some(end) = trimmed.find("]:")
        {
            let target = trimmed[end + 2..].split_whitespace().next().unwrap_or("");
            out.push((number, target.to_owned()));
            continue;
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            let target = target.trim_start_matches('<').trim_end_matches('>');
            out.push((number, target.to_owned()));
            rest = &after[end.min(after.len())..];
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, every character but letters,
/// digits, spaces, `-` and `_` dropped, spaces turned into `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks), a
/// repeated heading's as GitHub numbers them (`-1`, `-2` …).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

/// `target` of a link in `file`, resolved lexically; `Err` if it leaves the repository.
fn resolve(root: &Path, file: &Path, target: &str) -> Result<PathBuf, String> {
    let mut path = file.parent().unwrap().to_path_buf();
    for component in Path::new(target).components() {
        match component {
            Component::ParentDir => {
                if !path.pop() || !path.starts_with(root) {
                    return Err("points outside the repository".into());
                }
            }
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path; use a relative one".into()),
        }
    }
    if path.starts_with(root) { Ok(path) } else { Err("points outside the repository".into()) }
}

/// Every problem with the relative links of the Markdown files under `root`.
fn link_problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for file in markdown_files(root) {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = relative(root, &file);
        for (line, target) in links(&text) {
            let lower = target.to_lowercase();
            if target.is_empty() || ["http://", "https://", "mailto:"].iter().any(|s| lower.starts_with(s)) {
                continue;
            }
            let (path_part, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let linked = if path_part.is_empty() {
                file.clone()
            } else {
                match resolve(root, &file, path_part) {
                    Ok(path) => path,
                    Err(why) => {
                        problems.push(format!("{name}:{line}: the link {target} {why}"));
                        continue;
                    }
                }
            };
            if !linked.exists() {
                problems.push(format!(
                    "{name}:{line}: the link {target} names {}, which does not exist",
                    relative(root, &linked)
                ));
                continue;
            }
            if let Some(fragment) = fragment
                && linked.extension().is_some_and(|e| e == "md")
            {
                let headings = anchors(&std::fs::read_to_string(&linked).unwrap());
                if !headings.contains(fragment) {
                    problems.push(format!(
                        "{name}:{line}: the link {target} names no heading of {}: its anchors are {headings:?}",
                        relative(root, &linked)
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn every_relative_link_resolves_inside_the_repository() {
    let root = root();
    let files = markdown_files(&root);
    for expected in ["README.md", "ARCHITECTURE.md", "SECURITY.md", "CHANGELOG.md", "docs/operating.md"] {
        assert!(files.contains(&root.join(expected)), "{expected} was not found among the Markdown files: {files:?}");
    }
    let problems = link_problems(&root);
    assert!(problems.is_empty(), "{} broken link(s):\n{}", problems.len(), problems.join("\n"));
}

/// `functions/<name>` as the docs write it (a name of lower-case letters, digits and `-`).
fn named_functions(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("functions/") {
        let preceded_by_word = rest[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
        let after = &rest[at + "functions/".len()..];
        let name: String =
            after.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect();
        if !preceded_by_word && !name.is_empty() {
            out.insert(name.trim_end_matches('-').to_owned());
        }
        rest = after;
    }
    out
}

/// The crates under functions/ (a folder with a Cargo.toml).
fn function_crates(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root.join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn function_problems(root: &Path) -> Vec<String> {
    let crates = function_crates(root);
    let mut problems = Vec::new();
    for file in markdown_files(root) {
        for name in named_functions(&std::fs::read_to_string(&file).unwrap()) {
            if !crates.contains(&name) {
                problems.push(format!(
                    "{} names functions/{name}, which is not a crate (there are {crates:?})",
                    relative(root, &file)
                ));
            }
        }
    }
    let architecture = named_functions(&std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap());
    for name in crates.difference(&architecture) {
        problems.push(format!("ARCHITECTURE.md never names functions/{name}"));
    }
    problems
}

#[test]
fn every_function_named_exists_and_architecture_names_every_function() {
    let root = root();
    assert!(
        function_crates(&root).len() >= 9,
        "functions/ holds core and the eight functions: {:?}",
        function_crates(&root)
    );
    let problems = function_problems(&root);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A CamelCase word: an upper-case letter, then letters and digits with a
/// lower-case letter and at least one more upper-case letter (`MailFrom`,
/// `CallbackUrl`; not `GET`, `PROVIDERS` or `Errors`).
fn is_camel_case(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && word.chars().all(|c| c.is_ascii_alphanumeric())
        && word.chars().any(|c| c.is_ascii_lowercase())
        && word.chars().filter(|c| c.is_ascii_uppercase()).count() >= 2
}

fn backticked_camel_case(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && is_camel_case(span) {
                out.insert(span.to_owned());
            }
        }
    }
    out
}

/// Every CamelCase word template.yaml holds (parameters, outputs, resources,
/// and the properties and metric names in it).
fn template_words(root: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| is_camel_case(w)).map(str::to_owned).collect()
}

/// The metrics the functions emit (`.count("Name", …)` in their source).
fn metric_names(root: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split(".count(\"").skip(1) {
                    out.insert(piece.split('"').next().unwrap().to_owned());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&root.join("functions"), &mut out);
    out
}

/// CamelCase names the operator's pages may use that are neither in
/// template.yaml nor metrics: parameters of the single-provider stack named in
/// the upgrade notes, and AWS's and the web's own names.
const NOT_TEMPLATE_NAMES: [&str; 16] = [
    "OidcIssuer",
    "OidcClientId",
    "OidcClientSecretParameter",
    "GetParameters",
    "HttpOnly",
    // SES v2's errors, as the outbox's runbook names them.
    "TooManyRequestsException",
    "LimitExceededException",
    "SendingPausedException",
    "AccountSuspendedException",
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "NotFoundException",
    "BadRequestException",
    // SES GetAccount's quota fields.
    "MaxSendRate",
    "Max24HourSend",
    "SentLast24Hours",
];

fn template_name_problems(root: &Path) -> Vec<String> {
    let known: BTreeSet<String> = template_words(root)
        .into_iter()
        .chain(metric_names(root))
        .chain(NOT_TEMPLATE_NAMES.iter().map(|s| (*s).to_owned()))
        .collect();
    let mut problems = Vec::new();
    for page in ["docs/operating.md", "docs/security.md", "README.md"] {
        for word in backticked_camel_case(&std::fs::read_to_string(root.join(page)).unwrap()) {
            if !known.contains(&word) {
                problems.push(format!(
                    "{page} names `{word}`, which is no parameter, output or resource of template.yaml and no metric \
                     the functions emit (if it is AWS's own name, add it to NOT_TEMPLATE_NAMES)"
                ));
            }
        }
    }
    problems
}

#[test]
fn every_template_name_in_the_operators_pages_exists() {
    let root = root();
    let words = template_words(&root);
    for sure in ["SendEmailsReservedConcurrency", "CallbackUrl", "ProvidersParameter", "TableName"] {
        assert!(words.contains(sure), "template.yaml's words were not read: {sure} missing from {words:?}");
    }
    let problems = template_name_problems(&root);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `path/to/file.rs::function_name` as the docs cite tests.
fn cited_tests(text: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (i, span) in text.split('`').enumerate() {
        if i % 2 == 1
            && let Some((file, name)) = span.split_once(".rs::")
            && !file.contains(' ')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            out.insert((format!("{file}.rs"), name.to_owned()));
        }
    }
    out
}

fn cited_test_problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for file in markdown_files(root) {
        for (source, name) in cited_tests(&std::fs::read_to_string(&file).unwrap()) {
            let Ok(code) = std::fs::read_to_string(root.join(&source)) else {
                problems.push(format!("{} cites {source}::{name}, but there is no {source}", relative(root, &file)));
                continue;
            };
            if !code.contains(&format!("fn {name}(")) {
                problems.push(format!(
                    "{} cites {source}::{name}, which is no function of {source}",
                    relative(root, &file)
                ));
            }
        }
    }
    problems
}

#[test]
fn every_test_the_docs_cite_exists() {
    let root = root();
    let security = std::fs::read_to_string(root.join("docs/security.md")).unwrap();
    assert!(cited_tests(&security).len() > 30, "docs/security.md cites its tests as `tests/<file>.rs::<test>`");
    let problems = cited_test_problems(&root);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `version = "…"` of Cargo.toml's `[workspace.package]`.
fn workspace_version(root: &Path) -> String {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let section = manifest.split("[workspace.package]").nth(1).expect("Cargo.toml has [workspace.package]");
    let line =
        section.lines().find(|l| l.trim_start().starts_with("version")).expect("[workspace.package] has a version");
    line.split('"').nth(1).expect("the version is quoted").to_owned()
}

/// The newest release of CHANGELOG.md: its first `## [x.y.z]` heading that is not `[Unreleased]`.
fn changelog_release(root: &Path) -> Option<String> {
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap();
    changelog
        .lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .filter_map(|l| l.split(']').next())
        .find(|v| !v.eq_ignore_ascii_case("unreleased"))
        .map(str::to_owned)
}

#[test]
fn the_changelogs_newest_release_is_the_workspace_version() {
    let root = root();
    let version = workspace_version(&root);
    assert_eq!(
        changelog_release(&root).as_deref(),
        Some(version.as_str()),
        "CHANGELOG.md's newest release must be Cargo.toml's workspace version {version} (what profile-link-admin --version prints)"
    );
}

#[test]
fn github_anchors_are_what_github_makes() {
    let text = "# profile-link\n## Before you deploy: the limits a new account meets\n### 2. Put the list, the portals into SSM\n\
                ## Preflight: `profile-link-admin doctor`\n## Playing SES's bounces\n## Try it\n## Try it\n```sh\n# not a heading\n```\n";
    let expected: BTreeSet<String> = [
        "profile-link",
        "before-you-deploy-the-limits-a-new-account-meets",
        "2-put-the-list-the-portals-into-ssm",
        "preflight-profile-link-admin-doctor",
        "playing-sess-bounces",
        "try-it",
        "try-it-1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(anchors(text), expected);
    let found: Vec<String> =
        links("see [a](docs/x.md#y), ![b](c.png \"t\"), `[not](a-link)`\n[ref]: other.md\n```\n[no](code)\n```")
            .into_iter()
            .map(|(_, t)| t)
            .collect();
    assert_eq!(found, ["docs/x.md#y", "c.png", "other.md"]);
}

/// Every `docs/<page>.md` (and `#anchor`) that the code, the template and the
/// scripts point people to: alarm descriptions, error messages, comments.
fn page_references(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("docs/") {
            let after = &rest[start + "docs/".len()..];
            let name_len =
                after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(after.len());
            let mut reference = format!("docs/{}", &after[..name_len]);
            let tail = &after[name_len..];
            if let Some(tail) = tail.strip_prefix(".md") {
                reference.push_str(".md");
                if let Some(fragment) = tail.strip_prefix('#') {
                    let len = fragment
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                        .unwrap_or(fragment.len());
                    // (`…md#{anchor}` in a format string names no heading itself.)
                    if len > 0 {
                        reference.push('#');
                        reference.push_str(&fragment[..len]);
                    }
                }
                found.push((number + 1, reference));
            }
            rest = &after[name_len..];
        }
    }
    found
}

fn code_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !SKIPPED.contains(&name.as_str()) {
                    walk(&path, out);
                }
            } else if [".rs", ".yaml", ".sh", ".mjs", ".py", ".toml"].iter().any(|e| name.ends_with(e))
                || path.parent().is_some_and(|p| p.ends_with("scripts"))
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for dir in ["functions", "infra", "scripts", "tests"] {
        walk(&root.join(dir), &mut out);
    }
    out.push(root.join("template.yaml"));
    out.sort();
    out
}

fn page_reference_problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    // (This file's own examples name pages that do not exist, on purpose.)
    for file in code_files(root).into_iter().filter(|f| !f.ends_with("tests/docs.rs")) {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for (line, reference) in page_references(&text) {
            let (page, fragment) = match reference.split_once('#') {
                Some((p, f)) => (p.to_owned(), Some(f.to_owned())),
                None => (reference.clone(), None),
            };
            let path = root.join(&page);
            if !path.exists() {
                problems.push(format!("{}:{line}: {reference}: no such page", relative(root, &file)));
            } else if let Some(fragment) = fragment
                && !anchors(&std::fs::read_to_string(&path).unwrap()).contains(&fragment)
            {
                problems.push(format!("{}:{line}: {reference}: {page} has no such heading", relative(root, &file)));
            }
        }
    }
    problems
}

/// Alarm descriptions, error messages and comments send people to a page:
/// each page and heading they name exists.
#[test]
fn every_page_the_code_and_template_point_to_exists() {
    let root = root();
    assert_eq!(
        page_references("see docs/operating.md#alarms, docs/gone.md and docs/x.png"),
        [(1, "docs/operating.md#alarms".to_owned()), (1, "docs/gone.md".to_owned())],
        "the references in a line"
    );
    let problems = page_reference_problems(&root);
    assert!(problems.is_empty(), "{} stale page reference(s):\n{}", problems.len(), problems.join("\n"));
    let named = code_files(&root)
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|t| page_references(&t).len())
        .sum::<usize>();
    assert!(named > 10, "the scan found only {named} page references: is it reading the code?");
}

/// The JSON blocks of the docs are what an operator pastes into SSM: each
/// must parse (a `//` comment in one would stop every function).
fn json_block_problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for file in markdown_files(root) {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut block: Option<(usize, String)> = None;
        for (number, line) in text.lines().enumerate() {
            // A ```json block, or a shell here-document `<<'JSON'` … `JSON`.
            match &mut block {
                None if line.trim_start() == "```json" || line.trim_end().ends_with("<<'JSON'") => {
                    block = Some((number + 1, String::new()))
                }
                Some((start, body)) if line.trim_start().starts_with("```") || line == "JSON" => {
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(body) {
                        problems.push(format!("{}:{start}: a json block that is not JSON: {e}", relative(root, &file)));
                    }
                    block = None;
                }
                Some((_, body)) => {
                    body.push_str(line);
                    body.push('\n');
                }
                None => {}
            }
        }
    }
    problems
}

#[test]
fn every_json_block_in_the_docs_is_json() {
    let root = root();
    let problems = json_block_problems(&root);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let blocks: usize = markdown_files(&root)
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines().filter(|l| l.trim_start() == "```json" || l.trim_end().ends_with("<<'JSON'")).count()
        })
        .sum();
    assert!(blocks >= 5, "only {blocks} json blocks found: is the scan reading the docs?");
}
