//! `POST /containers/{id}/update` as Docker 20.10: resources written into a running
//! container's cgroups at once (and kept in hostconfig.json for inspect and the next start), a
//! stopped container's applied at start, the restart policy, Docker's checks and conflicts;
//! through the raw API, `docker update` and docker-py's `update_container`.

use berth_tests::engine::{have_docker, Engine};
use berth_tests::raw_api::{have_docker_py, request};
use serde_json::{json, Value};

const MIB: i64 = 1 << 20;

/// A cgroup v1 knob of container `id` (`None` on a cgroup v2 host: the checks below are v1's).
fn knob(e: &Engine, ctrl: &str, id: &str, file: &str) -> Option<String> {
    let root = std::path::Path::new("/sys/fs/cgroup");
    if !root.join("memory").is_dir() {
        return None;
    }
    let p = root.join(ctrl).join(e.cgroup_parent.trim_start_matches('/')).join(id).join(file);
    Some(std::fs::read_to_string(&p).unwrap_or_else(|err| panic!("{}: {err}", p.display())).trim().to_string())
}

fn id_of(e: &Engine, name: &str) -> String {
    e.ok(&["inspect", "--format", "{{.Id}}", name]).trim().to_string()
}

fn host_config(e: &Engine, name: &str) -> Value {
    request(&e.sock, "GET", &format!("/v1.41/containers/{name}/json"), None).json()["HostConfig"].clone()
}

fn update(e: &Engine, name: &str, body: &Value) -> berth_tests::raw_api::Answer {
    request(&e.sock, "POST", &format!("/v1.41/containers/{name}/update"), Some(&body.to_string()))
}

#[test]
fn update_a_running_container_through_the_api() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "u1", "-m", "64m", "busybox", "sleep", "1000"]);
    let id = id_of(&e, "u1");
    if let Some(v) = knob(&e, "memory", &id, "memory.limit_in_bytes") {
        assert_eq!(v, (64 * MIB).to_string());
    }

    let body = json!({"Memory": 256 * MIB, "MemorySwap": 512 * MIB, "NanoCpus": 500_000_000, "PidsLimit": 50, "CpuShares": 512,
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}});
    let r = update(&e, "u1", &body);
    assert_eq!((r.status, r.body.as_str()), (200, "{\"Warnings\":[]}\n"), "{r:?}\n{}", e.daemon_log());
    assert_eq!(r.header("Content-Type").as_deref(), Some("application/json"));
    // In the cgroups now (memory raised past the old memsw: memsw written first, as runc).
    if let Some(limit) = knob(&e, "memory", &id, "memory.limit_in_bytes") {
        assert_eq!(limit, (256 * MIB).to_string());
        assert_eq!(knob(&e, "memory", &id, "memory.memsw.limit_in_bytes").unwrap(), (512 * MIB).to_string());
        assert_eq!(knob(&e, "cpu", &id, "cpu.cfs_quota_us").unwrap(), "50000");
        assert_eq!(knob(&e, "cpu", &id, "cpu.cfs_period_us").unwrap(), "100000");
        assert_eq!(knob(&e, "cpu", &id, "cpu.shares").unwrap(), "512");
        assert_eq!(knob(&e, "pids", &id, "pids.max").unwrap(), "50");
    }
    // In inspect and in hostconfig.json.
    let hc = host_config(&e, "u1");
    assert_eq!(
        (&hc["Memory"], &hc["MemorySwap"], &hc["NanoCpus"], &hc["PidsLimit"], &hc["CpuShares"]),
        (&json!(256 * MIB), &json!(512 * MIB), &json!(500_000_000), &json!(50), &json!(512)),
        "{hc}"
    );
    assert_eq!(hc["RestartPolicy"], json!({"Name": "on-failure", "MaximumRetryCount": 3}));
    let disk: Value =
        serde_json::from_slice(&std::fs::read(e.data_root().join("containers").join(&id).join("hostconfig.json")).unwrap()).unwrap();
    assert_eq!((&disk["Memory"], &disk["PidsLimit"]), (&json!(256 * MIB), &json!(50)));

    // Lowering both (limit first), pids back to unlimited (0 and -1 both mean it).
    let r = update(&e, "u1", &json!({"Memory": 32 * MIB, "MemorySwap": 48 * MIB, "PidsLimit": -1}));
    assert_eq!(r.status, 200, "{r:?}");
    if let Some(limit) = knob(&e, "memory", &id, "memory.limit_in_bytes") {
        assert_eq!(limit, (32 * MIB).to_string());
        assert_eq!(knob(&e, "memory", &id, "memory.memsw.limit_in_bytes").unwrap(), (48 * MIB).to_string());
        assert_eq!(knob(&e, "pids", &id, "pids.max").unwrap(), "max");
    }
    assert_eq!(host_config(&e, "u1")["PidsLimit"], json!(0));
    // cpuset: one of the CPUs there are.
    let r = update(&e, "u1", &json!({"CpusetCpus": "0"}));
    assert_eq!(r.status, 200, "{r:?}");
    if let Some(v) = knob(&e, "cpuset", &id, "cpuset.cpus") {
        assert_eq!(v, "0");
    }
    // The update event.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1;
    let ev =
        request(&e.sock, "GET", &format!("/v1.41/events?since=0&until={now}&filters=%7B%22event%22%3A%7B%22update%22%3Atrue%7D%7D"), None);
    assert!(ev.body.contains("\"Action\":\"update\"") && ev.body.contains(&id), "{ev:?}");

    // Docker's errors.
    let r = update(&e, "nosuch", &json!({"Memory": 64 * MIB}));
    assert_eq!((r.status, r.message().as_str()), (404, "No such container: nosuch"));
    let r = request(&e.sock, "POST", "/v1.41/containers/u1/update", None);
    assert_eq!((r.status, r.message().as_str()), (400, "got EOF while reading request body"));
    let r = update(&e, "u1", &json!({"Memory": MIB}));
    assert_eq!((r.status, r.message().as_str()), (400, "Minimum memory limit allowed is 6MB"));
    let r = update(&e, "u1", &json!({"Memory": 64 * MIB, "MemorySwap": 32 * MIB}));
    assert_eq!((r.status, r.message().as_str()), (400, "Minimum memoryswap limit should be larger than memory limit, see usage"));
    let r = update(&e, "u1", &json!({"RestartPolicy": {"Name": "sometimes"}}));
    assert_eq!((r.status, r.message().as_str()), (400, "invalid restart policy 'sometimes'"));
    let r = update(&e, "u1", &json!({"CpuPeriod": 50_000}));
    assert_eq!(
        (r.status, r.message()),
        (409, format!("Cannot update container {id}: Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"))
    );
    let r = update(&e, "u1", &json!({"Memory": 64 * MIB}));
    assert_eq!(
        (r.status, r.message()),
        (
            409,
            format!(
                "Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
            )
        )
    );
    let r = update(&e, "u1", &json!({"CpusetCpus": "0-4095"}));
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.message().starts_with("Requested CPUs are not available - requested 0-4095, available: "), "{r:?}");
    // A refused update leaves the container as it was.
    assert_eq!(host_config(&e, "u1")["Memory"], json!(32 * MIB));

    // --rm: no restart policy but "no".
    e.ok(&["run", "-d", "--rm", "--name", "rm1", "busybox", "sleep", "1000"]);
    let rm1 = id_of(&e, "rm1");
    let r = update(&e, "rm1", &json!({"RestartPolicy": {"Name": "always"}}));
    assert_eq!(
        (r.status, r.message()),
        (409, format!("Cannot update container {rm1}: Restart policy cannot be updated because AutoRemove is enabled for the container"))
    );
}

