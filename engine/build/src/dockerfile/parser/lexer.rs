//! Physical lines to logical lines: buildkit's `parser.Parse` loop (as vendored by Docker
//! 20.10). It strips the BOM, reads the parser directives at the top, drops comment and blank
//! lines, and joins continuation lines. What a line *means* is decided later.

use super::{ErrorKind, ParseError};

/// `bufio.Scanner`'s default limit: Docker fails on a line this long or longer.
const MAX_LINE: usize = 64 * 1024;

/// One instruction's text with the physical lines it spans (1-based, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    pub start: usize,
    pub end: usize,
    /// The joined text: the first line left-trimmed, continuation lines as written minus the
    /// escape token (so their indentation is kept, as Docker does).
    pub text: String,
}

#[derive(Debug)]
pub(crate) struct Lexed {
    pub escape: char,
    pub syntax: Option<String>,
    pub lines: Vec<LogicalLine>,
    pub warnings: Vec<String>,
    /// Line number of a physical line over [`MAX_LINE`]: Docker's scanner stops there and the
    /// parse fails once the lines before it are in.
    pub too_long_at: Option<usize>,
}

/// The parser directives' state (buildkit's `directives`).
struct Directives {
    escape: char,
    syntax: Option<String>,
    seen_escape: bool,
    seen_syntax: bool,
    /// Set by the first line that is not a directive: directives are only read at the top.
    done: bool,
}

impl Directives {
    /// `possibleParserDirective`: look at a line while still at the top of the file.
    fn check(&mut self, line: &str, line_no: usize) -> Result<(), ParseError> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = match_directive(line) else {
            self.done = true;
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        let err = |m: String| ParseError::new(ErrorKind::Syntax, Some(line_no), m);
        match name.as_str() {
            "escape" => {
                if self.seen_escape {
                    return Err(err("only one escape parser directive can be used".into()));
                }
                self.seen_escape = true;
                self.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => return Err(err(format!("invalid escape token '{other}' does not match ` or \\"))),
                };
            }
            "syntax" => {
                if self.seen_syntax {
                    return Err(err("only one syntax parser directive can be used".into()));
                }
                self.seen_syntax = true;
                self.syntax = Some(value.to_string());
            }
            // An unknown directive is just a comment, and it ends the directives.
            _ => self.done = true,
        }
        Ok(())
    }
}

/// Go's regexp `\s`: ASCII whitespace without `\v`.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, written out. Returns (name, value).
pub(crate) fn match_directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_re_space);
    let first = rest.chars().next()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let name_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    let (name, rest) = rest.split_at(name_len);
    let after_eq = rest.trim_start_matches(is_re_space).strip_prefix('=')?;
    // `.+?` needs one character; the greedy `\s*` before it gives one back when the value is
    // all whitespace, so `# escape= ` has the value " " (and is then an invalid token).
    let value = after_eq.trim_start_matches(is_re_space);
    if !value.is_empty() {
        return Some((name, value.trim_end_matches(is_re_space)));
    }
    let last = after_eq.char_indices().last()?.0;
    Some((name, &after_eq[last..]))
}

/// The continuation regex `([^E])E[ \t]*$|^E[ \t]*$` (E = escape). Returns the line without
/// the escape token and its trailing blanks when the line continues. An escaped escape token
/// at the end (`foo \\`) does not continue, as in Docker.
pub(crate) fn trim_continuation(line: &str, escape: char) -> Option<&str> {
    let body = line.trim_end_matches([' ', '\t']);
    let before = body.strip_suffix(escape)?;
    match before.chars().next_back() {
        None => Some(""),
        Some(c) if c == escape => None,
        Some(_) => Some(before),
    }
}

/// A line whose first non-blank character is `#`.
fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// `bufio.ScanLines`: split on `\n`, drop one `\r` before it; a last line without `\n` counts,
/// an empty one after the final `\n` does not.
fn physical_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines.into_iter().map(|l| l.strip_suffix('\r').unwrap_or(l)).collect()
}

pub(crate) fn lex(text: &str) -> Result<Lexed, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut physical = physical_lines(text);
    let mut too_long_at = None;
    if let Some(i) = physical.iter().position(|l| l.len() >= MAX_LINE) {
        too_long_at = Some(i + 1);
        physical.truncate(i);
    }
    let mut d = Directives { escape: '\\', syntax: None, seen_escape: false, seen_syntax: false, done: false };
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    let mut it = physical.into_iter().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((start, raw)) = it.next() {
        let first = raw.trim_start();
        d.check(first, start)?;
        // A comment (or a directive) leaves nothing on the line.
        let first = if first.starts_with('#') { "" } else { first };
        let (mut line, mut continues) = match trim_continuation(first, d.escape) {
            Some(l) => (l.to_string(), true),
            None => (first.to_string(), false),
        };
        if !continues && line.is_empty() {
            continue;
        }
        let mut end = start;
        let mut empty_continuation = false;
        while continues {
            let Some((n, raw)) = it.next() else { break };
            end = n;
            d.check(raw, n)?;
            if is_comment(raw) {
                continue;
            }
            if raw.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            match trim_continuation(raw, d.escape) {
                Some(l) => line.push_str(l),
                None => {
                    line.push_str(raw);
                    continues = false;
                }
            }
        }
        if empty_continuation {
            warnings.push(format!("[WARNING]: Empty continuation line found in:\n    {line}"));
        }
        lines.push(LogicalLine { start, end, text: line });
    }
    if !warnings.is_empty() {
        warnings.push("[WARNING]: Empty continuation lines will become errors in a future release.".into());
    }
    Ok(Lexed { escape: d.escape, syntax: d.syntax, lines, warnings, too_long_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_regex() {
        assert_eq!(match_directive("# escape=`"), Some(("escape", "`")));
        assert_eq!(match_directive("#Escape = \\  "), Some(("Escape", "\\")));
        assert_eq!(match_directive("# escape= "), Some(("escape", " ")));
        assert_eq!(match_directive("# escape="), None);
        assert_eq!(match_directive("# 1x=y"), None);
        assert_eq!(match_directive("# a b=c"), None);
        assert_eq!(match_directive(" # a=b"), None);
    }

    #[test]
    fn continuation_regex() {
        assert_eq!(trim_continuation("a \\", '\\'), Some("a "));
        assert_eq!(trim_continuation("a\\ \t ", '\\'), Some("a"));
        assert_eq!(trim_continuation("\\", '\\'), Some(""));
        assert_eq!(trim_continuation("  \\", '\\'), Some("  "));
        assert_eq!(trim_continuation("a \\\\", '\\'), None);
        assert_eq!(trim_continuation("a \\x", '\\'), None);
        assert_eq!(trim_continuation("a `", '`'), Some("a "));
        assert_eq!(trim_continuation("a \\", '`'), None);
    }

    #[test]
    fn joins_and_counts_lines() {
        let l = lex("\u{feff}FROM a\n\nRUN x \\\n  # c\n\n   y\r\nRUN z \\").unwrap();
        let got: Vec<_> = l.lines.iter().map(|l| (l.start, l.end, l.text.as_str())).collect();
        assert_eq!(got, vec![(1, 1, "FROM a"), (3, 6, "RUN x    y"), (7, 7, "RUN z ")]);
        assert_eq!(l.warnings.len(), 2);
        assert!(l.warnings[0].starts_with("[WARNING]: Empty continuation line found in:\n    RUN x"));
    }
}
