//! Reads Asterisk configuration files (`voicemail.conf`, app_voicemail's
//! `msgNNNN.txt` and `secret.conf`) the way Asterisk's `main/config.c` does:
//! `[category]` headers with `(!)` templates, `(+)` additions and inherited
//! categories; `name = value` and `name => value`, `+=` appends; `;` comments,
//! `\;` for a literal semicolon, `;-- ... --;` block comments (nested);
//! `#include` and `#tryinclude` (quoted or not, a wildcard in the file name, a
//! relative path read from the top file's directory, as Asterisk reads it from its
//! configuration directory); Windows line endings and a UTF-8 byte-order mark.
//!
//! Where Asterisk would refuse the whole file, this reader reports the line
//! (path and number) and goes on, so that one bad line costs one mailbox, not an
//! import: a line outside any category, a header without `]`, a line with no `=`.
//! `#exec` is never run: importing must not execute what a file says.
//!
//! Values can be secrets (a mailbox line holds its PIN): [`Var`]'s `Debug` never
//! shows one.

use std::fmt;
use std::path::{Path, PathBuf};

use super::report::{Location, Problem};

/// Nested `#include`s deeper than this are a loop Asterisk would also refuse.
const MAX_INCLUDE_DEPTH: usize = 32;

/// One `name = value` line.
#[derive(Clone)]
pub struct Var {
    pub name: String,
    pub value: String,
    pub at: Location,
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("name", &self.name)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// One `[name]` section, with its variables in file order.
#[derive(Debug, Clone)]
pub struct Category {
    pub name: String,
    /// `[name](!)`: only a template for others to inherit from.
    pub template: bool,
    pub vars: Vec<Var>,
}

impl Category {
    /// The last value of `name` (case-insensitive, as Asterisk looks options up).
    pub fn get(&self, name: &str) -> Option<&Var> {
        self.vars
            .iter()
            .rev()
            .find(|v| v.name.eq_ignore_ascii_case(name))
    }
}

/// A whole configuration, includes resolved.
#[derive(Debug, Clone, Default)]
pub struct Conf {
    pub categories: Vec<Category>,
}

impl Conf {
    /// The real (non-template) categories called `name`, case-insensitively.
    pub fn categories_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Category> {
        self.categories
            .iter()
            .filter(move |c| !c.template && c.name.eq_ignore_ascii_case(name))
    }
}

/// Why a configuration could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Reads `path` and everything it includes. Problems with single lines or
/// included files go to `problems`; only an unreadable `path` is an error.
pub fn read(path: &Path, problems: &mut Vec<Problem>) -> Result<Conf, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError {
        path: path.to_owned(),
        source,
    })?;
    let base = path.parent().map(Path::to_owned).unwrap_or_default();
    let mut reader = Reader {
        conf: Conf::default(),
        base,
        stack: vec![canonical(path)],
        problems,
    };
    reader.file(path, &bytes, None);
    Ok(reader.conf)
}

struct Reader<'p> {
    conf: Conf,
    /// Where relative includes are found.
    base: PathBuf,
    /// The files being read, outermost first: an include of one of them loops.
    stack: Vec<PathBuf>,
    problems: &'p mut Vec<Problem>,
}

/// Where the lines go: a category by index, or nowhere (before the first
/// header, or after a broken one) and each line is reported.
type Current = Option<usize>;

