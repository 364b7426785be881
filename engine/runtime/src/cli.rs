//! `berth runtime`: runc's command-line contract.

/// Runs the runtime CLI with `args` (everything after `runtime`) and returns the exit code.
pub fn main(_args: &[String]) -> i32 {
    eprintln!("berth runtime: not yet implemented");
    1
}
