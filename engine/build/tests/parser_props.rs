//! Properties of the parser, the word processor and `.dockerignore` on arbitrary input: no
//! panics, and every Dockerfile error points at a line (but "file with no instructions").

use berth_build::dockerfile::shell_lex::{env_lookup, ShellLex};
use berth_build::dockerfile::{parse, ErrorKind};
use berth_build::dockerignore::DockerIgnore;
use proptest::prelude::*;

/// Plausible Dockerfile lines: real and made-up instructions, flags, JSON, quotes, escapes,
/// continuations, comments, directives, blank lines.
fn line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("FROM".to_string()),
        Just("from".to_string()),
        Just("RUN".to_string()),
        Just("CMD".to_string()),
        Just("ENTRYPOINT".to_string()),
        Just("SHELL".to_string()),
        Just("ENV".to_string()),
        Just("LABEL".to_string()),
        Just("ARG".to_string()),
        Just("COPY".to_string()),
        Just("ADD".to_string()),
        Just("VOLUME".to_string()),
        Just("EXPOSE".to_string()),
        Just("USER".to_string()),
        Just("WORKDIR".to_string()),
        Just("STOPSIGNAL".to_string()),
        Just("MAINTAINER".to_string()),
        Just("HEALTHCHECK".to_string()),
        Just("ONBUILD".to_string()),
        Just("FOO".to_string()),
        Just("#".to_string()),
        Just("# escape=`".to_string()),
        Just("# syntax=x".to_string()),
        Just("".to_string()),
    ];
    let arg = prop_oneof![
        Just("a".to_string()),
        Just("AS".to_string()),
        Just("b=c".to_string()),
        Just("\"q w\"=e".to_string()),
        Just("'x".to_string()),
        Just("[\"j\", \"k\"]".to_string()),
        Just("[1]".to_string()),
        Just("[".to_string()),
        Just("--from=x".to_string()),
        Just("--chmod=1".to_string()),
        Just("--mount=type=cache".to_string()),
        Just("--interval=1s".to_string()),
        Just("--retries=0".to_string()),
        Just("--".to_string()),
        Just("CMD".to_string()),
        Just("NONE".to_string()),
        Just("ONBUILD".to_string()),
        Just("\\".to_string()),
        Just("`".to_string()),
        Just("${X:-y}".to_string()),
        "[ -~]{0,6}",
    ];
    (word, prop::collection::vec(arg, 0..5), prop::bool::ANY).prop_map(|(w, args, cont)| {
        let mut l = format!("{w} {}", args.join(" "));
        if cont {
            l.push_str(" \\");
        }
        l
    })
}

fn dockerfile() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..12).prop_map(|ls| ls.join("\n"))
}

fn physical_lines(s: &[u8]) -> usize {
    let n = s.split(|b| *b == b'\n').count();
    if s.ends_with(b"\n") {
        n - 1
    } else {
        n
    }
}

/// The documented line-less errors.
fn line_less(message: &str) -> bool {
    message == "file with no instructions"
}

fn check_error(input: &[u8]) {
    if let Err(e) = parse(input) {
        match e.line {
            Some(n) => assert!(n >= 1 && n <= physical_lines(input).max(1), "line {n} out of range for {input:?}: {e}"),
            None => assert!(line_less(&e.message), "no line for {input:?}: {e}"),
        }
        // The Display form is one of Docker's three shapes.
        let shown = e.to_string();
        match e.kind {
            ErrorKind::Syntax => assert!(shown.starts_with("failed to parse Dockerfile: ")),
            ErrorKind::Instruction => assert!(shown.starts_with("dockerfile parse error line ")),
            ErrorKind::Bare => assert_eq!(shown, e.message),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..400)) {
        check_error(&input);
    }

    #[test]
    fn dockerfile_like_text(input in dockerfile()) {
        check_error(input.as_bytes());
    }

    /// Parsing is deterministic and the result keeps every instruction inside the file.
    #[test]
    fn sources_in_range(input in dockerfile()) {
        if let Ok(df) = parse(input.as_bytes()) {
            let n = physical_lines(input.as_bytes());
            for s in &df.stages {
                prop_assert!(s.source.start_line <= s.source.end_line && s.source.end_line <= n);
                for c in &s.commands {
                    prop_assert!(c.source.start_line <= c.source.end_line && c.source.end_line <= n);
                    prop_assert_eq!(c.source.original.trim(), c.source.original.as_str());
                }
            }
            prop_assert_eq!(parse(input.as_bytes()).ok(), Some(df));
        }
    }

    #[test]
    fn shell_lex_never_panics(word in "[-a-z${}:+?\"'\\\\` =_0-9@#]{0,24}", tick in prop::bool::ANY) {
        let lex = ShellLex { escape: if tick { '`' } else { '\\' } };
        let env = vec!["a=1".to_string(), "b=x y".to_string(), "e=".to_string()];
        let look = env_lookup(&env);
        let one = lex.process_word(&word, &look);
        let many = lex.process_words(&word, &look);
        // Both succeed or both fail, with the same error.
        prop_assert_eq!(one.as_ref().err(), many.as_ref().err());
    }

    /// Text without quotes, `$` or the escape token comes back unchanged.
    #[test]
    fn plain_words_unchanged(word in "[a-zA-Z0-9 ./:_-]{0,30}") {
        let lex = ShellLex { escape: '\\' };
        prop_assert_eq!(lex.process_word(&word, &|_| None).unwrap(), word.clone());
        let split: Vec<String> = word.split_whitespace().map(String::from).collect();
        prop_assert_eq!(lex.process_words(&word, &|_| None).unwrap(), split);
    }

    #[test]
    fn dockerignore_never_panics(text in prop::collection::vec(any::<u8>(), 0..200), path in "[a-z*?\\[\\]/.!\\\\^-]{0,20}") {
        if let Ok(di) = DockerIgnore::parse(&text) {
            let _ = di.is_excluded(&path);
            let _ = di.may_reinclude_under(&path);
        }
    }

    /// A literal pattern excludes that path and everything under it, and nothing beside it.
    #[test]
    fn literal_pattern_excludes_subtree(dir in "[a-z]{1,5}(/[a-z]{1,5}){0,2}", child in "[a-z]{1,5}(/[a-z]{1,5}){0,2}") {
        let di = DockerIgnore::parse(dir.as_bytes()).unwrap();
        prop_assert!(di.is_excluded(&dir));
        let below = format!("{dir}/{child}");
        prop_assert!(di.is_excluded(&below));
        let beside = format!("{dir}x/{child}");
        prop_assert!(!di.is_excluded(&beside));
    }

    /// `may_reinclude_under` is never wrong when it says no.
    #[test]
    fn reinclude_is_conservative(excl in "[a-z*]{1,3}(/[a-z*?]{1,3}){0,2}", exc in "[a-z*?]{1,3}(/[a-z*?]{1,3}){0,2}", dir in "[a-z]{1,2}(/[a-z]{1,2}){0,1}", rest in "[a-z]{1,2}(/[a-z]{1,2}){0,1}") {
        let di = DockerIgnore::parse(format!("{excl}\n!{exc}\n").as_bytes()).unwrap();
        let path = format!("{dir}/{rest}");
        if !di.may_reinclude_under(&dir) && di.is_excluded(&dir) {
            prop_assert!(di.is_excluded(&path), "{} is re-included under {}", path, dir);
        }
    }
}
