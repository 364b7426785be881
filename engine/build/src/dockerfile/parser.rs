//! The Dockerfile parser, as Docker 20.10's classic builder runs it (buildkit's `parser` and
//! `instructions` packages, vendored in moby v20.10). Three passes, like Docker's, so that
//! the *same* error wins when a file has several:
//!
//! 1. [`lexer`]: physical lines to logical lines (directives, comments, continuations);
//! 2. the line parsers ([`node_from_line`]): instruction word, flags, and the argument words
//!    of every line — errors here are Docker's "failed to parse Dockerfile: …";
//! 3. typing ([`instruction`]): each line becomes an [`Instruction`] or a [`Stage`], with the
//!    arity and flag checks — errors here are "dockerfile parse error line N: …".
//!
//! Options the classic builder refuses only when it dispatches the step (`COPY --chmod`,
//! `RUN --mount`) are reported after everything else parsed, with Docker's bare message.
//!
//! Input that is not UTF-8 is read lossily (bad bytes become U+FFFD).

mod duration;
mod flags;
mod lexer;
mod words;

use std::fmt;
use std::time::Duration;

use super::ast::{ArgDecl, CmdLine, Command, CopySpec, Dockerfile, Health, Instruction, KeyValue, Source, Stage};
use crate::gofmt::quote;
use flags::Flags;
use words::Json;

/// Which part of Docker raises an error, which decides how Docker prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The line reader (directives, `ENV`/`LABEL` syntax, JSON arrays, "file with no
    /// instructions"): moby prints `failed to parse <Dockerfile>: <message>`.
    Syntax,
    /// The instruction layer (unknown instruction, arity, flags): `dockerfile parse error line
    /// N: <message>`.
    Instruction,
    /// Printed as the bare message: "no build stage in current context", and the BuildKit-only
    /// options (`--chmod`, `--mount`) that Docker refuses when it dispatches the step.
    Bare,
}

