//! Builder-side word processing (buildkit's `shell.Lex`, as vendored by Docker 20.10): quote
//! removal, the escape token, and `$VAR` / `${VAR}` / `${VAR:-word}` / `${VAR:+word}` /
//! `${VAR?msg}` / `${VAR:?msg}` expansion. This is what the classic builder applies to ADD,
//! COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and ONBUILD words; RUN's
//! `$VAR` is left to `/bin/sh`.
//!
//! Docker 20.10 has no `${VAR-x}`, `${VAR+x}`, `${VAR#pat}`, `${VAR%pat}` (those came with
//! later buildkit): they fail with "missing ':' in substitution", as in Docker.

use std::fmt;

use crate::gofmt::quote;

/// Why a word could not be processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexErrorKind {
    /// `${` at the end, or `${VAR:-…` without its `}`.
    MissingBrace,
    /// `${}`, `${:x}`, `${{x}`.
    BadSubstitution,
    /// `${VAR` followed by anything but `}`, `:` or `?` (including `-`, `+`, `#`, `%`).
    MissingColon,
    /// `${VAR:x…}` with an unknown modifier `x`.
    UnsupportedModifier(char),
    /// `${VAR?msg}` / `${VAR:?msg}` with the variable unset (or empty, for `:?`).
    Required { name: String, message: String },
    UnterminatedSingleQuote,
    UnterminatedDoubleQuote,
    /// A nested word (`${VAR:-…}`) that ended without its stop character.
    Unterminated(char),
    /// `${A:-${B:-${C:-…}}}` nested deeper than [`MAX_NESTING`] (ours: Go's stacks grow,
    /// Rust's do not).
    TooDeep,
}

/// How deep `${…}` words may nest.
pub const MAX_NESTING: usize = 200;

impl fmt::Display for LexErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexErrorKind::MissingBrace => f.write_str("syntax error: missing '}'"),
            LexErrorKind::BadSubstitution => f.write_str("syntax error: bad substitution"),
            LexErrorKind::MissingColon => f.write_str("missing ':' in substitution"),
            LexErrorKind::UnsupportedModifier(c) => write!(f, "unsupported modifier ({c}) in substitution"),
            LexErrorKind::Required { name, message } => write!(f, "{name}: {message}"),
            LexErrorKind::UnterminatedSingleQuote => f.write_str("unexpected end of statement while looking for matching single-quote"),
            LexErrorKind::UnterminatedDoubleQuote => f.write_str("unexpected end of statement while looking for matching double-quote"),
            LexErrorKind::Unterminated(c) => write!(f, "unexpected end of statement while looking for matching {c}"),
            LexErrorKind::TooDeep => write!(f, "syntax error: substitutions nested deeper than {MAX_NESTING}"),
        }
    }
}

/// A word that could not be processed; displays as Docker does:
/// `failed to process "${X:y}": unsupported modifier (y) in substitution`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {}: {kind}", quote(word))]
pub struct LexError {
    /// The word as given.
    pub word: String,
    pub kind: LexErrorKind,
}

/// The word processor, with the Dockerfile's escape token (`\` or `` ` ``).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShellLex {
    pub escape: char,
}

impl Default for ShellLex {
    fn default() -> Self {
        ShellLex { escape: '\\' }
    }
}

