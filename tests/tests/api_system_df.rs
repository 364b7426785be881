//! `GET /system/df` in Docker 20.10's shape, through the raw API, `docker system df [-v]` and
//! docker-py's `df()`.

use berth_tests::engine::{busybox_tar, have_docker, Engine};
use berth_tests::raw_api::{docker_py, have_docker_py, request};
use serde_json::Value;

/// Go's `units.HumanSize` (`%.4g` of decimal units), as the docker CLI prints sizes.
fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let (mut v, mut i) = (n as f64, 0);
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let int_digits = if v < 1.0 { 1 } else { v.log10().floor() as i32 + 1 };
    let s = format!("{:.*}", (4 - int_digits).max(0) as usize, v);
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    format!("{s}{}", units[i])
}

/// busybox (2 tags' worth: `busybox` and `bb2`, the same layer), c1 exited with 50 kB in its rw
/// layer and 100 kB in volume `vol1`, c2 running with nothing written, `emptyvol` unused.
fn setup(e: &Engine) {
    e.import_busybox();
    e.ok(&["import", busybox_tar().to_str().unwrap(), "bb2"]);
    e.ok(&["volume", "create", "emptyvol"]);
    e.ok(&[
        "run",
        "--name",
        "c1",
        "-v",
        "vol1:/data",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/data/f bs=1024 count=100 2>/dev/null; dd if=/dev/zero of=/big bs=1024 count=50 2>/dev/null",
    ]);
    e.ok(&["run", "-d", "--name", "c2", "busybox", "sleep", "1000"]);
}

fn df(e: &Engine) -> Value {
    let r = request(&e.sock, "GET", "/v1.41/system/df", None);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Content-Type").as_deref(), Some("application/json"));
    r.json()
}

fn by(list: &Value, f: impl Fn(&Value) -> bool) -> &Value {
    list.as_array().unwrap().iter().find(|x| f(x)).unwrap_or_else(|| panic!("not in {list}"))
}

#[test]
fn system_df_through_the_api() {
    let e = Engine::start();
    let empty = df(&e);
    assert_eq!(
        empty,
        serde_json::json!({"LayersSize": 0, "Images": [], "Containers": [], "Volumes": [], "BuildCache": [], "BuilderSize": 0})
    );
    setup(&e);
    let v = df(&e);
    // Unversioned path too.
    assert_eq!(request(&e.sock, "GET", "/system/df", None).status, 200);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 6, "{v}");
    assert_eq!(v["BuildCache"], serde_json::json!([]));

    // Images: as /images/json, plus Containers and SharedSize; both share their only layer.
    let images = &v["Images"];
    assert_eq!(images.as_array().unwrap().len(), 2, "{v}");
    let bb = by(images, |i| i["RepoTags"][0] == "busybox:latest");
    let bb2 = by(images, |i| i["RepoTags"][0] == "bb2:latest");
    let size = bb["Size"].as_u64().unwrap();
    assert!(size > 100_000, "{bb}");
    assert_eq!(v["LayersSize"].as_u64(), Some(size), "one layer, counted once: {v}");
    assert_eq!((bb["Containers"].as_i64(), bb2["Containers"].as_i64()), (Some(2), Some(0)));
    assert_eq!((bb["SharedSize"].as_u64(), bb2["SharedSize"].as_u64()), (Some(size), Some(size)));
    assert_eq!(bb["VirtualSize"], bb["Size"]);
    let listed: Value = request(&e.sock, "GET", "/v1.41/images/json", None).json();
    let listed_bb = by(&listed, |i| i["RepoTags"][0] == "busybox:latest");
    for k in ["Id", "ParentId", "RepoTags", "RepoDigests", "Created", "Size", "Labels"] {
        assert_eq!(bb[k], listed_bb[k], "{k}");
    }

    // Containers: as /containers/json?all=1 (newest first), with SizeRw and SizeRootFs.
    let cs = v["Containers"].as_array().unwrap();
    let names: Vec<&str> = cs.iter().map(|c| c["Names"][0].as_str().unwrap()).collect();
    assert_eq!(names, ["/c2", "/c1"]);
    let listed: Value = request(&e.sock, "GET", "/v1.41/containers/json?all=1", None).json();
    for (c, l) in cs.iter().zip(listed.as_array().unwrap()) {
        for k in ["Id", "Names", "Image", "ImageID", "Command", "Created", "State", "Mounts", "HostConfig", "Labels"] {
            assert_eq!(c[k], l[k], "{k}");
        }
    }
    let c1 = by(&v["Containers"], |c| c["Names"][0] == "/c1");
    let c2 = by(&v["Containers"], |c| c["Names"][0] == "/c2");
    assert_eq!((c1["SizeRw"].as_u64(), c1["SizeRootFs"].as_u64()), (Some(51200), Some(51200 + size)), "{c1}");
    assert_eq!((c2["SizeRw"].as_u64(), c2["SizeRootFs"].as_u64()), (Some(0), Some(size)), "{c2}");
    assert_eq!(c1["Mounts"][0]["Name"], "vol1");

    // Volumes: as /volumes, with UsageData.
    let vols = &v["Volumes"];
    let vol1 = by(vols, |x| x["Name"] == "vol1");
    let emptyvol = by(vols, |x| x["Name"] == "emptyvol");
    assert_eq!(vol1["UsageData"], serde_json::json!({"Size": 102400, "RefCount": 1}));
    assert_eq!(emptyvol["UsageData"], serde_json::json!({"Size": 0, "RefCount": 0}));
    assert_eq!(vol1["Driver"], "local");
    assert!(vol1["Mountpoint"].as_str().unwrap().ends_with("/volumes/vol1/_data"), "{vol1}");

    // After c1 is gone, its image count and the volume's RefCount drop.
    e.ok(&["rm", "c1"]);
    let v = df(&e);
    assert_eq!(by(&v["Images"], |i| i["RepoTags"][0] == "busybox:latest")["Containers"], 1);
    assert_eq!(by(&v["Volumes"], |x| x["Name"] == "vol1")["UsageData"]["RefCount"], 0);
    assert_eq!(v["Containers"].as_array().unwrap().len(), 1);
}

