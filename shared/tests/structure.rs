//! The library's shape, held: no module imports one that imports it back (directly or through
//! others), no folder of `src/` imports one that imports it back (each module counted as its
//! top-level folder or file), and no file is over 600 lines before its tests. A module is one file; what it
//! imports is every `crate::`, `super::` or `self::` path in it, every path through a child it
//! declares, and every name of a `use` group, outside its `#[cfg(test)] mod tests`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

type Module = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, with its module path (`intake/auth/mod.rs` is `intake::auth`).
fn modules(dir: &Path, root: &Path, out: &mut BTreeMap<Module, PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            modules(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            let mut module: Module = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|l| l == "mod" || l == "lib") {
                module.pop();
            }
            out.insert(module, path);
        }
    }
}

/// The file's code before its tests, without comments.
fn code(text: &str) -> String {
    let before_tests = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |i| &text[..i]);
    before_tests
        .lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string (a URL) is rare in the library's code; a comment is common.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The path that starts at byte `at` of `code`: its segments, and each path of a `{...}` group
/// that follows them, expanded.
fn paths_at(code: &str, at: usize) -> Vec<Vec<String>> {
    let rest = &code[at..];
    let mut segments = Vec::new();
    let mut i = 0;
    loop {
        if rest[i..].starts_with('{') {
            let mut all = vec![segments.clone()];
            for item in split_top(&group(&rest[i..])) {
                let item = item.trim();
                if item.is_empty() || item == "self" || item.starts_with("self ") {
                    continue;
                }
                for tail in paths_at(item, 0) {
                    let mut path = segments.clone();
                    path.extend(tail);
                    all.push(path);
                }
            }
            return all;
        }
        let end = rest[i..]
            .find(|c: char| !is_ident(c))
            .map_or(rest.len(), |n| i + n);
        if end == i {
            return vec![segments];
        }
        segments.push(rest[i..end].to_owned());
        i = end;
        if !rest[i..].starts_with("::") {
            return vec![segments];
        }
        i += 2;
    }
}

/// The inside of the `{...}` that `text` starts with.
fn group(text: &str) -> String {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return text[1..i].to_owned();
                }
            }
            _ => {}
        }
    }
    text[1..].to_owned()
}

/// `a, b::{c, d}, e` split at its top-level commas.
fn split_top(group: &str) -> Vec<String> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(group[start..i].to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(group[start..].to_owned());
    items
}

/// The modules `module` (whose code is `code`) imports, among `known`.
fn imports(module: &Module, code: &str, known: &BTreeMap<Module, PathBuf>) -> BTreeSet<Module> {
    let children: BTreeSet<&str> = code
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';')
        })
        .collect();
    let mut found = BTreeSet::new();
    for (at, _) in code.char_indices() {
        let before = &code[..at];
        if before.chars().next_back().is_some_and(is_ident) || before.ends_with("::") {
            continue;
        }
        let rest = &code[at..];
        let (start, skip): (Module, usize) = if rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if rest.starts_with("super::") || rest.starts_with("self::") {
            let mut base = module.clone();
            let mut skip = 0;
            if rest.starts_with("self::") {
                skip = "self::".len();
            }
            while code[at + skip..].starts_with("super::") {
                base.pop();
                skip += "super::".len();
            }
            (base, skip)
        } else if children.iter().any(|c| rest.starts_with(&format!("{c}::"))) {
            (module.clone(), 0)
        } else {
            continue;
        };
        for tail in paths_at(code, at + skip) {
            let mut path = start.clone();
            path.extend(tail);
            if let Some(target) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| known.contains_key(p))
            {
                if &target != module {
                    found.insert(target);
                }
            }
        }
    }
    found
}

/// The strongly connected components of more than one module (Tarjan).
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn graph(root: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut known = BTreeMap::new();
    modules(root, root, &mut known);
    known
        .iter()
        .map(|(module, path)| {
            let text = std::fs::read_to_string(path).expect("a source file");
            let mut targets = imports(module, &code(&text), &known);
            // The crate root only declares and re-exports: an import of it is no tie.
            targets.remove(&Vec::new());
            (module.clone(), targets)
        })
        .collect()
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "lib".to_owned()
    } else {
        m.join("::")
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let edges = graph(&src());
    let found = circles(&edges);
    let report: Vec<String> = found
        .iter()
        .map(|c| {
            let members: BTreeSet<&Module> = c.iter().collect();
            let ties: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|b| members.contains(b))
                        .map(move |b| format!("{} -> {}", name(a), name(b)))
                })
                .collect();
            ties.join(", ")
        })
        .collect();
    assert!(report.is_empty(), "import circles: {report:#?}");
}

