//! `kyc-local generate`: writes every provider-specific part of the repository from the registry
//! (`kyc_intake::sources::registry`), so a provider is its folder, one registry line and its
//! samples. Each generated part sits between `# BEGIN generated: <what>` and `# END generated`
//! lines (`<!-- … -->` in Markdown) and is whole entries, never a fragment of a hand-written one;
//! the text between the markers is never edited by hand. With `--check` nothing is written, and
//! every file that would change is reported with its diff.

pub mod docs;
pub mod view;

use askama::Template;
use std::path::{Path, PathBuf};
pub use view::{registry, Registry, RegistryError};

/// The template's generated regions, each by its marker's name.
#[derive(Template)]
#[template(path = "parameters.yml")]
struct Parameters<'a> {
    registry: &'a Registry,
}

#[derive(Template)]
#[template(path = "interface.yml")]
struct Interface<'a> {
    registry: &'a Registry,
}

#[derive(Template)]
#[template(path = "conditions.yml")]
struct Conditions<'a> {
    registry: &'a Registry,
}

#[derive(Template)]
#[template(path = "resources.yml")]
struct Resources<'a> {
    registry: &'a Registry,
}

#[derive(Template)]
#[template(path = "outputs.yml")]
struct Outputs<'a> {
    registry: &'a Registry,
}

#[derive(Template)]
#[template(path = "function_main.rs", escape = "none")]
struct FunctionMain<'a> {
    binary: &'a str,
    module: &'a str,
}

#[derive(Template)]
#[template(path = "function_cargo.toml", escape = "none")]
struct FunctionCargo<'a> {
    binary: &'a str,
}

/// Filters the templates use to write YAML as a person would.
mod filters {
    use std::fmt::Display;

    /// `text` as a folded block's lines: words wrapped before column 100, each line indented.
    pub fn folded<T: Display>(
        text: T,
        _: &dyn askama::Values,
        indent: usize,
    ) -> askama::Result<String> {
        Ok(super::fold(&text.to_string(), indent, 100))
    }

    /// A plain scalar where YAML reads it back as the same string, else a quoted one.
    pub fn scalar<T: Display>(text: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::scalar(&text.to_string()))
    }

    /// Always a double-quoted scalar (patterns).
    pub fn quoted<T: Display>(text: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::quoted(&text.to_string()))
    }

    /// A flow sequence's items.
    pub fn scalars(items: &&[&str], _: &dyn askama::Values) -> askama::Result<String> {
        Ok(items
            .iter()
            .map(|i| super::scalar(i))
            .collect::<Vec<_>>()
            .join(", "))
    }
}

/// `text` wrapped into lines of at most `width` columns, each indented by `indent`.
pub fn fold(text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            lines.push(format!("{pad}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(format!("{pad}{line}"));
    }
    lines.join("\n")
}

/// A double-quoted YAML scalar (JSON's escapes are YAML's).
pub fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// `text` plain when YAML would read it back as this string, else double-quoted.
pub fn scalar(text: &str) -> String {
    const WORDS: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
    ];
    let plain = !text.is_empty()
        && !WORDS.contains(&text.to_ascii_lowercase().as_str())
        && text.parse::<f64>().is_err()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ./_,()-+;'=".contains(c))
        && text.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '/')
        && !text.ends_with(' ');
    if plain {
        text.to_owned()
    } else {
        quoted(text)
    }
}

/// One file the generator writes, whole or between markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Relative to the repository's root.
    pub path: PathBuf,
    /// What it holds now (`None`: it does not exist).
    pub before: Option<String>,
    /// What the registry says it should hold.
    pub after: String,
}

impl Output {
    pub fn changes(&self) -> bool {
        self.before.as_deref() != Some(self.after.as_str())
    }
}

/// Why generation stopped, having written nothing.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{path}: {problem}")]
    Markers { path: String, problem: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("rendering {what}: {source}")]
    Render { what: String, source: askama::Error },
}

fn render(what: &str, template: &impl Template) -> Result<String, GenerateError> {
    template.render().map_err(|source| GenerateError::Render {
        what: what.to_owned(),
        source,
    })
}

