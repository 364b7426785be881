//! `berth`: the CLI. `berth runtime …` is the OCI runtime (runc's command-line contract).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("runtime") => std::process::exit(berth_runtime::cli::main(&args[2..])),
        _ => {
            eprintln!("usage: berth runtime COMMAND [ARGS]");
            std::process::exit(125);
        }
    }
}