/// The graph with every module collapsed to its room: the top-level folder it is in, or its own
/// file at the top (`intake::auth::ip` is `intake`, `config` is `config`).
fn rooms(edges: &BTreeMap<Module, BTreeSet<Module>>) -> BTreeMap<Module, BTreeSet<Module>> {
    let room = |m: &Module| m.iter().take(1).cloned().collect::<Module>();
    let mut out: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, targets) in edges {
        let entry = out.entry(room(from)).or_default();
        entry.extend(
            targets
                .iter()
                .map(room)
                .filter(|to| *to != room(from) && !to.is_empty()),
        );
    }
    out
}

#[test]
fn no_folder_imports_one_that_imports_it_back() {
    let edges = rooms(&graph(&src()));
    let report: Vec<String> = circles(&edges)
        .iter()
        .map(|c| {
            let members: BTreeSet<&Module> = c.iter().collect();
            c.iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|b| members.contains(b))
                        .map(move |b| format!("{} -> {}", name(a), name(b)))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    assert!(report.is_empty(), "folder circles: {report:#?}");
}

/// The crates of Lambda's own types: its events, its HTTP request, its runtime.
const LAMBDA_CRATES: &[&str] = &["aws_lambda_events", "lambda_http", "lambda_runtime"];

#[test]
fn lambdas_own_types_are_read_in_runtime_alone() {
    let mut known = BTreeMap::new();
    modules(&src(), &src(), &mut known);
    let outside: Vec<String> = known
        .iter()
        .filter(|(module, _)| module.first().is_some_and(|room| room != "runtime"))
        .filter_map(|(module, path)| {
            let code = code(&std::fs::read_to_string(path).expect("a source file"));
            let named: Vec<&str> = LAMBDA_CRATES
                .iter()
                .copied()
                .filter(|c| code.contains(&format!("{c}::")))
                .collect();
            (!named.is_empty()).then(|| format!("{}: {}", name(module), named.join(", ")))
        })
        .collect();
    assert!(
        outside.is_empty(),
        "Lambda's types outside runtime/: {outside:#?}"
    );
}

#[test]
fn the_fakes_for_tests_are_built_for_tests_alone() {
    let mut known = BTreeMap::new();
    modules(&src(), &src(), &mut known);
    let mut ungated = Vec::new();
    for (module, path) in &known {
        let text = std::fs::read_to_string(path).expect("a source file");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let declares = line.trim_start().trim_start_matches("pub ");
            if declares == "mod memory;" && !lines[..i].last().is_some_and(|l| l.contains("cfg(")) {
                ungated.push(name(module));
            }
        }
    }
    assert!(
        ungated.is_empty(),
        "a `memory` module outside cfg(test/test-util): {ungated:?}"
    );
}

#[test]
fn the_cycle_check_sees_a_circle_through_a_use_group_a_child_and_super() {
    let dir = std::env::temp_dir().join(format!("structure-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).expect("a folder");
    let write = |p: &str, text: &str| std::fs::write(dir.join(p), text).expect("a file");
    write("lib.rs", "pub mod a;\npub mod b;\n");
    write("a/mod.rs", "pub mod inner;\npub fn f() { inner::g(); }\n");
    write(
        "a/inner.rs",
        "use crate::{b::{self, h}};\npub fn g() { h() }\n",
    );
    write(
        "b.rs",
        "// crate::c is a comment\npub fn h() { super::a::f() }\n",
    );
    let edges = graph(&dir);
    let a = vec!["a".to_owned()];
    let inner = vec!["a".to_owned(), "inner".to_owned()];
    let b = vec!["b".to_owned()];
    assert!(edges[&a].contains(&inner), "a child's path: {edges:?}");
    assert!(edges[&inner].contains(&b), "a use group: {edges:?}");
    assert!(edges[&b].contains(&a), "super: {edges:?}");
    assert_eq!(circles(&edges).len(), 1, "{edges:?}");
    // Without the way back, no circle.
    write("b.rs", "pub fn h() {}\n");
    assert!(circles(&graph(&dir)).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source files of every crate of the workspace (each crate's `src/`; test suites, whose
/// files are all tests, are not counted).
fn workspace_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf();
    let mut crates = vec![root.join("shared"), root.join("idempotency")];
    for group in ["functions", "tools"] {
        if let Ok(entries) = std::fs::read_dir(root.join(group)) {
            crates.extend(entries.flatten().map(|e| e.path()));
        }
    }
    let mut files = Vec::new();
    for krate in crates {
        rust_files(&krate.join("src"), &mut files);
    }
    files.sort();
    files
}

#[test]
fn no_file_is_over_600_lines_before_its_tests() {
    let files = workspace_sources();
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("tools/kycctl/src/main.rs")),
        "every crate's sources: {files:?}"
    );
    let long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).expect("a source file");
            let before = text
                .find("#[cfg(test)]\nmod tests")
                .map_or(text.as_str(), |i| &text[..i]);
            let lines = before.lines().count();
            (lines > MAX_LINES).then(|| format!("{}: {lines}", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}