#[test]
fn update_a_stopped_container_applies_at_start_and_restart_policy_takes_effect() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["create", "--name", "s1", "busybox", "sleep", "1000"]);
    let r = update(&e, "s1", &json!({"Memory": 128 * MIB, "PidsLimit": 30}));
    assert_eq!((r.status, r.body.as_str()), (200, "{\"Warnings\":[]}\n"), "{r:?}");
    assert_eq!(host_config(&e, "s1")["Memory"], json!(128 * MIB));
    e.ok(&["start", "s1"]);
    let id = id_of(&e, "s1");
    if let Some(v) = knob(&e, "memory", &id, "memory.limit_in_bytes") {
        assert_eq!(v, (128 * MIB).to_string());
        assert_eq!(knob(&e, "memory", &id, "memory.memsw.limit_in_bytes").unwrap(), (256 * MIB).to_string(), "default swap at start");
        assert_eq!(knob(&e, "pids", &id, "pids.max").unwrap(), "30");
    }

    // A container that fails: restarted once its policy says so.
    e.ok(&["run", "-d", "--name", "r1", "busybox", "sh", "-c", "sleep 2; exit 3"]);
    let r = update(&e, "r1", &json!({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 1}}));
    assert_eq!(r.status, 200, "{r:?}");
    e.eventually(30, "r1 restarted by its updated policy", || {
        request(&e.sock, "GET", "/v1.41/containers/r1/json", None).json()["RestartCount"] == json!(1)
    });
}

