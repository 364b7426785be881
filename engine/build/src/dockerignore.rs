//! `.dockerignore` (buildkit's `dockerignore.ReadAll` and moby's pattern matcher, as Docker
//! 20.10 uses them).
//!
//! - Lines starting with `#` *in column 1* are comments; the others are trimmed, empty ones
//!   skipped; a leading `!` makes an exception.
//! - Patterns are cleaned like Go's `filepath.Clean`, and a leading `/` is dropped, so `/foo`,
//!   `./foo` and `foo/` all mean `foo`.
//! - Syntax is Go's `filepath.Match` (`*` and `?` never cross `/`, `[a-z]`/`[^a-z]` classes,
//!   `\` escapes), checked up front like Docker does, plus `**` with Docker's meaning: `**/`
//!   is any number of directories (including none), a final `**` is anything.
//! - A pattern that matches a parent directory matches everything below it.
//! - The last pattern that matches decides.

/// A `.dockerignore` Docker would refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    /// Not valid `filepath.Match` syntax (Docker says "syntax error in pattern"); the pattern
    /// as cleaned, without its `!`.
    #[error("syntax error in pattern: {pattern}")]
    BadPattern { pattern: String },
    /// A line that is only `!`.
    #[error("illegal exclusion pattern: \"!\"")]
    IllegalExclusion,
}

/// The parsed patterns of a `.dockerignore`.
#[derive(Clone, Debug, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Clone, Debug)]
struct Pattern {
    /// Cleaned, without the `!`.
    text: String,
    exception: bool,
    tokens: Vec<Tok>,
}

/// One element of a compiled pattern.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Lit(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any run of characters without `/`.
    Star,
    /// `[…]`: one character in (or, negated, not in) the ranges.
    Class { negated: bool, ranges: Vec<(char, char)> },
    /// `**/` or a `**` followed by more pattern: nothing, or anything ending in `/`.
    DirStar,
    /// `**` at the end: anything.
    Rest,
}

impl DockerIgnore {
    /// Read a `.dockerignore`'s bytes (a UTF-8 BOM is skipped; bad UTF-8 is read lossily).
    pub fn parse(text: &[u8]) -> Result<DockerIgnore, IgnoreError> {
        let text = String::from_utf8_lossy(text);
        let mut patterns = Vec::new();
        for line in read_all(&text) {
            // The matcher cleans again, the `!` included (so `!/` ends up as a lone `!`).
            let p = clean(line.trim());
            let (exception, p) = match p.strip_prefix('!') {
                Some("") => return Err(IgnoreError::IllegalExclusion),
                Some(rest) => (true, rest.to_string()),
                None => (false, p),
            };
            validate(&p).map_err(|()| IgnoreError::BadPattern { pattern: p.clone() })?;
            let tokens = compile(&p).ok_or_else(|| IgnoreError::BadPattern { pattern: p.clone() })?;
            patterns.push(Pattern { text: p, exception, tokens });
        }
        Ok(DockerIgnore { patterns })
    }

    /// The patterns as Docker lists them (`!` first for exceptions), for messages and tests.
    pub fn patterns(&self) -> Vec<String> {
        self.patterns.iter().map(|p| if p.exception { format!("!{}", p.text) } else { p.text.clone() }).collect()
    }

    /// Whether `rel_path` (slash-separated, relative to the context root) is left out of the
    /// context. The root itself is never excluded.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let path = clean(rel_path);
        if path == "." {
            return false;
        }
        let path: Vec<char> = path.chars().collect();
        // The ends of the parent directories: "a/b/c" has parents "a" and "a/b".
        let parents: Vec<usize> = path.iter().enumerate().filter(|(_, c)| **c == '/').map(|(i, _)| i).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // Only a pattern that could flip the answer needs looking at.
            if p.exception != excluded {
                continue;
            }
            let hit = matches(&p.tokens, &path) || parents.iter().any(|&end| matches(&p.tokens, &path[..end]));
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether some pattern is an exception (`!…`): then an excluded directory may still hold
    /// included files, and a walker must look inside it (see [`Self::may_reinclude_under`]).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// Whether an exception could re-include something under the directory `dir`. Errs on the
    /// side of `true`; `false` means the walker can skip an excluded `dir` entirely.
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        let dir = clean(dir);
        let dir: Vec<&str> = if dir == "." { Vec::new() } else { dir.split('/').collect() };
        self.patterns.iter().filter(|p| p.exception).any(|p| exception_reaches(&p.text, &dir))
    }
}

/// Whether the exception `pattern` could match `dir` itself, an ancestor, or something below.
fn exception_reaches(pattern: &str, dir: &[&str]) -> bool {
    let parts: Vec<&str> = pattern.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let Some(d) = dir.get(i) else {
            // The pattern goes deeper than `dir`.
            return true;
        };
        if part.contains("**") {
            return true;
        }
        // A component that does not stand alone (a class or escape around a `/`): be safe.
        let Some(tokens) = compile(part).filter(|_| validate(part).is_ok()) else {
            return true;
        };
        if !matches(&tokens, &d.chars().collect::<Vec<_>>()) {
            return false;
        }
    }
    // The whole pattern matched `dir` or an ancestor of it.
    true
}

/// `dockerignore.ReadAll`: the pattern lines, `!` kept, each cleaned and without a leading `/`.
fn read_all(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // The comment check comes before trimming: ` # x` is a pattern.
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim();
        }
        let mut p = if p.is_empty() { String::new() } else { clean(p) };
        if p.len() > 1 && p.starts_with('/') {
            p.remove(0);
        }
        out.push(if invert { format!("!{p}") } else { p });
    }
    out
}

