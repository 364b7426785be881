//! Where things are: the workspace, the fixtures, the docker CLI.

use std::path::PathBuf;

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("testkit/ has a parent").to_path_buf()
}

pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("BERTH_FIXTURES").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target/fixtures"))
}

/// The real docker CLI the tests drive against berthd: `$BERTH_DOCKER_CLI` (`cargo xtask ci`
/// sets it, after fetching the CLI when the machine has none), else `docker` on the PATH, else
/// the one `cargo xtask lab`/`ci` unpacked from Debian's docker.io into `target/docker-cli/`.
pub fn docker_cli() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_DOCKER_CLI") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "BERTH_DOCKER_CLI={} does not exist", p.display());
        return Some(p);
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join("docker")).find(|p| p.is_file()));
    on_path.or_else(|| Some(workspace_root().join("target/docker-cli/docker")).filter(|p| p.is_file()))
}
