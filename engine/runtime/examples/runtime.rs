//! The runtime alone, for working on it without building the whole engine:
//! `cargo run -p berth-runtime --example runtime -- --root DIR run --bundle B ID`
//! behaves exactly like `berth runtime …`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(berth_runtime::cli::main(&args));
}
