//! The Dockerfile parser against a table of inputs: the typed instructions, or Docker 20.10's
//! exact error text (moby v20.10.27 with its vendored buildkit is the reference).

use std::time::Duration;

use berth_build::dockerfile::{parse, ArgDecl, CmdLine, CopySpec, Dockerfile, ErrorKind, Health, Instruction, KeyValue};
use Instruction::*;

fn sh(s: &str) -> CmdLine {
    CmdLine::Shell(s.into())
}

fn ex(v: &[&str]) -> CmdLine {
    CmdLine::Exec(v.iter().map(|s| s.to_string()).collect())
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn kvs(v: &[(&str, &str)]) -> Vec<KeyValue> {
    v.iter().map(|(k, v)| KeyValue { key: k.to_string(), value: v.to_string() }).collect()
}

fn arg(name: &str, default: Option<&str>) -> ArgDecl {
    ArgDecl { name: name.into(), default: default.map(String::from) }
}

fn copy(sources: &[&str], dest: &str, from: Option<&str>, chown: Option<&str>) -> CopySpec {
    CopySpec { sources: strs(sources), dest: dest.into(), from: from.map(String::from), chown: chown.map(String::from) }
}

const BUILDKIT: &str = " option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled";

/// Lines after `FROM base\n`: the commands of that stage, or the error Docker prints.
fn commands() -> Vec<(&'static str, Result<Vec<Instruction>, String>)> {
    let e = |s: &str| Err(s.to_string());
    vec![
        // RUN / CMD / ENTRYPOINT: JSON (exec form) or the raw text (shell form).
        ("RUN echo hi  there", Ok(vec![Run(sh("echo hi  there"))])),
        ("RUN echo a # b", Ok(vec![Run(sh("echo a # b"))])),
        (r#"RUN ["echo","hi"]"#, Ok(vec![Run(ex(&["echo", "hi"]))])),
        ("RUN [not json", Ok(vec![Run(sh("[not json"))])),
        ("RUN ['single', 'quotes']", Ok(vec![Run(sh("['single', 'quotes']"))])),
        (r#"RUN ["a", 1]"#, e("failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only")),
        (r#"CMD ["a"] trailing words"#, Ok(vec![Cmd(ex(&["a"]))])),
        ("CMD []", Ok(vec![Cmd(ex(&[]))])),
        ("cmd\t[ \"a\",\t\"b\" ]", Ok(vec![Cmd(ex(&["a", "b"]))])),
        ("ENTRYPOINT exec  top -b", Ok(vec![Entrypoint(sh("exec  top -b"))])),
        (r#"ENTRYPOINT ["/bin/sh", "-c", "\u00e9"]"#, Ok(vec![Entrypoint(ex(&["/bin/sh", "-c", "é"]))])),
        ("CMD --x=1 a", e("dockerfile parse error line 2: Unknown flag: x")),
        // SHELL must be JSON.
        (r#"SHELL ["/bin/bash", "-c"]"#, Ok(vec![Shell(strs(&["/bin/bash", "-c"]))])),
        ("SHELL /bin/bash -c", e("dockerfile parse error line 2: SHELL requires the arguments to be in JSON form")),
        ("SHELL []", e("dockerfile parse error line 2: SHELL requires at least one argument")),
        // ENV: new form (quotes kept for the dispatcher) and old form.
        (r#"ENV a=1 b="two words" c=x\ y d='q'"#, Ok(vec![Env(kvs(&[("a", "1"), ("b", "\"two words\""), ("c", r"x\ y"), ("d", "'q'")]))])),
        ("ENV OLD old-style value with spaces", Ok(vec![Env(kvs(&[("OLD", "old-style value with spaces")]))])),
        ("ENV A=2 B=$A", Ok(vec![Env(kvs(&[("A", "2"), ("B", "$A")]))])),
        ("ENV ONLYKEY", e("failed to parse Dockerfile: ENV must have two arguments")),
        ("ENV a=1 b", e("failed to parse Dockerfile: Syntax error - can't find = in \"b\". Must be of the form: name=value")),
        ("ENV", e("dockerfile parse error line 2: ENV requires at least one argument")),
        ("ENV =x", e("dockerfile parse error line 2: ENV names can not be blank")),
        // LABEL: quoted keys allowed, continuation indentation kept.
        (r#"LABEL org.example.a="1" b=2 "c d"="three""#, Ok(vec![Label(kvs(&[("org.example.a", "\"1\""), ("b", "2"), ("\"c d\"", "\"three\"")]))])),
        ("LABEL a=\"1\" b=2 \\\n      \"c d\"=\"three\"", Ok(vec![Label(kvs(&[("a", "\"1\""), ("b", "2"), ("\"c d\"", "\"three\"")]))])),
        ("LABEL maintainer foo@bar.com", Ok(vec![Label(kvs(&[("maintainer", "foo@bar.com")]))])),
        ("LABEL", e("dockerfile parse error line 2: LABEL requires at least one argument")),
        ("LABEL onlykey", e("failed to parse Dockerfile: LABEL must have two arguments")),
        // MAINTAINER / USER / WORKDIR / STOPSIGNAL: the rest of the line.
        ("MAINTAINER Jane Doe <jane@example.com>", Ok(vec![Maintainer("Jane Doe <jane@example.com>".into())])),
        ("MAINTAINER", e("dockerfile parse error line 2: MAINTAINER requires exactly one argument")),
        ("USER 1000:1000", Ok(vec![User("1000:1000".into())])),
        ("USER", e("dockerfile parse error line 2: USER requires exactly one argument")),
        ("WORKDIR /my dir", Ok(vec![Workdir("/my dir".into())])),
        ("WORKDIR --x=1 /a", e("dockerfile parse error line 2: Unknown flag: x")),
        ("STOPSIGNAL SIGKILL", Ok(vec![StopSignal("SIGKILL".into())])),
        // Docker never reads STOPSIGNAL's (or ARG's) flags.
        ("STOPSIGNAL --x=1 SIGTERM", Ok(vec![StopSignal("SIGTERM".into())])),
        // EXPOSE words, sorted as Docker sorts them.
        ("EXPOSE 9000 53/udp 8080/tcp", Ok(vec![Expose(strs(&["53/udp", "8080/tcp", "9000"]))])),
        ("EXPOSE", e("dockerfile parse error line 2: EXPOSE requires at least one argument")),
        // ADD / COPY.
        ("ADD --chown=1:2 a b /dst/", Ok(vec![Add(copy(&["a", "b"], "/dst/", None, Some("1:2")))])),
        ("COPY --from=build /out/ /srv/", Ok(vec![Copy(copy(&["/out/"], "/srv/", Some("build"), None))])),
        ("COPY --chown= a .", Ok(vec![Copy(copy(&["a"], ".", None, None))])),
        (r#"COPY ["a b", "/c d/"]"#, Ok(vec![Copy(copy(&["a b"], "/c d/", None, None))])),
        ("COPY onlyone", e("dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined")),
        ("ADD", e("dockerfile parse error line 2: ADD requires at least two arguments, but only one was provided. Destination could not be determined")),
        ("ADD --from=x a b", e("dockerfile parse error line 2: Unknown flag: from")),
        ("COPY --from a b", e("dockerfile parse error line 2: Missing a value on flag: from")),
        ("COPY --from=a --from=b x y", e("dockerfile parse error line 2: Duplicate flag specified: from")),
        ("COPY --chmod=755 a b", Err(format!("the --chmod{BUILDKIT}"))),
        ("ADD --chmod=755 a b", Err(format!("the --chmod{BUILDKIT}"))),
        // VOLUME.
        (r#"VOLUME ["/data", "/cache"]"#, Ok(vec![Volume(strs(&["/data", "/cache"]))])),
        ("VOLUME /data /cache", Ok(vec![Volume(strs(&["/data", "/cache"]))])),
        (r#"VOLUME [" /x ", ""]"#, e("dockerfile parse error line 2: VOLUME specified can not be an empty string")),
        // ARG: several per line, quotes kept.
        (r#"ARG A B=2 C="x y""#, Ok(vec![Arg(vec![arg("A", None), arg("B", Some("2")), arg("C", Some("\"x y\""))])])),
        ("ARG =x", e("dockerfile parse error line 2: ARG names can not be blank")),
        ("ARG", e("dockerfile parse error line 2: ARG requires at least one argument")),
        // ONBUILD.
        ("ONBUILD RUN echo child", Ok(vec![OnBuild("RUN echo child".into())])),
        ("onbuild   copy --from=x a b", Ok(vec![OnBuild("copy --from=x a b".into())])),
        ("ONBUILD FOO bar", Ok(vec![OnBuild("FOO bar".into())])),
        ("ONBUILD ONBUILD RUN x", e("dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")),
        ("ONBUILD from x", e("dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger")),
        ("ONBUILD MAINTAINER me", e("dockerfile parse error line 2: MAINTAINER isn't allowed as an ONBUILD trigger")),
        ("ONBUILD ENV x", e("failed to parse Dockerfile: ENV must have two arguments")),
        ("ONBUILD", e("dockerfile parse error line 2: ONBUILD requires at least one argument")),
        // HEALTHCHECK.
        ("HEALTHCHECK NONE", Ok(vec![Healthcheck(Health::None)])),
        ("HEALTHCHECK --interval=5s none", Ok(vec![Healthcheck(Health::None)])),
        (
            r#"HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --retries=3 CMD ["true"]"#,
            Ok(vec![Healthcheck(Health::Check {
                test: ex(&["true"]),
                interval: Some(Duration::from_secs(30)),
                timeout: Some(Duration::from_secs(90)),
                start_period: Some(Duration::from_millis(500)),
                retries: Some(3),
            })]),
        ),
        ("HEALTHCHECK cmd curl -f http://x/ || exit 1", Ok(vec![Healthcheck(Health::Check { test: sh("curl -f http://x/ || exit 1"), interval: None, timeout: None, start_period: None, retries: None })])),
        ("HEALTHCHECK --interval=0s CMD true", e("dockerfile parse error line 2: Interval \"interval\" cannot be less than 1ms")),
        ("HEALTHCHECK --timeout=500us CMD true", e("dockerfile parse error line 2: Interval \"timeout\" cannot be less than 1ms")),
        ("HEALTHCHECK --interval=abc CMD true", e("dockerfile parse error line 2: time: invalid duration \"abc\"")),
        ("HEALTHCHECK --interval=10 CMD true", e("dockerfile parse error line 2: time: missing unit in duration \"10\"")),
        ("HEALTHCHECK --retries=0 CMD true", e("dockerfile parse error line 2: --retries must be at least 1 (not 0)")),
        ("HEALTHCHECK --retries=x CMD true", e("dockerfile parse error line 2: strconv.ParseInt: parsing \"x\": invalid syntax")),
        ("HEALTHCHECK FOO x", e("dockerfile parse error line 2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)")),
        ("HEALTHCHECK CMD", e("dockerfile parse error line 2: Missing command after HEALTHCHECK CMD")),
        ("HEALTHCHECK NONE x", e("dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments")),
        ("HEALTHCHECK --foo=1 CMD x", e("dockerfile parse error line 2: Unknown flag: foo")),
        ("HEALTHCHECK", e("dockerfile parse error line 2: HEALTHCHECK requires at least one argument")),
        // RUN flags: --mount parses but is BuildKit-only; others are unknown in Docker 20.10.
        ("RUN --mount=type=cache,target=/root/.cache make", Err(format!("the --mount{BUILDKIT}"))),
        ("RUN --network=none make", e("dockerfile parse error line 2: Unknown flag: network")),
        ("RUN --security=insecure make", e("dockerfile parse error line 2: Unknown flag: security")),
        // Unknown instructions; heredocs are not supported by the classic builder.
        ("FOO bar", e("dockerfile parse error line 2: unknown instruction: FOO")),
        ("RUN <<EOF\necho hi\nEOF", e("dockerfile parse error line 3: unknown instruction: ECHO")),
        // Comments, blank lines and continuations.
        ("RUN a \\\n# a comment\n  b", Ok(vec![Run(sh("a   b"))])),
        ("  # indented comment\n\nRUN x", Ok(vec![Run(sh("x"))])),
        ("RUN a \\\n  \\\n  b", Ok(vec![Run(sh("a     b"))])),
        ("RUN echo \\\\", Ok(vec![Run(sh("echo \\\\"))])),
        ("RUN something \\", Ok(vec![Run(sh("something"))])),
    ]
}

#[test]
fn command_table() {
    let table = commands();
    assert!(table.len() >= 40);
    let mut failures = Vec::new();
    for (input, want) in table {
        let src = format!("FROM base\n{input}");
        let got = parse(src.as_bytes()).map(|df| df.stages[0].commands.iter().map(|c| c.instruction.clone()).collect::<Vec<_>>()).map_err(|e| e.to_string());
        if got != want {
            failures.push(format!("input {input:?}\n   got {got:?}\n  want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Whole files: the error Docker prints.
#[test]
fn file_errors() {
    let table: &[(&str, &str)] = &[
        ("", "failed to parse Dockerfile: file with no instructions"),
        ("# just a comment\n\n   \n", "failed to parse Dockerfile: file with no instructions"),
        ("RUN x", "no build stage in current context"),
        ("ARG A\nENV B=1\nFROM x", "no build stage in current context"),
        ("FROM", "dockerfile parse error line 1: FROM requires either one or three arguments"),
        ("FROM a b", "dockerfile parse error line 1: FROM requires either one or three arguments"),
        ("FROM a FROM b", "dockerfile parse error line 1: FROM requires either one or three arguments"),
        ("FROM a AS 1st", "dockerfile parse error line 1: invalid name for build stage: \"1st\", name can't start with a number or contain symbols"),
        ("FROM a AS b@d", "dockerfile parse error line 1: invalid name for build stage: \"b@d\", name can't start with a number or contain symbols"),
        ("FROM --plat=x a", "dockerfile parse error line 1: Unknown flag: plat"),
        ("# escape=x\nFROM a", "failed to parse Dockerfile: invalid escape token 'x' does not match ` or \\"),
        ("# escape=`\n# ESCAPE=\\\nFROM a", "failed to parse Dockerfile: only one escape parser directive can be used"),
        ("# syntax=a\n# syntax=b\nFROM a", "failed to parse Dockerfile: only one syntax parser directive can be used"),
        // After the first instruction a directive is a comment: `\`` does not continue.
        ("FROM a\n# escape=`\nRUN a `\nb", "dockerfile parse error line 4: unknown instruction: B"),
        // The error is reported at the instruction's first line.
        ("FROM a\n\nCOPY \\\n  \\\n  onlyone", "dockerfile parse error line 3: COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        // The line reader's errors come before any instruction error, as in Docker.
        ("FROM a\nFOO\nENV x", "failed to parse Dockerfile: ENV must have two arguments"),
        // And BuildKit-only options only once everything else parsed.
        ("FROM a\nCOPY --chmod=1 a b\nFOO", "dockerfile parse error line 3: unknown instruction: FOO"),
        // A lone escape at the end of the file leaves an empty instruction.
        ("FROM a\n\\", "dockerfile parse error line 2: unknown instruction: "),
    ];
    for (input, want) in table {
        let got = parse(input.as_bytes()).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "input {input:?}");
    }
    let long = format!("FROM a\nRUN {}\n", "x".repeat(70_000));
    assert_eq!(parse(long.as_bytes()).unwrap_err().to_string(), "failed to parse Dockerfile: dockerfile line greater than max allowed size of 65535");
}

#[test]
fn error_kinds_and_names() {
    let e = parse(b"FROM a\nENV x").unwrap_err();
    assert_eq!((e.kind, e.line, e.message.as_str()), (ErrorKind::Syntax, Some(2), "ENV must have two arguments"));
    assert_eq!(e.docker_message("build/Dockerfile.dev"), "failed to parse build/Dockerfile.dev: ENV must have two arguments");
    let e = parse(b"FROM a\nFOO").unwrap_err();
    assert_eq!((e.kind, e.line), (ErrorKind::Instruction, Some(2)));
    assert_eq!(e.docker_message("x"), "dockerfile parse error line 2: unknown instruction: FOO");
    let e = parse(b"\n\nRUN x").unwrap_err();
    assert_eq!((e.kind, e.line), (ErrorKind::Bare, Some(3)));
    assert_eq!(parse(b"").unwrap_err().line, None);
}

fn ok(src: &str) -> Dockerfile {
    parse(src.as_bytes()).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

#[test]
fn stages_and_meta_args() {
    let df = ok("ARG BASE=bb:latest\nARG V\nFROM --platform=linux/amd64 ${BASE} AS Build\nARG V\nRUN x\nfrom build as Final\nCOPY --from=build /out /srv");
    assert_eq!(df.meta_args, vec![arg("BASE", Some("bb:latest")), arg("V", None)]);
    assert_eq!(df.stages.len(), 2);
    let s = &df.stages[0];
    assert_eq!((s.name.as_deref(), s.base.as_str(), s.platform.as_deref()), (Some("build"), "${BASE}", Some("linux/amd64")));
    assert_eq!(s.commands.iter().map(|c| c.instruction.clone()).collect::<Vec<_>>(), vec![Arg(vec![arg("V", None)]), Run(sh("x"))]);
    assert_eq!(s.source.original, "FROM --platform=linux/amd64 ${BASE} AS Build");
    let s = &df.stages[1];
    assert_eq!((s.name.as_deref(), s.base.as_str(), s.platform.as_deref()), (Some("final"), "build", None));
    assert_eq!(s.source.start_line, 6);
    assert_eq!(s.commands[0].instruction, Copy(copy(&["/out"], "/srv", Some("build"), None)));
    // ARG only: no stage yet, which is the builder's business.
    let df = ok("ARG A=1");
    assert!(df.stages.is_empty());
    assert_eq!(df.meta_args, vec![arg("A", Some("1"))]);
}

#[test]
fn sources_and_continuations() {
    let df = ok("FROM a\n\n   LABEL a=\"1\" b=2 \\\n      \"c d\"=\"three\"  \nRUN echo hello\\\n  world\\\n# c\n  goodnight  \\\n  moon\n");
    let cmds = &df.stages[0].commands;
    assert_eq!((cmds[0].source.start_line, cmds[0].source.end_line), (3, 4));
    // Continuation indentation kept; both ends trimmed as in `Step N/M : …`.
    assert_eq!(cmds[0].source.original, "LABEL a=\"1\" b=2       \"c d\"=\"three\"");
    assert_eq!((cmds[1].source.start_line, cmds[1].source.end_line), (5, 9));
    assert_eq!(cmds[1].instruction, Run(sh("echo hello  world  goodnight    moon")));
    assert!(df.warnings.is_empty());
}

#[test]
fn empty_continuation_warns() {
    let df = ok("FROM a\nRUN foo \\\n\nbar \\\n   \nbaz");
    assert_eq!(df.stages[0].commands[0].instruction, Run(sh("foo bar baz")));
    assert_eq!(
        df.warnings,
        vec![
            "[WARNING]: Empty continuation line found in:\n    RUN foo bar baz".to_string(),
            "[WARNING]: Empty continuation lines will become errors in a future release.".to_string(),
        ]
    );
}

#[test]
fn directives() {
    let df = ok("\u{feff}# Syntax = docker/dockerfile:1\r\n#escape=`\r\nFROM a\r\nRUN dir C:\\ `\r\n  /w\r\nENV P=C:\\x `\r\n  Q=2\r\n");
    assert_eq!((df.escape, df.syntax.as_deref()), ('`', Some("docker/dockerfile:1")));
    let cmds: Vec<_> = df.stages[0].commands.iter().map(|c| c.instruction.clone()).collect();
    assert_eq!(cmds, vec![Run(sh("dir C:\\   /w")), Env(kvs(&[("P", "C:\\x"), ("Q", "2")]))]);
    // A blank line ends the directives: this escape is just a comment.
    let df = ok("\n# escape=`\nFROM a");
    assert_eq!(df.escape, '\\');
    // So does an unknown directive.
    let df = ok("# foo=bar\n# escape=`\nFROM a");
    assert_eq!(df.escape, '\\');
}

#[test]
fn case_and_bytes() {
    let df = ok("from A as B\nrun x\nCopy a b");
    assert_eq!(df.stages[0].name.as_deref(), Some("b"));
    assert_eq!(df.stages[0].base, "A");
    // Bad UTF-8 is read lossily.
    let df = parse(b"FROM a\nRUN echo \xff\n").unwrap();
    assert_eq!(df.stages[0].commands[0].instruction, Run(sh("echo \u{fffd}")));
}

#[test]
fn onbuild_triggers_parse_back() {
    // The dispatcher re-parses each trigger after a FROM; it must give one command.
    for t in ["RUN echo child", "copy --from=x a b", "ENV A=1 B=2"] {
        let df = ok(&format!("FROM scratch\n{t}\n"));
        assert_eq!(df.stages[0].commands.len(), 1);
    }
}
