//! `inspect`'s GraphDriver as Docker fills it for overlay2: the usual way to find a container's
//! layers (`docker inspect -f '{{.GraphDriver.Data.UpperDir}}' c8`, next to chapter 8's walk
//! through the data root). Data is null on vfs, as Docker's vfs driver reports none.

use berth_tests::engine::{have_docker, Engine};
use std::path::Path;

#[test]
fn overlay2_graph_driver_data_names_the_container_layers() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["create", "--name", "c8", "busybox", "true"]);
    let id = e.ok(&["inspect", "-f", "{{.Id}}", "c8"]).trim().to_string();
    let gd: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", "-f", "{{json .GraphDriver}}", "c8"])).unwrap();
    assert_eq!(gd["Name"], "overlay2", "{gd}");
    let data = gd["Data"].as_object().unwrap_or_else(|| panic!("GraphDriver.Data is not an object: {gd}"));
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(keys, ["LowerDir", "MergedDir", "UpperDir", "WorkDir"], "{gd}");
    let overlay = e.data_root().join("overlay2");
    let upper = Path::new(data["UpperDir"].as_str().unwrap());
    let layer_dir = upper.parent().unwrap();
    assert_eq!(layer_dir.parent().unwrap(), overlay, "{gd}");
    assert_eq!(upper.file_name().unwrap(), "diff");
    assert!(upper.is_dir(), "{gd}");
    assert_eq!(data["WorkDir"].as_str().unwrap(), layer_dir.join("work").to_str().unwrap());
    assert_eq!(data["MergedDir"].as_str().unwrap(), layer_dir.join("merged").to_str().unwrap());
    // The mount id is not the container id (Docker's layout: a random cache id).
    assert_ne!(layer_dir.file_name().unwrap().to_str().unwrap(), id);
    let lowers: Vec<&str> = data["LowerDir"].as_str().unwrap().split(':').collect();
    let init = format!("{}-init/diff", layer_dir.display());
    assert_eq!(lowers[0], init, "the init layer first: {gd}");
    assert!(lowers.len() >= 2 && lowers.iter().all(|l| Path::new(l).is_dir() && l.ends_with("/diff")), "{gd}");
    if have_docker("docker inspect -f {{.GraphDriver.Data.UpperDir}}") {
        let r = e.docker(&["inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "c8"]);
        assert_eq!((r.code, r.stdout.trim()), (0, upper.to_str().unwrap()), "{r:?}");
    }
}

#[test]
fn vfs_graph_driver_data_is_null() {
    let e = Engine::start_configured(r#"{"storage-driver": "vfs"}"#, &[]);
    e.import_busybox();
    e.ok(&["create", "--name", "v1", "busybox", "true"]);
    assert_eq!(e.ok(&["inspect", "-f", "{{json .GraphDriver}}", "v1"]).trim(), r#"{"Data":null,"Name":"vfs"}"#);
}