/// A Dockerfile error. [`fmt::Display`] gives Docker's text for a file named `Dockerfile`;
/// [`ParseError::docker_message`] takes the real name (`-f`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    /// The 1-based line the error is about (the instruction's first line). Only "file with no
    /// instructions" has none.
    pub line: Option<usize>,
    /// The message alone, without Docker's prefix.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, line: Option<usize>, message: impl Into<String>) -> Self {
        ParseError { kind, line, message: message.into() }
    }

    /// Docker's full text for a Dockerfile called `dockerfile` (the `-f` name as given).
    pub fn docker_message(&self, dockerfile: &str) -> String {
        match (self.kind, self.line) {
            (ErrorKind::Syntax, _) => format!("failed to parse {dockerfile}: {}", self.message),
            (ErrorKind::Instruction, Some(n)) => format!("dockerfile parse error line {n}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.docker_message("Dockerfile"))
    }
}

impl std::error::Error for ParseError {}

/// "the --X option requires BuildKit…": the classic builder's answer to BuildKit-only options.
fn requires_buildkit(option: &str) -> String {
    format!("the --{option} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled")
}

/// Parse a Dockerfile. Never panics, whatever the bytes.
pub fn parse(input: &[u8]) -> Result<Dockerfile, ParseError> {
    let text = String::from_utf8_lossy(input);
    let lexed = lexer::lex(&text)?;

    // Pass 2: every line through its line parser before any is typed, as Docker does.
    let mut nodes = Vec::with_capacity(lexed.lines.len());
    for l in &lexed.lines {
        let node = node_from_line(&l.text, lexed.escape).map_err(|m| ParseError::new(ErrorKind::Syntax, Some(l.start), m))?;
        nodes.push((node, l));
    }
    if nodes.is_empty() {
        return Err(ParseError::new(ErrorKind::Syntax, None, "file with no instructions"));
    }
    if let Some(n) = lexed.too_long_at {
        return Err(ParseError::new(ErrorKind::Syntax, Some(n), "dockerfile line greater than max allowed size of 65535"));
    }

    // Pass 3: typing.
    let mut df = Dockerfile { escape: lexed.escape, syntax: lexed.syntax, meta_args: Vec::new(), stages: Vec::new(), warnings: lexed.warnings };
    let mut deferred: Option<ParseError> = None;
    for (node, l) in nodes {
        let source = Source { start_line: l.start, end_line: l.end, original: node.original.trim().to_string() };
        let typed = instruction(&node).map_err(|m| ParseError::new(ErrorKind::Instruction, Some(l.start), m))?;
        if let (None, Some(option)) = (&deferred, &typed.buildkit_only) {
            deferred = Some(ParseError::new(ErrorKind::Bare, Some(l.start), requires_buildkit(option)));
        }
        match typed.kind {
            Typed::Stage { name, base, platform } => df.stages.push(Stage { name, base, platform, source, commands: Vec::new() }),
            Typed::Command(Instruction::Arg(args)) if df.stages.is_empty() => df.meta_args.extend(args),
            Typed::Command(instruction) => match df.stages.last_mut() {
                Some(stage) => stage.commands.push(Command { source, instruction }),
                None => return Err(ParseError::new(ErrorKind::Bare, Some(l.start), "no build stage in current context")),
            },
        }
    }
    match deferred {
        Some(e) => Err(e),
        None => Ok(df),
    }
}

/// One line after its line parser (buildkit's `Node`, flattened to what the typing needs).
#[derive(Debug)]
struct Node {
    /// The instruction word, lowercased.
    cmd: String,
    /// The `--flag[=value]` words.
    flags: Vec<String>,
    /// The argument words (`nodeArgs`); for ONBUILD the nested instruction word comes first.
    args: Vec<String>,
    /// The arguments were a JSON array (exec form).
    json: bool,
    /// The whole logical line.
    original: String,
}

/// `newNodeFromLine`: split the line and run the instruction's line parser. An ONBUILD line
/// holds another line; it is peeled in a loop (not recursion), so `ONBUILD ONBUILD …` of any
/// length cannot exhaust the stack.
fn node_from_line(line: &str, escape: char) -> Result<Node, String> {
    let (cmd, flags, mut rest) = words::split_command(line);
    let mut nested = Vec::new();
    let mut inner_cmd = cmd.clone();
    while inner_cmd == "onbuild" {
        if rest.is_empty() {
            break;
        }
        let (c, _, r) = words::split_command(&rest);
        nested.push(c.clone());
        inner_cmd = c;
        rest = r;
    }
    let (mut args, mut json) = if inner_cmd == "onbuild" { (Vec::new(), false) } else { line_args(&inner_cmd, &rest, escape)? };
    if !nested.is_empty() {
        // `parseSubCommand` gives no attributes: ONBUILD is never "JSON".
        json = false;
        nested.append(&mut args);
        args = nested;
    }
    Ok(Node { cmd, flags, args, json, original: line.to_string() })
}

/// The line parser of each instruction (buildkit's dispatch table). Returns the argument words
/// and whether they came from a JSON array.
fn line_args(cmd: &str, rest: &str, escape: char) -> Result<(Vec<String>, bool), String> {
    Ok(match cmd {
        "add" | "copy" | "volume" => maybe_json_to_list(rest)?,
        "arg" => (words::parse_words(rest, escape), false),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest)?,
        "env" => (name_val(rest, "ENV", escape)?, false),
        "label" => (name_val(rest, "LABEL", escape)?, false),
        "expose" | "from" => (words::split_ws(rest), false),
        "healthcheck" => health_args(rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => (if rest.is_empty() { Vec::new() } else { vec![rest.to_string()] }, false),
        // Unknown instructions are kept here and refused when typed (`parseIgnore`).
        _ => (Vec::new(), false),
    })
}

const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

/// `parseMaybeJSON`: a JSON array of strings, else the raw text as one word.
fn maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    match words::parse_json(rest) {
        Json::Strings(v) => Ok((v, true)),
        Json::NotStrings => Err(NOT_STRINGS.into()),
        Json::No => Ok((vec![rest.to_string()], false)),
    }
}

/// `parseMaybeJSONToList`: a JSON array of strings, else whitespace-separated words.
fn maybe_json_to_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    match words::parse_json(rest) {
        Json::Strings(v) => Ok((v, true)),
        Json::NotStrings => Err(NOT_STRINGS.into()),
        Json::No => Ok((words::split_ws(rest), false)),
    }
}

/// `parseNameVal` (ENV, LABEL), flattened to `[k1, v1, k2, v2, …]`. The old form (`ENV KEY
/// value with spaces`) is used when the first word has no `=`.
fn name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let words = words::parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        return match words::split_ws2(rest) {
            (k, Some(v)) => Ok(vec![k.to_string(), v.to_string()]),
            (_, None) => Err(format!("{key} must have two arguments")),
        };
    }
    let mut out = Vec::with_capacity(words.len() * 2);
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!("Syntax error - can't find = in {}. Must be of the form: name=value", quote(w)));
        };
        out.push(k.to_string());
        out.push(v.to_string());
    }
    Ok(out)
}

/// `parseHealthConfig`: the type word (`CMD`/`NONE`), then the command as `parseMaybeJSON`.
fn health_args(rest: &str) -> Result<(Vec<String>, bool), String> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let (typ, cmd) = rest.split_at(sep);
    let (cmd_args, json) = maybe_json(cmd.trim_start())?;
    let mut args = vec![typ.to_string()];
    args.extend(cmd_args);
    Ok((args, json))
}