/// Go's `filepath.Clean` (Unix): drop empty and `.` elements, resolve `..` where possible.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// `filepath.Match`'s syntax check (the whole pattern, as Go 1.16+ checks it): classes must
/// close and hold at least one range, ranges need both ends, `\` needs a character after it.
fn validate(pattern: &str) -> Result<(), ()> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return Err(());
                }
                i += 2;
            }
            '[' => i = class(&chars, i + 1).ok_or(())?.1,
            _ => i += 1,
        }
    }
    Ok(())
}

/// Parse a class body starting after `[`: (negated, ranges), and the index after its `]`.
/// `None` when malformed (`getEsc`'s rules).
#[allow(clippy::type_complexity)]
fn class(chars: &[char], mut i: usize) -> Option<((bool, Vec<(char, char)>), usize)> {
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(i) == Some(&']') && !ranges.is_empty() {
            return Some(((negated, ranges), i + 1));
        }
        let (lo, next) = class_char(chars, i)?;
        i = next;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            (hi, i) = class_char(chars, i + 1)?;
        }
        ranges.push((lo, hi));
    }
}

/// `getEsc`: one (maybe escaped) class character, which must be followed by more pattern.
fn class_char(chars: &[char], mut i: usize) -> Option<(char, usize)> {
    match chars.get(i) {
        None | Some('-') | Some(']') => return None,
        Some('\\') => i += 1,
        Some(_) => {}
    }
    let c = *chars.get(i)?;
    if i + 1 >= chars.len() {
        return None;
    }
    Some((c, i + 1))
}

/// Compile a validated pattern. `None` only for input [`validate`] refuses.
fn compile(pattern: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                toks.push(if i == chars.len() { Tok::Rest } else { Tok::DirStar });
            }
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::One),
            '\\' => {
                toks.push(Tok::Lit(*chars.get(i)?));
                i += 1;
            }
            '[' => {
                let ((negated, ranges), next) = class(&chars, i)?;
                toks.push(Tok::Class { negated, ranges });
                i = next;
            }
            c => toks.push(Tok::Lit(c)),
        }
    }
    Some(toks)
}

/// Whether `tokens` match all of `path`. Dynamic programming over (token, position), row by
/// row from the end, so no pattern can make it slow or deep. Docker compiles patterns to Go
/// regexps, whose `.` does not match a newline; `**` keeps that.
fn matches(tokens: &[Tok], path: &[char]) -> bool {
    let n = path.len();
    // next[j]: tokens[t+1..] match path[j..].
    let mut next: Vec<bool> = (0..=n).map(|j| j == n).collect();
    let mut cur = vec![false; n + 1];
    for tok in tokens.iter().rev() {
        for j in (0..=n).rev() {
            let c = path.get(j).copied();
            cur[j] = match tok {
                Tok::Lit(l) => c == Some(*l) && next[j + 1],
                Tok::One => c.is_some_and(|c| c != '/') && next[j + 1],
                Tok::Class { negated, ranges } => c.is_some_and(|c| ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated) && next[j + 1],
                Tok::Star => next[j] || (c.is_some_and(|c| c != '/') && cur[j + 1]),
                // `(.*/)?`: stop here, or run to some `/` (not across a newline).
                Tok::DirStar => next[j] || dir_star_from(path, j, &next),
                // `.*`
                Tok::Rest => next[j] || (c.is_some_and(|c| c != '\n') && cur[j + 1]),
            };
        }
        std::mem::swap(&mut next, &mut cur);
    }
    next[0]
}

/// Whether `.*/` can match `path[j..k]` for some `k` with `next[k]`.
fn dir_star_from(path: &[char], j: usize, next: &[bool]) -> bool {
    for (k, c) in path.iter().enumerate().skip(j) {
        if *c == '\n' {
            return false;
        }
        if *c == '/' && next[k + 1] {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean("./a//b/../c/"), "a/c");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean("../../x"), "../../x");
        assert_eq!(clean(""), ".");
        assert_eq!(read_all("/foo\n./bar/\n!/baz\n # c\n#c\n\n  qux  \n/\n"), vec!["foo", "bar", "!baz", "# c", "qux", "/"]);
    }

    #[test]
    fn syntax() {
        for ok in ["a", "*", "[a-z]", "[^a]", "[\\]]", "a\\*", "[[]", "**/x"] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in ["[", "[]", "[a", "[a-]", "[-a]", "a\\", "[^]", "x[z-"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    fn m(p: &str, path: &str) -> bool {
        matches(&compile(p).unwrap(), &path.chars().collect::<Vec<_>>())
    }

    #[test]
    fn matching() {
        assert!(m("*.env", "secret.env"));
        assert!(!m("*.env", "a/secret.env"));
        assert!(m("**/*.tmp", "junk.tmp"));
        assert!(m("**/*.tmp", "a/b/junk.tmp"));
        assert!(m("a/**", "a/b/c"));
        assert!(!m("a/**", "a"));
        assert!(m("**", "x/y"));
        assert!(m("a**b", "ax/b"));
        assert!(!m("**.tmp", "x.tmp"));
        assert!(m("[^a]b", "/b"));
        assert!(m("?", "x") && !m("?", "/"));
        assert!(m("a\\*", "a*") && !m("a\\*", "ab"));
        assert!(m("a+b", "a+b") && !m("a+b", "aab"));
    }
}
