//! The typed result of parsing a Dockerfile (buildkit's `instructions` package, for the
//! classic builder's instruction set). Raw words are unexpanded: the dispatcher expands them
//! with [`super::shell_lex`] on the instructions Docker expands (ADD, COPY, ENV, EXPOSE, FROM,
//! LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ONBUILD), with the environment of that step.

use std::time::Duration;

/// A parsed Dockerfile.
#[derive(Clone, Debug, PartialEq)]
pub struct Dockerfile {
    /// The escape character (`# escape=` directive; `\` by default).
    pub escape: char,
    /// The `# syntax=` directive, if any (the classic builder ignores it).
    pub syntax: Option<String>,
    /// `ARG`s before the first `FROM`: usable in `FROM` lines only (and in a stage that
    /// redeclares them without a value).
    pub meta_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
    /// Warnings the parser gives (e.g. "Empty continuation line found in: …").
    pub warnings: Vec<String>,
}

/// Where an instruction came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// 1-based line of the instruction's first physical line.
    pub start_line: usize,
    /// 1-based line of its last physical line (after continuations).
    pub end_line: usize,
    /// The instruction as the classic builder prints it in `Step N/M : …`: the logical line
    /// (continuations joined, escape and newline removed), leading whitespace trimmed.
    pub original: String,
}

/// `FROM [--platform=P] image [AS name]` and the commands after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// The stage name, lowercased (stage names are case-insensitive).
    pub name: Option<String>,
    /// The base image word, unexpanded (`${BASE}` allowed, from meta args).
    pub base: String,
    pub platform: Option<String>,
    pub source: Source,
    pub commands: Vec<Command>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub source: Source,
    pub instruction: Instruction,
}

/// Shell form (wrapped in the current SHELL at dispatch) or exec form (a JSON array of strings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdLine {
    Shell(String),
    Exec(Vec<String>),
}

/// `key=value` of ENV and LABEL: both words raw (quotes kept), expanded at dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// `ARG name[=default]`: name and default raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// ADD/COPY: sources and destination raw (the JSON form's strings, or whitespace-split words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopySpec {
    pub sources: Vec<String>,
    pub dest: String,
    /// `--from=` (COPY only): a stage name, a stage index, or an image reference.
    pub from: Option<String>,
    /// `--chown=user[:group]`
    pub chown: Option<String>,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [--interval …] CMD …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    None,
    Check {
        test: CmdLine,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        retries: Option<u32>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Instruction {
    Run(CmdLine),
    Cmd(CmdLine),
    Entrypoint(CmdLine),
    /// Exec form only (a JSON array), as Docker requires.
    Shell(Vec<String>),
    Env(Vec<KeyValue>),
    Label(Vec<KeyValue>),
    /// The rest of the line as written.
    Maintainer(String),
    /// Raw words (`80`, `53/udp`, `${PORT}`).
    Expose(Vec<String>),
    Add(CopySpec),
    Copy(CopySpec),
    /// Raw paths (JSON form or words).
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Arg(Vec<ArgDecl>),
    /// The nested instruction's text as written, e.g. `RUN echo child` (it is validated when
    /// parsed: `ONBUILD ONBUILD`, `ONBUILD FROM` and `ONBUILD MAINTAINER` are errors).
    OnBuild(String),
    StopSignal(String),
    Healthcheck(Health),
}

impl Instruction {
    /// The instruction keyword in upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Shell(_) => "SHELL",
            Instruction::Env(_) => "ENV",
            Instruction::Label(_) => "LABEL",
            Instruction::Maintainer(_) => "MAINTAINER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Add(_) => "ADD",
            Instruction::Copy(_) => "COPY",
            Instruction::Volume(_) => "VOLUME",
            Instruction::User(_) => "USER",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Arg(_) => "ARG",
            Instruction::OnBuild(_) => "ONBUILD",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
        }
    }
}