/// A typed line.
struct TypedLine {
    kind: Typed,
    /// A BuildKit-only option the line uses (`chmod`, `mount`): Docker refuses it when it
    /// dispatches the step.
    buildkit_only: Option<String>,
}

enum Typed {
    Stage { name: Option<String>, base: String, platform: Option<String> },
    Command(Instruction),
}

fn cmd(i: Instruction) -> Result<TypedLine, String> {
    Ok(TypedLine { kind: Typed::Command(i), buildkit_only: None })
}

fn at_least_one(name: &str) -> String {
    format!("{name} requires at least one argument")
}

fn exactly_one(name: &str) -> String {
    format!("{name} requires exactly one argument")
}

/// `handleJSONArgs` into our command-line type: exec form, or the words joined for the shell.
fn cmd_line(node: &Node) -> CmdLine {
    if node.json {
        CmdLine::Exec(node.args.clone())
    } else {
        CmdLine::Shell(node.args.join(" "))
    }
}

/// `parseKvps`: pairs for ENV/LABEL.
fn key_values(args: &[String], name: &str) -> Result<Vec<KeyValue>, String> {
    if args.is_empty() {
        return Err(at_least_one(name));
    }
    // The line parser always gives pairs; an odd word out is buildkit's "should never get here".
    args.chunks(2)
        .map(|kv| match kv {
            [k, _] if k.is_empty() => Err(format!("{name} names can not be blank")),
            [k, v] => Ok(KeyValue { key: k.clone(), value: v.clone() }),
            _ => Err(format!("Bad input to {name}, too many arguments")),
        })
        .collect()
}

/// `ParseInstruction`: type one line, with buildkit's checks in buildkit's order (which
/// decides the message when a line has several problems).
fn instruction(node: &Node) -> Result<TypedLine, String> {
    let args = &node.args;
    let flags = Flags::new(&node.flags);
    match node.cmd.as_str() {
        "env" => {
            flags.parse()?;
            cmd(Instruction::Env(key_values(args, "ENV")?))
        }
        "maintainer" => {
            if args.len() != 1 {
                return Err(exactly_one("MAINTAINER"));
            }
            flags.parse()?;
            cmd(Instruction::Maintainer(args[0].clone()))
        }
        "label" => {
            flags.parse()?;
            cmd(Instruction::Label(key_values(args, "LABEL")?))
        }
        "add" | "copy" => copy_like(node),
        "from" => from(node),
        "onbuild" => {
            let Some(first) = args.first() else {
                return Err(at_least_one("ONBUILD"));
            };
            flags.parse()?;
            let trigger = first.trim().to_uppercase();
            match trigger.as_str() {
                "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
                "MAINTAINER" | "FROM" => return Err(format!("{trigger} isn't allowed as an ONBUILD trigger")),
                _ => {}
            }
            cmd(Instruction::OnBuild(onbuild_expression(&node.original)))
        }
        "workdir" => {
            if args.len() != 1 {
                return Err(exactly_one("WORKDIR"));
            }
            flags.parse()?;
            cmd(Instruction::Workdir(args[0].clone()))
        }
        "run" => {
            // Docker 20.10 knows `--mount` (its parser is built with it) but refuses it when
            // it runs the step; `--network`/`--security` are unknown flags there.
            let parsed = flags.strings("mount").parse()?;
            let buildkit_only = parsed.first_used().map(String::from);
            Ok(TypedLine { kind: Typed::Command(Instruction::Run(cmd_line(node))), buildkit_only })
        }
        "cmd" => {
            flags.parse()?;
            cmd(Instruction::Cmd(cmd_line(node)))
        }
        "entrypoint" => {
            flags.parse()?;
            cmd(Instruction::Entrypoint(cmd_line(node)))
        }
        "healthcheck" => healthcheck(node),
        "expose" => {
            if args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            flags.parse()?;
            // Docker sorts the (unexpanded) words: history shows `EXPOSE 53/udp 8080/tcp`.
            let mut ports = args.clone();
            ports.sort();
            cmd(Instruction::Expose(ports))
        }
        "user" => {
            if args.len() != 1 {
                return Err(exactly_one("USER"));
            }
            flags.parse()?;
            cmd(Instruction::User(args[0].clone()))
        }
        "volume" => {
            if args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            flags.parse()?;
            let mut volumes = Vec::with_capacity(args.len());
            for v in args {
                let v = v.trim();
                if v.is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                volumes.push(v.to_string());
            }
            cmd(Instruction::Volume(volumes))
        }
        // STOPSIGNAL and ARG never look at their flags in Docker: `ARG --x Y` is accepted.
        "stopsignal" => {
            if args.len() != 1 {
                return Err(exactly_one("STOPSIGNAL"));
            }
            cmd(Instruction::StopSignal(args[0].clone()))
        }
        "arg" => {
            if args.is_empty() {
                return Err(at_least_one("ARG"));
            }
            let mut decls = Vec::with_capacity(args.len());
            for a in args {
                decls.push(match a.split_once('=') {
                    Some(("", _)) => return Err("ARG names can not be blank".into()),
                    Some((k, v)) => ArgDecl { name: k.to_string(), default: Some(v.to_string()) },
                    None => ArgDecl { name: a.clone(), default: None },
                });
            }
            cmd(Instruction::Arg(decls))
        }
        "shell" => {
            flags.parse()?;
            if args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".into());
            }
            cmd(Instruction::Shell(args.clone()))
        }
        other => Err(format!("unknown instruction: {}", other.to_uppercase())),
    }
}

