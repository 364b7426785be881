//! The `berth` CLI: Docker's command syntax, tables, formats, exit codes and error texts,
//! as a client of berthd's Engine API.

mod build;
mod events;
mod cp;
pub mod format;
mod images;
mod inspect;
mod lifecycle;
mod logs;
mod network;
mod prune;
mod ps;
mod registry;
mod registry_auth;
mod registry_progress;
mod run;
pub(crate) mod stats;
mod stream;
mod system;
mod table;
mod volume;

use clap::{Parser, Subcommand};

use crate::client::{Client, ClientError, DEFAULT_HOST};

#[derive(Parser, Debug)]
#[command(name = "berth", about = "A self-sufficient runtime for containers", version, disable_help_subcommand = true)]
struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host", env = "BERTH_HOST", global = true)]
    host: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Show the berth version information
    Version,
    /// Display system-wide information
    Info,
    /// Get real time events from the server
    Events(events::EventsArgs),
    /// List containers
    Ps(ps::PsArgs),
    /// Create and run a new container from an image
    Run(run::RunArgs),
    /// Create a new container
    Create(run::RunArgs),
    /// Start one or more stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers
    Restart(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Remove one or more containers
    Rm(lifecycle::RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(lifecycle::Names),
    /// Pause all processes within one or more containers
    Pause(lifecycle::Names),
    /// Unpause all processes within one or more containers
    Unpause(lifecycle::Names),
    /// Rename a container
    Rename { container: String, new_name: String },
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Display the running processes of a container
    Top {
        container: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Execute a command in a running container
    Exec(run::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(run::AttachArgs),
    /// Return low-level information on berth objects
    Inspect(inspect::InspectArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Show the history of an image
    History {
        /// Don't truncate output
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        /// Only show image IDs
        #[arg(short = 'q', long = "quiet")]
        quiet: bool,
        image: String,
    },
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save {
        /// Write to a file, instead of STDOUT
        #[arg(short = 'o', long = "output")]
        output: Option<String>,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Load an image from a tar archive or STDIN
    Load {
        /// Read from tar archive file, instead of STDIN
        #[arg(short = 'i', long = "input")]
        input: Option<String>,
        /// Suppress the load output
        #[arg(short = 'q', long = "quiet")]
        quiet: bool,
    },
    /// Import the contents from a tarball to create a filesystem image
    Import {
        /// Apply Dockerfile instruction to the created image
        #[arg(short = 'c', long = "change")]
        change: Vec<String>,
        /// Set commit message for imported image
        #[arg(short = 'm', long = "message")]
        message: Option<String>,
        source: String,
        repository: Option<String>,
    },
    /// Create a new image from a container's changes
    Commit(images::CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff { container: String },
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCmd),
    /// List port mappings or a specific mapping for the container
    Port { container: String, private_port: Option<String> },
    /// Manage containers (`berth container prune`)
    #[command(subcommand)]
    Container(prune::ContainerCmd),
    /// Manage images (`berth image prune`)
    #[command(subcommand)]
    Image(prune::ImageCmd),
    /// Manage berth (`berth system prune`)
    #[command(subcommand)]
    System(prune::SystemCmd),
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Log in to a registry
    Login(registry::LoginArgs),
    /// Log out from a registry
    Logout { server: Option<String> },
    /// Search registries for images (the registry's catalog, filtered)
    Search(registry::SearchArgs),
    /// Build an image from a Dockerfile
    Build(build::BuildArgs),
    /// Export a container's filesystem as a tar archive
    Export {
        /// Write to a file, instead of STDOUT
        #[arg(short = 'o', long = "output")]
        output: Option<String>,
        container: String,
    },
}

/// A CLI failure: message for stderr and exit status.
pub struct Failure {
    pub msg: Option<String>,
    pub code: i32,
}

impl Failure {
    pub fn new(msg: impl Into<String>, code: i32) -> Self {
        Failure { msg: Some(msg.into()), code }
    }
    pub fn silent(code: i32) -> Self {
        Failure { msg: None, code }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::new(daemon_error(&e), 1)
    }
}

/// How Docker's CLI prints a daemon error.
pub fn daemon_error(e: &ClientError) -> String {
    match e {
        ClientError::Api { message, .. } => format!("Error response from daemon: {message}"),
        other => other.to_string(),
    }
}

pub type CliResult = Result<(), Failure>;

pub fn main(args: &[String]) -> i32 {
    // Like Go programs: a closed stdout (`berth ps | head`) ends us quietly, no panic.
    // SAFETY: setting a signal disposition at startup, before any threads exist.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut argv = vec!["berth".to_string()];
    argv.extend_from_slice(args);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 125,
            };
            let _ = e.print();
            return code;
        }
    };
    let host = cli.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| DEFAULT_HOST.to_string());
    let client = match Client::new(&host) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 125;
        }
    };
    let res = match cli.cmd {
        Cmd::Version => system::version(&client),
        Cmd::Info => system::info(&client),
        Cmd::Events(a) => events::events(&client, a),
        Cmd::Ps(a) => ps::ps(&client, a),
        Cmd::Run(a) => run::run(&client, a),
        Cmd::Create(a) => run::create_cmd(&client, a),
        Cmd::Start(a) => lifecycle::start(&client, a),
        Cmd::Stop(a) => lifecycle::stop(&client, a, "stop"),
        Cmd::Restart(a) => lifecycle::stop(&client, a, "restart"),
        Cmd::Kill(a) => lifecycle::kill(&client, a),
        Cmd::Rm(a) => lifecycle::rm(&client, a),
        Cmd::Wait(a) => lifecycle::wait(&client, a),
        Cmd::Pause(a) => lifecycle::simple(&client, a, "pause"),
        Cmd::Unpause(a) => lifecycle::simple(&client, a, "unpause"),
        Cmd::Rename { container, new_name } => lifecycle::rename(&client, &container, &new_name),
        Cmd::Top { container, ps_args } => lifecycle::top(&client, &container, &ps_args),
        Cmd::Logs(a) => logs::logs(&client, a),
        Cmd::Stats(a) => stats::stats(&client, a),
        Cmd::Cp(a) => cp::cp(&client, a),
        Cmd::Exec(a) => run::exec(&client, a),
        Cmd::Attach(a) => run::attach(&client, a),
        Cmd::Inspect(a) => inspect::inspect(&client, a),
        Cmd::Images(a) => images::images(&client, a),
        Cmd::Tag { source, target } => images::tag(&client, &source, &target),
        Cmd::Rmi(a) => images::rmi(&client, a),
        Cmd::History { no_trunc, quiet, image } => images::history(&client, &image, no_trunc, quiet),
        Cmd::Save { output, images: imgs } => images::save(&client, output.as_deref(), &imgs),
        Cmd::Load { input, quiet } => images::load(&client, input.as_deref(), quiet),
        Cmd::Import { change, message, source, repository } => images::import(&client, &source, repository.as_deref(), message.as_deref(), &change),
        Cmd::Commit(a) => images::commit(&client, a),
        Cmd::Volume(v) => volume::volume(&client, v),
        Cmd::Network(n) => network::network(&client, n),
        Cmd::Port { container, private_port } => network::port(&client, &container, private_port.as_deref()),
        Cmd::Container(c) => prune::container(&client, c),
        Cmd::Image(c) => prune::image(&client, c),
        Cmd::System(c) => prune::system(&client, c),
        Cmd::Diff { container } => images::diff(&client, &container),
        Cmd::Pull(a) => registry::pull(&client, a),
        Cmd::Push(a) => registry::push(&client, a),
        Cmd::Login(a) => registry::login(&client, a),
        Cmd::Logout { server } => registry::logout(server),
        Cmd::Search(a) => registry::search(&client, a),
        Cmd::Build(a) => build::build(&client, a),
        Cmd::Export { output, container } => images::export(&client, output.as_deref(), &container),
    };
    match res {
        Ok(()) => 0,
        Err(f) => {
            if let Some(m) = f.msg {
                eprintln!("{m}");
            }
            f.code
        }
    }
}