impl ShellLex {
    /// `ProcessWord`: expand and remove quotes; the result is one string (spaces kept).
    pub fn process_word(&self, word: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, LexError> {
        self.process(word, env).map(|(w, _)| w)
    }

    /// `ProcessWords`: the same processing, split on whitespace that is neither quoted nor
    /// escaped (the values of variables *are* split, as in a shell).
    pub fn process_words(&self, word: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, LexError> {
        self.process(word, env).map(|(_, ws)| ws)
    }

    fn process(&self, word: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, Vec<String>), LexError> {
        let mut w = Walker { chars: word.chars().collect(), pos: 0, escape: self.escape, env, depth: 0 };
        w.stop_on(None).map_err(|kind| LexError { word: word.to_string(), kind })
    }
}

/// A lookup over a `KEY=VALUE` list (Docker's `BuildEnvs`): the last entry of a name wins, and
/// an entry without `=` is a variable set to the empty string.
pub fn env_lookup(env: &[String]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name: &str| {
        env.iter().rev().find_map(|e| match e.split_once('=') {
            Some((k, v)) if k == name => Some(v.to_string()),
            None if e == name => Some(String::new()),
            _ => None,
        })
    }
}

/// The words of `ProcessWords` as they build up (buildkit's `wordsStruct`).
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    /// A character that may split words (from plain text or a variable's value).
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    /// Quoted text: never split.
    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

/// The scanner over one word (buildkit's `shellWord`).
struct Walker<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// Current `${…}` nesting.
    depth: usize,
}

impl Walker<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// `processStopOn`: process until `stop` (consumed) or the end (only allowed when there
    /// is no stop character). Returns the processed text and its words.
    fn stop_on(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), LexErrorKind> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match c {
                '\'' => {
                    let s = self.single_quote()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '"' => {
                    let s = self.double_quote()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    result.push_str(&s);
                    words.add_string(&s);
                }
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        // The escape token protects the next character; alone at the end it
                        // is dropped.
                        let Some(n) = self.next() else { break };
                        words.add_raw_char(n);
                        result.push(n);
                    } else {
                        words.add_char(c);
                        result.push(c);
                    }
                }
            }
        }
        match stop {
            Some(s) => Err(LexErrorKind::Unterminated(s)),
            None => Ok((result, words.finish())),
        }
    }

    /// `'…'`: everything literal up to the next `'` (which cannot be escaped).
    fn single_quote(&mut self) -> Result<String, LexErrorKind> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err(LexErrorKind::UnterminatedSingleQuote),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    /// `"…"`: literal except `$` expansions; the escape token protects `"`, `$` and itself
    /// and is kept before anything else.
    fn double_quote(&mut self) -> Result<String, LexErrorKind> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(LexErrorKind::UnterminatedDoubleQuote),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            // A trailing escape is dropped (and the quote is then unterminated).
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                out.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    /// `processDollar`, at a `$`.
    fn dollar(&mut self) -> Result<String, LexErrorKind> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(LexErrorKind::MissingBrace),
            Some('{' | '}' | ':') => return Err(LexErrorKind::BadSubstitution),
            Some(_) => {}
        }
        let name = self.name();
        match self.next() {
            Some('}') => Ok(self.lookup(&name).unwrap_or_default()),
            Some('?') => {
                let word = self.nested_word()?;
                match self.lookup(&name) {
                    Some(v) => Ok(v),
                    None => Err(required(name, word, "is not allowed to be unset")),
                }
            }
            Some(':') => {
                let modifier = self.next();
                let word = self.nested_word()?;
                let value = self.lookup(&name);
                match modifier {
                    Some('+') => Ok(match value {
                        Some(v) if !v.is_empty() => word,
                        _ => String::new(),
                    }),
                    Some('-') => Ok(match value {
                        Some(v) if !v.is_empty() => v,
                        _ => word,
                    }),
                    Some('?') => match value {
                        None => Err(required(name, word, "is not allowed to be unset")),
                        Some(v) if v.is_empty() => Err(required(name, word, "is not allowed to be empty")),
                        Some(v) => Ok(v),
                    },
                    // `nested_word` fails first when the word ends right after the `:`.
                    Some(m) => Err(LexErrorKind::UnsupportedModifier(m)),
                    None => Err(LexErrorKind::MissingBrace),
                }
            }
            _ => Err(LexErrorKind::MissingColon),
        }
    }

    /// The word of `${VAR:-word}` up to its `}`; running off the end is a missing `}`.
    fn nested_word(&mut self) -> Result<String, LexErrorKind> {
        if self.depth >= MAX_NESTING {
            return Err(LexErrorKind::TooDeep);
        }
        self.depth += 1;
        let r = self.stop_on(Some('}'));
        self.depth -= 1;
        match r {
            Ok((w, _)) => Ok(w),
            Err(_) if self.peek().is_none() => Err(LexErrorKind::MissingBrace),
            Err(e) => Err(e),
        }
    }

    /// `processName`: letters, digits and `_`; or a run of digits (`$1`); or one special
    /// parameter (`$@ $* $# $? $- $$ $! $0`).
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }
}