/// ADD and COPY: at least a source and a destination, then `--chown` (and COPY's `--from`);
/// `--chmod` parses but is BuildKit-only in Docker 20.10.
fn copy_like(node: &Node) -> Result<TypedLine, String> {
    let is_copy = node.cmd == "copy";
    let name = if is_copy { "COPY" } else { "ADD" };
    let args = &node.args;
    let Some((dest, sources)) = args.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(format!("{name} requires at least two arguments, but only one was provided. Destination could not be determined"));
    };
    let mut flags = Flags::new(&node.flags).string("chown");
    if is_copy {
        flags = flags.string("from");
    }
    let parsed = flags.string("chmod").parse()?;
    let spec = CopySpec { sources: sources.to_vec(), dest: dest.clone(), from: parsed.value("from"), chown: parsed.value("chown") };
    let buildkit_only = parsed.value("chmod").map(|_| "chmod".to_string());
    let i = if is_copy { Instruction::Copy(spec) } else { Instruction::Add(spec) };
    Ok(TypedLine { kind: Typed::Command(i), buildkit_only })
}

/// `FROM [--platform=P] image [AS name]`: the stage name is checked before the flags.
fn from(node: &Node) -> Result<TypedLine, String> {
    let args = &node.args;
    let name = match args.as_slice() {
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(format!("invalid name for build stage: {}, name can't start with a number or contain symbols", quote(name)));
            }
            Some(lower)
        }
        [_] => None,
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    let parsed = Flags::new(&node.flags).string("platform").parse()?;
    Ok(TypedLine { kind: Typed::Stage { name, base: args[0].clone(), platform: parsed.value("platform") }, buildkit_only: None })
}

/// `^[a-z][a-z0-9-_\.]*$`
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z')) && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_' | '.'))
}

/// The trigger text: the original line minus `(?i)^\s*ONBUILD\s*` (Go's ASCII `\s`).
fn onbuild_expression(original: &str) -> String {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c');
    let s = original.trim_start_matches(is_space);
    match s.get(..7) {
        Some(word) if word.eq_ignore_ascii_case("onbuild") => s[7..].trim_start_matches(is_space).to_string(),
        _ => s.to_string(),
    }
}

/// HEALTHCHECK: `NONE` (whose flags Docker never reads) or `CMD` with the timing flags.
fn healthcheck(node: &Node) -> Result<TypedLine, String> {
    let Some((typ, rest)) = node.args.split_first() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    let typ = typ.to_uppercase();
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return cmd(Instruction::Healthcheck(Health::None));
    }
    let parsed = Flags::new(&node.flags).string("interval").string("timeout").string("start-period").string("retries").parse()?;
    if typ != "CMD" {
        return Err(format!("Unknown type {} in HEALTHCHECK (try CMD)", quote(&typ)));
    }
    if rest.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    let test = if node.json { CmdLine::Exec(rest.to_vec()) } else { CmdLine::Shell(rest.join(" ")) };
    let interval = interval_flag(&parsed, "interval")?;
    let timeout = interval_flag(&parsed, "timeout")?;
    let start_period = interval_flag(&parsed, "start-period")?;
    let retries = match parsed.value("retries") {
        None => None,
        Some(v) => {
            let n = duration::parse_go_int32(&v)?;
            if n < 1 {
                return Err(format!("--retries must be at least 1 (not {n})"));
            }
            u32::try_from(n).ok()
        }
    };
    cmd(Instruction::Healthcheck(Health::Check { test, interval, timeout, start_period, retries }))
}

/// `parseOptInterval`: unset or empty is `None`; otherwise a Go duration of at least 1ms (so
/// `0s` is refused too, as in Docker).
fn interval_flag(parsed: &flags::Parsed, name: &str) -> Result<Option<Duration>, String> {
    let Some(v) = parsed.value(name) else {
        return Ok(None);
    };
    let ns = duration::parse_go_duration(&v)?;
    if ns < 1_000_000 {
        return Err(format!("Interval {} cannot be less than 1ms", quote(name)));
    }
    Ok(Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))))
}