/// A generated YAML region as a person would lay it out: each resource or output (an entry
/// with properties) after one blank line, single-line entries (conditions) together, no run of
/// blank lines, no trailing space.
fn laid_out(yaml: &str) -> String {
    let lines: Vec<&str> = yaml.lines().map(str::trim_end).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let entry = line.starts_with("  ")
            && line[2..].starts_with(|c: char| c.is_ascii_alphabetic())
            && line.ends_with(':');
        let has_body = lines
            .get(i + 1)
            .is_some_and(|next| next.starts_with("    "));
        let after_comment = out.last().is_some_and(|l| l.trim_start().starts_with('#'));
        if entry && has_body && !after_comment && out.last().is_some_and(|l| !l.is_empty()) {
            out.push("");
        }
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// Every region of `template.yaml`, by its marker's name.
pub fn template_regions(r: &Registry) -> Result<Vec<(&'static str, String)>, GenerateError> {
    Ok(vec![
        (
            "interface",
            laid_out(&render("interface", &Interface { registry: r })?),
        ),
        (
            "parameters",
            laid_out(&render("parameters", &Parameters { registry: r })?),
        ),
        (
            "conditions",
            laid_out(&render("conditions", &Conditions { registry: r })?),
        ),
        (
            "resources",
            laid_out(&render("resources", &Resources { registry: r })?),
        ),
        (
            "outputs",
            laid_out(&render("outputs", &Outputs { registry: r })?),
        ),
    ])
}

/// The marker lines of a file: `# …` in YAML, `<!-- … -->` in Markdown and JSON Schema's
/// neighbours have none.
#[derive(Debug, Clone, Copy)]
pub struct Markers {
    pub open: &'static str,
    pub close: &'static str,
}

pub const YAML: Markers = Markers {
    open: "# ",
    close: "",
};
pub const MARKDOWN: Markers = Markers {
    open: "<!-- ",
    close: " -->",
};

/// `text` with each `(name, body)` region's lines replaced by `body`. Every region of the file
/// must be one the generator knows, each known region must be in the file once, and the markers
/// keep their own indentation.
pub fn fill(
    path: &str,
    text: &str,
    markers: Markers,
    regions: &[(&str, String)],
) -> Result<String, GenerateError> {
    let refuse = |problem: String| GenerateError::Markers {
        path: path.to_owned(),
        problem,
    };
    let begin = format!("{}BEGIN generated: ", markers.open);
    let end = format!("{}END generated{}", markers.open, markers.close);
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n');
    let mut seen = Vec::new();
    while let Some(line) = lines.next() {
        out.push_str(line);
        let Some(name) = line
            .trim()
            .strip_prefix(&begin)
            .and_then(|rest| rest.strip_suffix(markers.close))
        else {
            continue;
        };
        let Some((_, body)) = regions.iter().find(|(n, _)| *n == name) else {
            return Err(refuse(format!("no generated region is called `{name}`")));
        };
        if seen.contains(&name) {
            return Err(refuse(format!("region `{name}` twice")));
        }
        seen.push(name);
        let closed = lines.by_ref().find(|l| l.trim() == end);
        let Some(close) = closed else {
            return Err(refuse(format!("region `{name}` has no `{end}` line")));
        };
        if !body.trim().is_empty() {
            out.push_str(body.trim_matches('\n'));
            out.push('\n');
        }
        out.push_str(close);
    }
    if let Some((missing, _)) = regions.iter().find(|(n, _)| !seen.contains(n)) {
        return Err(refuse(format!(
            "no `{begin}{missing}{}` line: the generated region is missing",
            markers.close
        )));
    }
    Ok(out)
}

fn read(root: &Path, path: &str) -> Result<Option<String>, GenerateError> {
    match std::fs::read_to_string(root.join(path)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(GenerateError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn regions_of(
    root: &Path,
    path: &str,
    markers: Markers,
    regions: &[(&str, String)],
) -> Result<Output, GenerateError> {
    let before = read(root, path)?.ok_or_else(|| GenerateError::Markers {
        path: path.to_owned(),
        problem: "missing".to_owned(),
    })?;
    let after = fill(path, &before, markers, regions)?;
    Ok(Output {
        path: path.into(),
        before: Some(before),
        after,
    })
}

/// Every file the registry `r` writes, as it is and as it should be, for the repository at
/// `root`. Nothing is written here.
pub fn outputs(root: &Path, r: &Registry) -> Result<Vec<Output>, GenerateError> {
    let mut all = vec![regions_of(
        root,
        "template.yaml",
        YAML,
        &template_regions(r)?,
    )?];
    for (path, regions) in docs::regions(r) {
        all.push(regions_of(root, path, MARKDOWN, &regions)?);
    }
    all.push(docs::schema(root, r)?);
    all.extend(function_crates(root, r)?);
    Ok(all)
}

/// A webhook function's crate, `functions/<provider>/`, when it is missing (an existing one is
/// the team's to change and is left alone).
fn function_crates(root: &Path, r: &Registry) -> Result<Vec<Output>, GenerateError> {
    let mut crates = Vec::new();
    for f in &r.functions {
        let folder = format!("functions/{}", f.provider);
        if root.join(&folder).exists() {
            continue;
        }
        crates.push(Output {
            path: format!("{folder}/Cargo.toml").into(),
            before: None,
            after: render(&folder, &FunctionCargo { binary: f.binary })? + "\n",
        });
        crates.push(Output {
            path: format!("{folder}/src/main.rs").into(),
            before: None,
            after: render(
                &folder,
                &FunctionMain {
                    binary: f.binary,
                    module: f.provider,
                },
            )? + "\n",
        });
    }
    Ok(crates)
}

/// Write every output that changes; all are computed before the first is written, so an error
/// writes nothing.
pub fn write(root: &Path, outputs: &[Output]) -> Result<(), GenerateError> {
    for o in outputs.iter().filter(|o| o.changes()) {
        let path = root.join(&o.path);
        let io = |source| GenerateError::Io {
            path: o.path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&path, &o.after).map_err(io)?;
    }
    Ok(())
}

/// A unified diff of what would change in `o`, for `--check`.
pub fn diff(o: &Output) -> String {
    let path = o.path.display().to_string();
    similar::TextDiff::from_lines(o.before.as_deref().unwrap_or(""), &o.after)
        .unified_diff()
        .context_radius(3)
        .header(&path, &format!("{path} (generated)"))
        .to_string()
}

#[cfg(test)]
mod tests;
