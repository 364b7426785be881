//! The `berth` CLI.

pub fn main(_args: &[String]) -> i32 {
    eprintln!("berth: CLI not implemented yet");
    125
}
