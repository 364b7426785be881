//! `.dockerignore` against a table of (patterns, path, excluded?), Docker's semantics.

use berth_build::dockerignore::{DockerIgnore, IgnoreError};

fn di(text: &str) -> DockerIgnore {
    DockerIgnore::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn reference_case() {
    // Observed with Docker 20.10 (reference §4.8).
    let d = di("*.env\nlogs/*.log\n!logs/keep.log\n**/*.tmp\n");
    assert!(d.is_excluded("logs/x.log"));
    assert!(!d.is_excluded("logs/keep.log"));
    assert!(d.is_excluded("sub/junk.tmp"));
    assert!(d.is_excluded("junk.tmp"));
    assert!(d.is_excluded("secret.env"));
    assert!(!d.is_excluded("sub/secret.env"));
    assert!(!d.is_excluded("logs"));
    assert!(!d.is_excluded("Dockerfile"));
    assert!(d.has_exceptions());
}

#[test]
fn table() {
    let table: &[(&str, &str, bool)] = &[
        // Parent directories.
        ("node_modules", "node_modules", true),
        ("node_modules", "node_modules/a/b", true),
        ("node_modules", "node_modules2/a", false),
        ("node_modules", "sub/node_modules", false),
        ("**/node_modules", "sub/deep/node_modules/x/y", true),
        ("a/b", "a/b/c/d", true),
        ("a/*", "a/b/c", true),
        // Cleaning: `/foo`, `./foo`, `foo/` are `foo`.
        ("/foo", "foo/bar", true),
        ("./foo", "foo", true),
        ("foo/", "foo", true),
        ("foo/../bar", "bar/x", true),
        ("  spaced  ", "spaced", true),
        // Paths are cleaned too.
        ("foo", "./foo/x", true),
        ("foo", "foo//x/", true),
        // `*` and `?` stay within one name.
        ("*.md", "README.md", true),
        ("*.md", "docs/README.md", false),
        ("*/*.md", "docs/README.md", true),
        ("?.txt", "a.txt", true),
        ("?.txt", "ab.txt", false),
        ("a?b", "a/b", false),
        // `**`.
        ("**", "anything/at/all", true),
        ("**/*.go", "main.go", true),
        ("**/*.go", "a/b/c.go", true),
        ("a/**/b", "a/b", true),
        ("a/**/b", "a/x/y/b", true),
        ("a/**/b", "a/x/y/c", false),
        ("a/**", "a/x", true),
        ("a/**", "a", false),
        // `**` not followed by `/` still means "directories", as in Docker.
        ("**.tmp", "x.tmp", false),
        ("**.tmp", "x/.tmp", true),
        // Classes and escapes.
        ("[abc].txt", "b.txt", true),
        ("[a-c].txt", "d.txt", false),
        ("[^a-c].txt", "d.txt", true),
        ("[^a-c].txt", "a.txt", false),
        ("[!a].txt", "!.txt", true),
        ("[!a].txt", "b.txt", false),
        ("\\*.txt", "*.txt", true),
        ("\\*.txt", "a.txt", false),
        ("[\\]]", "]", true),
        // Regexp characters are literal.
        ("a+b", "a+b", true),
        ("a+b", "aab", false),
        ("(x)", "(x)", true),
        ("(x)", "x", false),
        ("a.b", "axb", false),
        ("$x", "$x", true),
        // Comments only in column 1.
        ("#foo", "#foo", false),
        (" #foo", "#foo", true),
        // Last match wins.
        ("*.log\n!keep.log", "keep.log", false),
        ("!keep.log\n*.log", "keep.log", true),
        ("dir\n!dir/keep", "dir/keep", false),
        ("dir\n!dir/keep", "dir/keep/inner", false),
        ("dir\n!dir/keep", "dir/other", true),
        ("dir\n!dir/keep", "dir", true),
        ("*\n!src\nsrc/*.test", "src/main.rs", false),
        ("*\n!src\nsrc/*.test", "src/a.test", true),
        // The context root is never excluded.
        ("*", ".", false),
        ("**", "", false),
        // A leading `/` stays when the pattern is only `/`, which then matches nothing.
        ("/", "x", false),
        // BOM and CRLF.
        ("\u{feff}a.txt\r\nb.txt\r\n", "a.txt", true),
        ("\u{feff}a.txt\r\nb.txt\r\n", "b.txt", true),
    ];
    let mut failures = Vec::new();
    for (patterns, path, want) in table {
        let got = di(patterns).is_excluded(path);
        if got != *want {
            failures.push(format!("patterns {patterns:?} path {path:?}: got {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors() {
    assert_eq!(DockerIgnore::parse(b"ok\n[abc\n").unwrap_err(), IgnoreError::BadPattern { pattern: "[abc".into() });
    assert_eq!(DockerIgnore::parse(b"!x[]").unwrap_err(), IgnoreError::BadPattern { pattern: "x[]".into() });
    assert_eq!(DockerIgnore::parse(b"a\\").unwrap_err().to_string(), "syntax error in pattern: a\\");
    assert_eq!(DockerIgnore::parse(b"!\n").unwrap_err(), IgnoreError::IllegalExclusion);
    assert_eq!(DockerIgnore::parse(b" ! \n").unwrap_err().to_string(), "illegal exclusion pattern: \"!\"");
    assert_eq!(DockerIgnore::parse(b"!/").unwrap_err(), IgnoreError::IllegalExclusion);
    // Empty and comment-only files are fine.
    assert!(!DockerIgnore::parse(b"").unwrap().is_excluded("a"));
    assert!(!DockerIgnore::parse(b"# c\n\n").unwrap().has_exceptions());
}

#[test]
fn listing() {
    let d = di("# c\n/a/\n!  ./b//c\n\n**/x\n");
    assert_eq!(d.patterns(), vec!["a", "!b/c", "**/x"]);
}

#[test]
fn reinclude_under() {
    let d = di("logs\n!logs/keep.log\nbuild\n");
    assert!(d.may_reinclude_under("logs"));
    assert!(!d.may_reinclude_under("build"));
    assert!(!d.may_reinclude_under("logs/sub"));
    let d = di("*\n!**/keep\n");
    assert!(d.may_reinclude_under("anything/deep"));
    let d = di("*\n!s?c/*.rs\n");
    assert!(d.may_reinclude_under("src"));
    assert!(!d.may_reinclude_under("lib"));
    // An exception that matches the directory itself (or a parent) reaches everything below.
    let d = di("a/b\n!a\n");
    assert!(d.may_reinclude_under("a/b"));
    assert!(!di("a\n").may_reinclude_under("a"));
}
