//! The repository documents itself: every link in the README and under `docs/` (and in the
//! crates' READMEs) resolves to a file, and a heading, inside the repository; no document points
//! at one outside it. Links are read with a Markdown parser, headings turned into anchors as
//! GitHub does.

use kyc_intake_tests::workspace;
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The Markdown files a reader starts from or is sent to.
fn documents() -> Vec<PathBuf> {
    let root = workspace();
    let mut files = vec![root.join("README.md"), root.join("idempotency/README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation other than `-` and `_`
/// dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The link targets and heading anchors of one Markdown text.
fn links_and_anchors(text: &str) -> (Vec<String>, BTreeSet<String>) {
    let mut links = Vec::new();
    let mut anchors = BTreeSet::new();
    let mut heading: Option<String> = None;
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) => links.push(dest_url.to_string()),
            Event::Start(Tag::Heading { .. }) => {
                heading = Some(String::new());
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    anchors.insert(anchor(&h));
                }
            }
            _ => {}
        }
    }
    (links, anchors)
}

fn anchors_of(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    links_and_anchors(&text).1
}

#[test]
fn headings_become_githubs_anchors() {
    assert_eq!(
        anchor("Event identity: what makes two deliveries the same event"),
        "event-identity-what-makes-two-deliveries-the-same-event"
    );
    assert_eq!(anchor("`kycctl` and `make run`"), "kycctl-and-make-run");
    let (links, anchors) =
        links_and_anchors("# A `b` c\n\nsee [x](docs/y.md#z) and [w](https://e.x)\n");
    assert_eq!(links, ["docs/y.md#z", "https://e.x"]);
    assert!(anchors.contains("a-b-c"));
}

#[test]
fn every_link_in_the_docs_resolves_inside_the_repository() {
    let root = workspace();
    let mut checked = 0usize;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("a document");
        let (links, own_anchors) = links_and_anchors(&text);
        let name = doc
            .strip_prefix(&root)
            .unwrap_or(&doc)
            .display()
            .to_string();
        for link in links {
            if link.starts_with("https://")
                || link.starts_with("http://")
                || link.starts_with("mailto:")
            {
                continue;
            }
            let (file, fragment) = link.split_once('#').unwrap_or((link.as_str(), ""));
            let target = if file.is_empty() {
                doc.clone()
            } else {
                doc.parent().expect("a folder").join(file)
            };
            let resolved = target
                .canonicalize()
                .unwrap_or_else(|_| panic!("{name}: `{link}` names no file"));
            assert!(
                resolved.starts_with(&root),
                "{name}: `{link}` points outside the repository"
            );
            if !fragment.is_empty() {
                let anchors = if file.is_empty() {
                    own_anchors.clone()
                } else {
                    anchors_of(&resolved)
                };
                assert!(
                    anchors.contains(fragment),
                    "{name}: `{link}`: no heading with that anchor"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} links");
}

#[test]
fn no_document_or_source_cites_a_file_outside_the_repository_or_narrates_history() {
    let root = workspace();
    let mut files = documents();
    for dir in [
        "shared/src",
        "idempotency/src",
        "tools",
        "functions",
        "tests",
    ] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("a folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs" || e == "md") {
                    files.push(path);
                }
            }
        }
    }
    // Spelled in two halves so this file does not match itself.
    let banned = [
        format!("{}{}", "DESIGN", ".md"),
        format!("{}{}", "PROVIDER-", "NOTES"),
        format!("{}{}", "provider-docs", " seed"),
        format!("{}{}", "this ", "round"),
        format!("{}{}", "issue ", "#"),
    ];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for b in &banned {
            assert!(
                !text.contains(b.as_str()),
                "{}: `{b}`",
                file.strip_prefix(&root).unwrap_or(&file).display()
            );
        }
    }
}