/// The rows of a `docker system df` table, split on runs of 2+ spaces.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect())
        .collect()
}

#[test]
fn docker_system_df_tables() {
    if !have_docker("docker system df") {
        return;
    }
    let e = Engine::start();
    setup(&e);
    let size = df(&e)["LayersSize"].as_u64().unwrap();
    let r = e.docker(&["system", "df"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    let hs = human(size);
    assert_eq!(
        rows(&r.stdout),
        [
            vec!["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
            // Both images' layer is in use by busybox, but the CLI counts (Size - SharedSize)
            // as used: all shared, so all reclaimable.
            vec!["Images", "2", "1", &hs, &format!("{hs} (100%)")],
            vec!["Containers", "2", "1", "51.2kB", "51.2kB (100%)"],
            vec!["Local Volumes", "2", "1", "102.4kB", "0B (0%)"],
            vec!["Build Cache", "0", "0", "0B", "0B"],
        ],
        "{}",
        r.stdout
    );

    let r = e.docker(&["system", "df", "-v"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    let out = &r.stdout;
    for section in ["Images space usage:", "Containers space usage:", "Local Volumes space usage:", "Build cache usage: 0B"] {
        assert!(out.contains(section), "{section}: {out}");
    }
    let t = rows(out);
    let row = |first: &str| t.iter().find(|r| r[0] == first).unwrap_or_else(|| panic!("no row {first}: {out}")).clone();
    assert_eq!(row("REPOSITORY"), ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]);
    let hs4 = human(size);
    let bb = row("busybox");
    assert_eq!((bb[1].as_str(), bb[5].as_str(), bb[6].as_str(), bb[7].as_str()), ("latest", hs4.as_str(), "0B", "2"), "{out}");
    let bb2 = row("bb2");
    assert_eq!((bb2[6].as_str(), bb2[7].as_str()), ("0B", "0"), "{out}");
    assert_eq!(row("CONTAINER ID"), ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]);
    let c1 = t.iter().find(|r| r.last().map(String::as_str) == Some("c1")).unwrap_or_else(|| panic!("{out}"));
    assert_eq!((c1[1].as_str(), c1[3].as_str(), c1[4].as_str()), ("busybox", "1", "51.2kB"), "{out}");
    let c2 = t.iter().find(|r| r.last().map(String::as_str) == Some("c2")).unwrap_or_else(|| panic!("{out}"));
    assert_eq!((c2[3].as_str(), c2[4].as_str()), ("0", "0B"), "{out}");
    assert!(c2[6].starts_with("Up "), "{out}");
    assert_eq!(row("VOLUME NAME"), ["VOLUME NAME", "LINKS", "SIZE"]);
    assert_eq!(row("vol1"), ["vol1", "1", "102.4kB"]);
    assert_eq!(row("emptyvol"), ["emptyvol", "0", "0B"]);
}

const PY: &str = r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
d = c.df()
print(sorted(d))
print(sorted((i["RepoTags"][0], i["Containers"], i["SharedSize"] == i["Size"]) for i in d["Images"]))
print([(x["Names"][0], x["SizeRw"]) for x in d["Containers"]])
print(sorted((v["Name"], v["UsageData"]["Size"], v["UsageData"]["RefCount"]) for v in d["Volumes"]))
print(d["BuildCache"], d["LayersSize"] == d["Images"][0]["Size"])
"#;

#[test]
fn docker_py_df() {
    if !have_docker_py("docker-py df()") {
        return;
    }
    let e = Engine::start();
    setup(&e);
    let (ok, out, err) = docker_py(&e.host(), PY);
    assert!(ok, "{out}\n{err}\n--- berthd:\n{}", e.daemon_log());
    assert_eq!(
        out,
        "['BuildCache', 'BuilderSize', 'Containers', 'Images', 'LayersSize', 'Volumes']\n\
         [('bb2:latest', 0, True), ('busybox:latest', 2, True)]\n\
         [('/c2', 0), ('/c1', 51200)]\n\
         [('emptyvol', 0, 0), ('vol1', 102400, 1)]\n\
         [] True\n"
    );
}