impl Reader<'_> {
    fn problem(&mut self, path: &Path, line: usize, message: impl Into<String>) {
        self.problems
            .push(Problem::new(Location::line(path, line), message.into()));
    }

    /// Reads one file's lines into the current category (an included file
    /// continues the category of the line that included it, as in Asterisk);
    /// returns nothing: the including file goes on in its own category.
    fn file(&mut self, path: &Path, bytes: &[u8], mut current: Current) {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut depth = 0usize;
        let mut latin1_noted = false;
        for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let number = index + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = match std::str::from_utf8(raw) {
                Ok(text) => text.to_owned(),
                Err(_) => {
                    if !latin1_noted {
                        latin1_noted = true;
                        self.problem(
                            path,
                            number,
                            "not UTF-8: read as ISO-8859-1 (app_voicemail's default charset)",
                        );
                    }
                    raw.iter().map(|&b| char::from(b)).collect()
                }
            };
            let text = strip_comments(&line, &mut depth);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            if text.starts_with('[') {
                current = self.header(path, number, text);
            } else if let Some(directive) = text.strip_prefix('#') {
                self.directive(path, number, directive, current);
            } else {
                self.variable(path, number, text, current);
            }
        }
        if depth > 0 {
            let lines = bytes.split(|&b| b == b'\n').count();
            self.problem(path, lines, "a ;-- block comment is never closed with --;");
        }
    }

    fn header(&mut self, path: &Path, number: usize, text: &str) -> Current {
        let Some(close) = text.find(']') else {
            self.problem(
                path,
                number,
                "category header without a closing ']': the lines up to the next header are skipped",
            );
            return None;
        };
        let name = text[1..close].trim().to_owned();
        let rest = text[close + 1..].trim();
        let mut category = Category {
            name: name.clone(),
            template: false,
            vars: Vec::new(),
        };
        let mut append = false;
        if !rest.is_empty() {
            let Some(options) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) else {
                self.problem(
                    path,
                    number,
                    format!(
                        "unexpected {:?} after the category name: the lines up to the next header are skipped",
                        clip(rest)
                    ),
                );
                return None;
            };
            for option in options.split(',').map(str::trim) {
                match option {
                    "!" => category.template = true,
                    "+" => append = true,
                    "" => {}
                    base => match self.conf.categories.iter().rev().find(|c| c.name == base) {
                        Some(found) => category.vars.extend(found.vars.iter().cloned()),
                        None => {
                            self.problem(
                                path,
                                number,
                                format!(
                                    "[{name}] inherits from [{}], which is not defined before it: \
                                         the lines up to the next header are skipped",
                                    clip(base)
                                ),
                            );
                            return None;
                        }
                    },
                }
            }
        }
        if append {
            match self.conf.categories.iter().rposition(|c| c.name == name) {
                Some(existing) => {
                    let template = category.template;
                    let target = &mut self.conf.categories[existing];
                    target.template |= template;
                    target.vars.extend(category.vars);
                    return Some(existing);
                }
                None => {
                    self.problem(
                        path,
                        number,
                        format!(
                            "[{name}](+) adds to a category that is not defined before it: \
                             the lines up to the next header are skipped"
                        ),
                    );
                    return None;
                }
            }
        }
        self.conf.categories.push(category);
        Some(self.conf.categories.len() - 1)
    }

    fn directive(&mut self, path: &Path, number: usize, directive: &str, current: Current) {
        let (word, argument) = match directive.split_once(|c: char| c.is_whitespace()) {
            Some((word, argument)) => (word, argument.trim()),
            None => (directive, ""),
        };
        let optional = match word.to_ascii_lowercase().as_str() {
            "include" => false,
            "tryinclude" => true,
            "exec" => {
                self.problem(
                    path,
                    number,
                    "#exec is not run: voiceportal never executes commands named in a \
                     configuration (inline what it prints)",
                );
                return;
            }
            _ => {
                self.problem(path, number, format!("unknown directive #{}", clip(word)));
                return;
            }
        };
        let target = dequote(argument);
        if target.is_empty() {
            self.problem(path, number, format!("#{word} needs a file name"));
            return;
        }
        let files = self.resolve(target);
        if files.is_empty() {
            if !optional {
                self.problem(
                    path,
                    number,
                    format!(
                        "included file {} does not exist (relative names are read from {})",
                        clip(target),
                        self.base.display()
                    ),
                );
            }
            return;
        }
        for file in files {
            self.include(path, number, &file, current);
        }
    }

    fn include(&mut self, from: &Path, number: usize, file: &Path, current: Current) {
        let key = canonical(file);
        if self.stack.contains(&key) {
            self.problem(
                from,
                number,
                format!(
                    "{} includes itself (through this line): not read again",
                    file.display()
                ),
            );
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.problem(from, number, "#include nested too deeply: not read");
            return;
        }
        match std::fs::read(file) {
            Ok(bytes) => {
                self.stack.push(key);
                self.file(file, &bytes, current);
                self.stack.pop();
            }
            Err(e) => self.problem(
                from,
                number,
                format!("cannot read included file {}: {e}", file.display()),
            ),
        }
    }

    /// The files an include names: one path, or the matches of a wildcard in
    /// its file name, sorted (as glob() gives them).
    fn resolve(&self, target: &str) -> Vec<PathBuf> {
        let path = Path::new(target);
        let path = if path.is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path)
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.contains(['*', '?']) {
            return if path.is_file() {
                vec![path]
            } else {
                Vec::new()
            };
        }
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .filter(|p| {
                        p.file_name()
                            .map(|n| wildcard_match(&name, &n.to_string_lossy()))
                            .unwrap_or(false)
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    }

    fn variable(&mut self, path: &Path, number: usize, text: &str, current: Current) {
        let Some(index) = current else {
            self.problem(path, number, "line outside any usable [category]: skipped");
            return;
        };
        let text = text.strip_prefix('\\').unwrap_or(text);
        let Some(equals) = text.find('=') else {
            self.problem(
                path,
                number,
                "expected `name = value` or `name => value`: skipped",
            );
            return;
        };
        let (mut name, mut value) = (&text[..equals], &text[equals + 1..]);
        let append = name.ends_with('+');
        if append {
            name = &name[..name.len() - 1];
        }
        value = value.strip_prefix('>').unwrap_or(value);
        let name = name.trim().to_owned();
        let value = value.trim().to_owned();
        if name.is_empty() {
            self.problem(path, number, "a value without a name: skipped");
            return;
        }
        let vars = &mut self.conf.categories[index].vars;
        if append && let Some(previous) = vars.iter_mut().rev().find(|v| v.name == name) {
            previous.value.push_str(&value);
            return;
        }
        vars.push(Var {
            name,
            value,
            at: Location::line(path, number),
        });
    }
}

