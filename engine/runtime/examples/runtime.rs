//! The runtime alone, for working on it without building the whole engine:
//! `cargo run -p berth-runtime --example runtime -- --root DIR run --bundle B ID`
//! behaves exactly like `berth runtime …` (a leading `runtime` argument is accepted too, so
//! `BERTH_BIN=target/debug/examples/runtime` can stand in for `berth` in the runtime tests).

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("runtime") {
        args.remove(0);
    }
    std::process::exit(berth_runtime::cli::main(&args));
}
