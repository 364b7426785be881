//! `berth`: the CLI (Docker's command syntax). `berth runtime …` is the OCI runtime (runc's
//! command-line contract); `berth shim …` is the per-container shim berthd starts.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("runtime") => std::process::exit(berth_runtime::cli::main(&args[2..])),
        Some("shim") => std::process::exit(berth::shim::main(&args[2..])),
        _ => std::process::exit(berth::cli::main(&args[1..])),
    }
}