#[test]
fn the_testing_guide_counts_the_samples_and_kyc_local_documents_its_commands() {
    let testing = std::fs::read_to_string(workspace().join("docs/testing.md")).expect("testing.md");
    // The samples are counted nowhere by hand: the row names the file that lists them.
    assert!(
        testing.contains("| every sample in `events/` (each line of `events/expected.json`) |"),
        "docs/testing.md's row of the samples"
    );
    // Its commands as clap names them: the variants of `enum Command`, in kebab case (read from
    // the source: this binary builds nothing and runs no other).
    let main =
        std::fs::read_to_string(workspace().join("tools/local/src/main.rs")).expect("main.rs");
    let body = main
        .split_once("enum Command {")
        .and_then(|(_, rest)| rest.split_once("\n}"))
        .map(|(body, _)| body)
        .expect("kyc-local's enum Command");
    let kebab = |name: &str| {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    };
    let commands: BTreeSet<String> = body
        .lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .map(str::trim)
        .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
        .filter_map(|l| l.split(|c: char| !c.is_alphanumeric()).next().map(kebab))
        .collect();
    assert!(
        commands.contains("dead-letter") && commands.contains("serve"),
        "{commands:?}"
    );
    let documented: BTreeSet<String> = main
        .lines()
        .filter_map(|l| l.strip_prefix("//! kyc-local "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert_eq!(
        documented, commands,
        "kyc-local's module doc and its commands"
    );
}

/// The number a word in the docs says (`one` to `twelve`, or digits).
fn number(word: &str) -> Option<usize> {
    const WORDS: [&str; 12] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    let w = word
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    WORDS
        .iter()
        .position(|n| *n == w)
        .map(|i| i + 1)
        .or_else(|| w.parse().ok())
}

/// Every count of routes and of webhook functions a document states (`the five webhook routes`,
/// `the three webhook functions`, `five webhook URLs`) is the registry's.
#[test]
fn the_docs_count_routes_and_webhook_functions_as_the_registry_does() {
    use kyc_intake::sources::registry::{sources, FUNCTIONS};
    let routes = sources().count();
    let functions = FUNCTIONS.len();
    let mut checked = 0usize;
    for path in documents() {
        let text = std::fs::read_to_string(&path).expect("a document");
        let words: Vec<&str> = text.split_whitespace().collect();
        for (i, pair) in words.windows(3).enumerate() {
            let Some(n) = number(pair[0]) else { continue };
            let phrase = format!(
                "{} {}",
                pair[1],
                pair[2].trim_end_matches([',', '.', ';', ')'])
            );
            let want = match phrase.as_str() {
                "webhook routes" | "POST routes" | "webhook URLs" => routes,
                "routes on" if pair[1] == "routes" => routes,
                "webhook functions" => functions,
                _ => continue,
            };
            assert_eq!(
                n,
                want,
                "{}: \"{} {} {}\" (word {i})",
                path.display(),
                pair[0],
                pair[1],
                pair[2]
            );
            checked += 1;
        }
    }
    // The docs state no count of routes or functions by hand today (the tables are generated);
    // any that is written is held here.
    let _ = checked;
}

/// The targets the tests' own `cargo build` takes are the ones `make test` built: were they to
/// differ, every test run would compile what the difference names (a whole binary again, in
/// test mode, for `--all-targets`' benches).
#[test]
fn the_tests_build_what_make_test_built() {
    let makefile = std::fs::read_to_string(workspace().join("Makefile")).expect("Makefile");
    let targets = makefile
        .lines()
        .find_map(|l| l.strip_prefix("TARGETS := "))
        .expect("a TARGETS line in the Makefile");
    assert_eq!(
        targets.split_whitespace().collect::<Vec<_>>(),
        kyc_intake_tests::BUILT_TARGETS
    );
    for rule in ["rust-build:", "\nbuild:"] {
        let body = makefile
            .split(rule)
            .nth(1)
            .and_then(|r| r.split("\n\n").next())
            .expect("the rule");
        assert!(
            body.contains("cargo build --workspace $(TARGETS)"),
            "{rule} {body}"
        );
    }
}

/// A test that runs `make` or `cargo` runs it as a user's shell would (`outside_the_test`): under
/// the variables cargo gives a test, the build it makes is not `make test`'s and rebuilds the
/// workspace in the middle of the suite.
#[test]
fn the_tests_run_make_and_cargo_outside_the_tests_environment() {
    let mut sources = Vec::new();
    for dir in ["tests/integration", "tests/support"] {
        for entry in std::fs::read_dir(workspace().join(dir)).expect(dir) {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a test source");
                sources.push((path, text));
            }
        }
    }
    let mut runs = 0;
    for (path, text) in &sources {
        for (at, _) in text.match_indices("Command::new(") {
            let line = text[at..].lines().next().unwrap_or_default();
            let is_build = line.contains("\"make\"") || line.contains("Command::new(cargo)");
            if is_build {
                runs += 1;
                // `outside_the_test(&mut Command::new(..))`, or `let mut x = Command::new(..)`
                // and later `outside_the_test(&mut x)`.
                let before = &text[..at];
                let bound = before
                    .rsplit("let mut ")
                    .next()
                    .and_then(|b| b.strip_suffix(" = "))
                    .is_some_and(|name| {
                        text[at..].contains(&format!("outside_the_test(&mut {name})"))
                    });
                assert!(
                    before.ends_with("outside_the_test(&mut ") || bound,
                    "{}: {line} runs under the test's environment",
                    path.display()
                );
            }
        }
    }
    assert!(runs >= 3, "the check found the runs it guards ({runs})");
}
