//! `berthd`: the daemon serving the Docker Engine API.

fn main() {
    eprintln!("berthd: not yet implemented");
    std::process::exit(1);
}
