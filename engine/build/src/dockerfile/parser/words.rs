//! Splitting a logical line (buildkit's `split_command.go` and `line_parsers.go`): the
//! instruction word, the `--flag` words, and the argument parsers each instruction uses.
//! Quotes are kept here; the dispatcher strips them when it expands words.

/// buildkit's `reWhitespace` (`[\t\v\f\r ]+`): what FROM/EXPOSE/COPY words and the old ENV
/// form split on. Note it is narrower than the Unicode spaces `TrimSpace` removes.
pub(crate) fn is_ascii_ws(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// `reWhitespace.Split(s, -1)` of an already trimmed string.
pub(crate) fn split_ws(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(is_ascii_ws).filter(|w| !w.is_empty()).map(String::from).collect()
}

/// `reWhitespace.Split(s, 2)`.
pub(crate) fn split_ws2(s: &str) -> (&str, Option<&str>) {
    match s.find(is_ascii_ws) {
        None => (s, None),
        Some(i) => (&s[..i], Some(s[i..].trim_start_matches(is_ascii_ws))),
    }
}

/// `splitCommand`: (lowercased instruction, flag words, trimmed arguments).
pub(crate) fn split_command(line: &str) -> (String, Vec<String>, String) {
    let (cmd, rest) = split_ws2(line.trim());
    let (args, flags) = match rest {
        Some(rest) => extract_flags(rest),
        None => (String::new(), Vec::new()),
    };
    (cmd.to_lowercase(), flags, args.trim().to_string())
}

/// `extractBuilderFlags`: leading words starting with `--` (quotes removed, `\` escapes —
/// always a backslash here, whatever the escape directive says). A bare `--` ends them.
/// Returns the rest of the line and the flag words.
fn extract_flags(line: &str) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut blank_ok = false;
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if phase == Phase::Spaces {
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            // Only words starting with `--` are flags; the first other word starts the args.
            if c != '-' || chars.get(i + 1).map(|x| x.1) != Some('-') {
                return (line[pos..].to_string(), words);
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Word => {
                if c.is_whitespace() {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (line[pos..].to_string(), words);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                } else if c == '\'' || c == '"' {
                    phase = Phase::Quote(c);
                    blank_ok = true;
                } else if c == '\\' {
                    // An escaped character, or a lone `\` at the end (dropped).
                    if let Some(&(_, n)) = chars.get(i + 1) {
                        word.push(n);
                        i += 1;
                    }
                } else {
                    word.push(c);
                }
            }
            Phase::Quote(q) => {
                if c == q {
                    phase = Phase::Word;
                } else if c == '\\' {
                    match chars.get(i + 1) {
                        Some(&(_, n)) => {
                            word.push(n);
                            i += 1;
                        }
                        None => phase = Phase::Word,
                    }
                } else {
                    word.push(c);
                }
            }
            Phase::Spaces => {}
        }
        i += 1;
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    (String::new(), words)
}

/// `parseWords`: split on unquoted whitespace; quotes and escapes are kept in the words. The
/// escape token protects the next character outside quotes and inside double quotes.
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut blank_ok = false;
    let mut i = 0;
    while i < chars.len() {
        let mut c = chars[i];
        if phase == Phase::Spaces {
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Word => {
                if c.is_whitespace() {
                    phase = Phase::Spaces;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    i += 1;
                    continue;
                }
                if c == '\'' || c == '"' {
                    phase = Phase::Quote(c);
                    blank_ok = true;
                }
                if c == escape {
                    if i + 1 == chars.len() {
                        // An escape token at the very end is dropped.
                        i += 1;
                        continue;
                    }
                    word.push(c);
                    i += 1;
                    c = chars[i];
                }
                word.push(c);
            }
            Phase::Quote(q) => {
                if c == q {
                    phase = Phase::Word;
                }
                // Nothing escapes inside single quotes.
                if c == escape && q != '\'' {
                    if i + 1 == chars.len() {
                        phase = Phase::Word;
                        i += 1;
                        continue;
                    }
                    word.push(c);
                    i += 1;
                    c = chars[i];
                }
                word.push(c);
            }
            Phase::Spaces => {}
        }
        i += 1;
    }
    if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// What `parseJSON` makes of an argument string.
pub(crate) enum Json {
    /// A JSON array of strings: exec form.
    Strings(Vec<String>),
    /// A JSON array with something else in it: Docker's hard error.
    NotStrings,
    /// Not JSON (or not an array): shell form / plain words.
    No,
}

/// `parseJSON`: the argument must start with `[` and its first JSON value must be an array of
/// strings. Like Go's `json.Decoder.Decode`, text after that first value is ignored.
pub(crate) fn parse_json(rest: &str) -> Json {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Json::No;
    }
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    match stream.next() {
        Some(Ok(serde_json::Value::Array(items))) => {
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                match v {
                    serde_json::Value::String(s) => out.push(s),
                    _ => return Json::NotStrings,
                }
            }
            Json::Strings(out)
        }
        _ => Json::No,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_command_and_flags() {
        assert_eq!(split_command("  copy --from=a   --chown=\"u g\" x  y  "), ("copy".into(), vec!["--from=a".into(), "--chown=u g".into()], "x  y".into()));
        assert_eq!(split_command("RUN -- --x"), ("run".into(), vec![], "--x".into()));
        assert_eq!(split_command("RUN --a=b\\ c"), ("run".into(), vec!["--a=b c".into()], "".into()));
        assert_eq!(split_command("RUN - x"), ("run".into(), vec![], "- x".into()));
        assert_eq!(split_command("FROM"), ("from".into(), vec![], "".into()));
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(parse_words(r#"a="b c" d=e\ f 'g h'=i"#, '\\'), vec![r#"a="b c""#, r"d=e\ f", "'g h'=i"]);
        assert_eq!(parse_words(r#"x="a\"b" y='a\'b'"#, '\\'), vec![r#"x="a\"b""#, r"y='a\'b'"]);
        assert_eq!(parse_words("\"\" a\\", '\\'), vec!["\"\"", "a"]);
    }

    #[test]
    fn json_forms() {
        assert!(matches!(parse_json(r#"["a","b"] junk"#), Json::Strings(v) if v == ["a", "b"]));
        assert!(matches!(parse_json(r#"["a",1]"#), Json::NotStrings));
        assert!(matches!(parse_json("['a']"), Json::No));
        assert!(matches!(parse_json("[not json"), Json::No));
        assert!(matches!(parse_json("[]"), Json::Strings(v) if v.is_empty()));
    }
}