fn required(name: String, word: String, default: &str) -> LexErrorKind {
    let message = if word.is_empty() { default.to_string() } else { word };
    LexErrorKind::Required { name, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<String> {
        vec!["NAME=demo".into(), "EMPTY=".into(), "SP=a  b".into(), "NAME2=x".into()]
    }

    fn word(w: &str) -> Result<String, String> {
        let e = env();
        let look = env_lookup(&e);
        ShellLex::default().process_word(w, &look).map_err(|e| e.to_string())
    }

    fn words(w: &str) -> Vec<String> {
        let e = env();
        let look = env_lookup(&e);
        ShellLex::default().process_words(w, &look).unwrap()
    }

    #[test]
    fn reference_example() {
        assert_eq!(word("${NAME:-x} ${MISSING:-dflt} ${NAME:+set}").unwrap(), "demo dflt set");
    }

    #[test]
    fn expansion() {
        assert_eq!(word("$NAME-$NAME2.$MISSING|").unwrap(), "demo-x.|");
        assert_eq!(word("${EMPTY:-d} ${EMPTY:+s} ${MISSING:+s}").unwrap(), "d  ");
        assert_eq!(word("${NAME:-${NAME2}}x").unwrap(), "demox");
        assert_eq!(word("${MISSING:-a ${NAME2} 'q}'}").unwrap(), "a x q}");
        assert_eq!(word("$ $1 $@ a$").unwrap(), "$   a$");
        assert_eq!(word("${NAME?boom} ${EMPTY:?}x").unwrap_err(), "failed to process \"${NAME?boom} ${EMPTY:?}x\": EMPTY: is not allowed to be empty");
        assert_eq!(word("${MISSING?boom}").unwrap_err(), "failed to process \"${MISSING?boom}\": MISSING: boom");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(word(r#"'$NAME' "$NAME" \$NAME"#).unwrap(), "$NAME demo $NAME");
        assert_eq!(word(r#""a\"b\$c\\d\e""#).unwrap(), r#"a"b$c\d\e"#);
        assert_eq!(word(r"a\ b\").unwrap(), "a b");
        assert_eq!(word(r#"'it''s'"#).unwrap(), "its");
        let tick = ShellLex { escape: '`' };
        assert_eq!(tick.process_word(r"C:\dir `$x", &|_| None).unwrap(), r"C:\dir $x");
    }

    #[test]
    fn errors() {
        assert_eq!(word("${").unwrap_err(), "failed to process \"${\": syntax error: missing '}'");
        assert_eq!(word("${}").unwrap_err(), "failed to process \"${}\": syntax error: bad substitution");
        assert_eq!(word("${:a}").unwrap_err(), "failed to process \"${:a}\": syntax error: bad substitution");
        assert_eq!(word("${NAME").unwrap_err(), "failed to process \"${NAME\": missing ':' in substitution");
        assert_eq!(word("${NAME-x}").unwrap_err(), "failed to process \"${NAME-x}\": missing ':' in substitution");
        assert_eq!(word("${NAME:=x}").unwrap_err(), "failed to process \"${NAME:=x}\": unsupported modifier (=) in substitution");
        assert_eq!(word("${NAME:-x").unwrap_err(), "failed to process \"${NAME:-x\": syntax error: missing '}'");
        assert_eq!(word("'abc").unwrap_err(), "failed to process \"'abc\": unexpected end of statement while looking for matching single-quote");
        assert_eq!(word("\"abc").unwrap_err(), "failed to process \"\\\"abc\": unexpected end of statement while looking for matching double-quote");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "${a:-".repeat(100_000);
        assert!(word(&deep).unwrap_err().ends_with("nested deeper than 200"));
        let ok = format!("{}x{}", "${a:-".repeat(150), "}".repeat(150));
        assert_eq!(word(&ok).unwrap(), "x");
    }

    #[test]
    fn splitting() {
        assert_eq!(words("a  b"), vec!["a", "b"]);
        assert_eq!(words("$SP c"), vec!["a", "b", "c"]);
        assert_eq!(words("\"$SP\" c"), vec!["a  b", "c"]);
        assert_eq!(words(r"a\ b '' c"), vec!["a b", "c"]);
        assert_eq!(words(""), Vec::<String>::new());
    }

    #[test]
    fn env_lookup_last_wins() {
        let e = vec!["A=1".to_string(), "B".to_string(), "A=2".to_string()];
        let f = env_lookup(&e);
        assert_eq!(f("A").as_deref(), Some("2"));
        assert_eq!(f("B").as_deref(), Some(""));
        assert_eq!(f("C"), None);
    }
}