/// Removes comments as Asterisk does: `;` to the end of the line, `\;` a literal
/// semicolon, `;--` opens a block comment (nested) that `--;` closes, across lines.
fn strip_comments(line: &str, depth: &mut usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if *depth > 0 {
            if c == '-' && chars.get(i + 1) == Some(&'-') && chars.get(i + 2) == Some(&';') {
                *depth -= 1;
                i += 3;
            } else if c == ';' && opens_block(&chars, i) {
                *depth += 1;
                i += 3;
            } else {
                i += 1;
            }
            continue;
        }
        match c {
            '\\' if chars.get(i + 1) == Some(&';') => {
                out.push(';');
                i += 2;
            }
            ';' if opens_block(&chars, i) => {
                *depth += 1;
                i += 3;
            }
            ';' => break,
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `;--` not followed by a third `-`.
fn opens_block(chars: &[char], at: usize) -> bool {
    chars.get(at + 1) == Some(&'-')
        && chars.get(at + 2) == Some(&'-')
        && chars.get(at + 3) != Some(&'-')
}

/// `"name"` or `<name>` as Asterisk strips them; anything else as is.
fn dequote(raw: &str) -> &str {
    for (open, close) in [('"', '"'), ('<', '>')] {
        if let Some(inner) = raw.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return inner;
        }
    }
    raw
}

/// Shell-style `*` and `?` (what an include's file name may use).
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ni));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ni = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