#[test]
fn docker_update() {
    if !have_docker("docker update") {
        return;
    }
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "d1", "-m", "64m", "busybox", "sleep", "1000"]);
    let id = id_of(&e, "d1");
    let r = e.docker(&["update", "--memory", "256m", "d1"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            format!("Error response from daemon: Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time\n").as_str()
        ),
        "{r:?}"
    );
    let r = e.docker(&[
        "update",
        "--memory",
        "256m",
        "--memory-swap",
        "512m",
        "--cpus",
        "1.5",
        "--cpu-shares",
        "256",
        "--pids-limit",
        "40",
        "--memory-reservation",
        "100m",
        "--restart",
        "unless-stopped",
        "d1",
    ]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "d1\n", ""), "{r:?}\n{}", e.daemon_log());
    let r = e.docker(&[
        "inspect",
        "--format",
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.MemoryReservation}} {{.HostConfig.RestartPolicy.Name}}",
        "d1",
    ]);
    assert_eq!(r.stdout, format!("{} {} 1500000000 256 40 {} unless-stopped\n", 256 * MIB, 512 * MIB, 100 * MIB), "{r:?}");
    if let Some(v) = knob(&e, "memory", &id, "memory.limit_in_bytes") {
        assert_eq!(v, (256 * MIB).to_string());
        assert_eq!(knob(&e, "memory", &id, "memory.soft_limit_in_bytes").unwrap(), (100 * MIB).to_string());
        assert_eq!(knob(&e, "cpu", &id, "cpu.cfs_quota_us").unwrap(), "150000");
        assert_eq!(knob(&e, "cpu", &id, "cpu.shares").unwrap(), "256");
        assert_eq!(knob(&e, "pids", &id, "pids.max").unwrap(), "40");
    }
    // Several containers, one unknown: the others are updated, the error is reported.
    e.ok(&["create", "--name", "d2", "busybox", "true"]);
    let r = e.docker(&["update", "--cpu-shares", "128", "d2", "nosuch"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "d2\n", "Error response from daemon: No such container: nosuch\n"),
        "{r:?}"
    );
    // A weight the kernel can't apply: Docker's warning, on stdout after the names.
    let blkio = std::path::Path::new("/sys/fs/cgroup/blkio");
    if blkio.is_dir() && !blkio.join("blkio.weight").exists() && !blkio.join("blkio.bfq.weight").exists() {
        let r = e.docker(&["update", "--blkio-weight", "300", "d1"]);
        assert_eq!(
            (r.code, r.stdout.as_str()),
            (0, "d1\nYour kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.\n"),
            "{r:?}"
        );
        assert_eq!(host_config(&e, "d1")["BlkioWeight"], json!(0));
    }
}

const PY: &str = r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
ct = c.containers.get("p1")
print(c.api.update_container("p1", mem_limit="128m", memswap_limit="256m", cpu_shares=300, restart_policy={"Name": "always"}))
print(ct.update(cpu_quota=20000, cpu_period=100000, mem_reservation="64m"))
ct.reload()
h = ct.attrs["HostConfig"]
print(h["Memory"], h["MemorySwap"], h["CpuShares"], h["MemoryReservation"], h["CpuQuota"], h["CpuPeriod"], h["RestartPolicy"]["Name"])
try:
    c.api.update_container("p1", mem_limit="1m")
except docker.errors.APIError as e:
    print(e.status_code, e.explanation)
"#;

#[test]
fn docker_py_update_container() {
    if !have_docker_py("docker-py update_container") {
        return;
    }
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "p1", "busybox", "sleep", "1000"]);
    let (ok, out, err) = berth_tests::raw_api::docker_py(&e.host(), PY);
    assert!(ok, "{out}\n{err}\n--- berthd:\n{}", e.daemon_log());
    assert_eq!(
        out,
        format!(
            "{{'Warnings': []}}\n{{'Warnings': []}}\n{} {} 300 {} 20000 100000 always\n400 Minimum memory limit allowed is 6MB\n",
            128 * MIB,
            256 * MIB,
            64 * MIB
        )
    );
    let id = id_of(&e, "p1");
    if let Some(v) = knob(&e, "memory", &id, "memory.limit_in_bytes") {
        assert_eq!(v, (128 * MIB).to_string());
        assert_eq!(knob(&e, "cpu", &id, "cpu.cfs_quota_us").unwrap(), "20000");
        assert_eq!(knob(&e, "memory", &id, "memory.soft_limit_in_bytes").unwrap(), (64 * MIB).to_string());
    }
}

#[test]
fn update_under_the_berth_runtime() {
    let e = Engine::start_with(&["--default-runtime", "berth"]);
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "b1", "-m", "64m", "busybox", "sleep", "1000"]);
    let r = update(&e, "b1", &json!({"Memory": 256 * MIB, "MemorySwap": 512 * MIB, "CpuQuota": 30_000}));
    assert_eq!((r.status, r.body.as_str()), (200, "{\"Warnings\":[]}\n"), "{r:?}\n{}", e.daemon_log());
    let id = id_of(&e, "b1");
    if let Some(v) = knob(&e, "memory", &id, "memory.limit_in_bytes") {
        assert_eq!(v, (256 * MIB).to_string());
        assert_eq!(knob(&e, "memory", &id, "memory.memsw.limit_in_bytes").unwrap(), (512 * MIB).to_string());
        assert_eq!(knob(&e, "cpu", &id, "cpu.cfs_quota_us").unwrap(), "30000");
    }
}
