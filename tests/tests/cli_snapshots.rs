//! Snapshots (insta) of the CLI tables and of `inspect` JSON, ids/times/paths normalised.

use berth_tests::engine::{normalize_output, Engine};

/// Column widths depend on the longest cell, so the table snapshots avoid time-dependent
/// columns (CREATED, STATUS); those are covered by unit tests with a fixed clock.
#[test]
fn tables_and_inspect_snapshots() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "--name", "first", "busybox", "sh", "-c", "echo one"]);
    e.ok(&["create", "--name", "second", "-e", "X=1", "-l", "k=v", "busybox", "sh", "-c", "echo 'quoted \"arg\"' && sleep 100"]);
    let n = |s: String| normalize_output(&s, e.dir.path());
    insta::assert_snapshot!("ps_format", n(e.ok(&["ps", "-a", "--format", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.State}}\t{{.Names}}"])));
    insta::assert_snapshot!("ps_quiet_count", e.ok(&["ps", "-aq"]).lines().count().to_string());
    insta::assert_snapshot!("images_format", n(e.ok(&["images", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.Size}}"])));
    insta::assert_snapshot!("inspect_created", n(e.ok(&["inspect", "second"])));
    insta::assert_snapshot!("inspect_exited_state", n(e.ok(&["inspect", "-f", "{{json .State}}", "first"])));
}