fn clip(raw: &str) -> String {
    raw.chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!(
                "vp-conf-{name}-{}-{}",
                std::process::id(),
                rand::random::<u32>()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }

        fn write(&self, name: &str, text: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn values(conf: &Conf, category: &str) -> Vec<(String, String)> {
        conf.categories_named(category)
            .flat_map(|c| c.vars.iter().map(|v| (v.name.clone(), v.value.clone())))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn comments_escapes_and_both_assignments() {
        let dir = Dir::new("basic");
        let path = dir.write(
            "voicemail.conf",
            "\u{feff}; header comment\r\n[general]\r\nformat=wav49|gsm|wav ; trailing\r\n\
             [default]\r\n1001 => 1234,Alice \\; Bob,a@b.org\r\n;-- block\r\n1002 => 9 --;\r\n\
             1003 => 5555 ;-- inline --; \r\n1004=>1,x\r\n1003 += ,more\r\n"
                .as_bytes(),
        );
        let mut problems = Vec::new();
        let conf = read(&path, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            values(&conf, "general"),
            pairs(&[("format", "wav49|gsm|wav")])
        );
        assert_eq!(
            values(&conf, "default"),
            pairs(&[
                ("1001", "1234,Alice ; Bob,a@b.org"),
                ("1003", "5555,more"),
                ("1004", "1,x"),
            ])
        );
        let at = &conf.categories_named("default").next().unwrap().vars[0].at;
        assert_eq!(at.to_string(), format!("{}:5", path.display()));
    }

    #[test]
    fn includes_continue_the_current_category_and_wildcards_sort() {
        let dir = Dir::new("include");
        dir.write("sales.conf", b"2001 => 1\n2002 => 2\n");
        dir.write("more/b.conf", b"[other]\n3002 => 4\n");
        dir.write("more/a.conf", b"[other]\n3001 => 3\n");
        let top = dir.write(
            "voicemail.conf",
            b"[default]\n#include \"sales.conf\"\n1001 => 9\n#include more/*.conf\n\
              #tryinclude nothing-here.conf\n#include <missing.conf>\n",
        );
        let mut problems = Vec::new();
        let conf = read(&top, &mut problems).unwrap();
        assert_eq!(
            values(&conf, "default"),
            pairs(&[("2001", "1"), ("2002", "2"), ("1001", "9")])
        );
        assert_eq!(
            values(&conf, "other"),
            pairs(&[("3001", "3"), ("3002", "4")])
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        let shown = problems[0].to_string();
        assert!(
            shown.starts_with(&format!("{}:6:", top.display())),
            "{shown}"
        );
        assert!(shown.contains("missing.conf"), "{shown}");
        // The included line knows its own file and line.
        let var = &conf.categories_named("default").next().unwrap().vars[1];
        assert_eq!(
            var.at.to_string(),
            format!("{}:2", dir.0.join("sales.conf").display())
        );
    }

    #[test]
    fn include_loops_and_exec_are_reported_not_followed() {
        let dir = Dir::new("loop");
        dir.write("b.conf", b"#include a.conf\n1002 => 2\n");
        let a = dir.write(
            "a.conf",
            b"[default]\n#include b.conf\n#exec /bin/echo 9 => 9\n",
        );
        let mut problems = Vec::new();
        let conf = read(&a, &mut problems).unwrap();
        assert_eq!(values(&conf, "default"), pairs(&[("1002", "2")]));
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|p| p.contains("includes itself")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|p| p.contains("#exec is not run")),
            "{text:?}"
        );
    }

    #[test]
    fn templates_additions_and_inheritance() {
        let dir = Dir::new("templates");
        let path = dir.write(
            "voicemail.conf",
            b"[base](!)\nattach=yes\n[default](base)\n1001 => 1\n[other]\n5 => 5\n[default](+)\n1002 => 2\n",
        );
        let mut problems = Vec::new();
        let conf = read(&path, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            conf.categories_named("base").count(),
            0,
            "a template is no context"
        );
        assert_eq!(
            values(&conf, "default"),
            pairs(&[("attach", "yes"), ("1001", "1"), ("1002", "2")])
        );
    }

    #[test]
    fn malformed_lines_are_reported_with_their_line_and_skipped() {
        let dir = Dir::new("bad");
        let path = dir.write(
            "voicemail.conf",
            b"orphan => 1\n[default\n1001 => 1\n[default]\nno equals sign\n1002 => 2\n[x](nope)\n9 => 9\n",
        );
        let mut problems = Vec::new();
        let conf = read(&path, &mut problems).unwrap();
        assert_eq!(values(&conf, "default"), pairs(&[("1002", "2")]));
        let lines: Vec<String> = problems
            .iter()
            .map(|p| p.at.line.map(|l| l.to_string()).unwrap_or_default())
            .collect();
        assert_eq!(lines, ["1", "2", "3", "5", "7", "8"], "{problems:?}");
        assert!(conf.categories_named("x").next().is_none());
    }

    #[test]
    fn latin1_lines_are_read_and_noted_once() {
        let dir = Dir::new("latin1");
        let path = dir.write(
            "voicemail.conf",
            b"[default]\n1001 => 1,Jos\xe9\n1002 => 2,Ren\xe9e\n",
        );
        let mut problems = Vec::new();
        let conf = read(&path, &mut problems).unwrap();
        assert_eq!(
            values(&conf, "default"),
            pairs(&[("1001", "1,José"), ("1002", "2,Renée")])
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("ISO-8859-1"));
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let err = read(Path::new("/nonexistent/voicemail.conf"), &mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/voicemail.conf"),
            "{err}"
        );
    }

    #[test]
    fn debug_of_a_variable_never_shows_its_value() {
        let var = Var {
            name: "1001".into(),
            value: "90817263,Alice".into(),
            at: Location::line(Path::new("v.conf"), 3),
        };
        assert!(!format!("{var:?}").contains("90817263"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.conf", "a.conf"));
        assert!(wildcard_match("vm-?.conf", "vm-1.conf"));
        assert!(!wildcard_match("*.conf", "a.conf.bak"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b", "ac"));
    }
}
