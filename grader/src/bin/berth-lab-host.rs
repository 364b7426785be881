//! The helper holding a lab host's namespaces (see `berth_grader::hosts::init`).
fn main() {
    std::process::exit(berth_grader::hosts::init::main(std::env::args().collect()));
}
