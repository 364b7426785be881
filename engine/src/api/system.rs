//! `/_ping`, `/version`, `/info`.

use http::{Method, Response};
use serde_json::json;

use super::response::{self, Resp};
use crate::daemon::Daemon;

pub fn ping(m: &Method) -> Resp {
    let body = if m == Method::HEAD { response::empty_body() } else { response::full("OK") };
    Response::builder()
        .status(200)
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Pragma", "no-cache")
        .header("Content-Length", if m == Method::HEAD { "0" } else { "2" })
        .body(body)
        .expect("response builds")
}

fn uname() -> (String, String) {
    let u = nix::sys::utsname::uname().ok();
    let rel = u.as_ref().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let host = u.as_ref().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_default();
    (rel, host)
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn version(d: &Daemon) -> Resp {
    let (kernel, _) = uname();
    let built = d.started_at.to_rfc3339();
    response::json(
        200,
        &json!({
            "Platform": {"Name": "berth"},
            "Components": [
                {"Name": "Engine", "Version": crate::ENGINE_VERSION, "Details": {
                    "ApiVersion": crate::API_VERSION, "Arch": arch(), "BuildTime": built, "Experimental": "false",
                    "GitCommit": "", "GoVersion": "rust", "KernelVersion": kernel, "MinAPIVersion": crate::MIN_API_VERSION, "Os": "linux"}},
                {"Name": d.runtime.name, "Version": "", "Details": {"Path": d.runtime.program}},
            ],
            "Version": crate::ENGINE_VERSION,
            "ApiVersion": crate::API_VERSION,
            "MinAPIVersion": crate::MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "rust",
            "Os": "linux",
            "Arch": arch(),
            "KernelVersion": kernel,
            "BuildTime": built,
        }),
    )
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string())))
        .unwrap_or_else(|| "Linux".into())
}

/// `RegistryConfig.InsecureRegistryCIDRs` as dockerd reports it: the CIDR entries of
/// `insecure-registries`, then loopback (always insecure).
fn insecure_cidrs(insecure: &[String]) -> Vec<String> {
    let mut v: Vec<String> = insecure.iter().filter(|r| r.contains('/')).cloned().collect();
    if !v.iter().any(|c| c == "127.0.0.0/8") {
        v.push("127.0.0.0/8".into());
    }
    v
}

/// `RegistryConfig.IndexConfigs` as dockerd reports it: docker.io (secure, official, with the
/// mirrors) and one insecure entry per host of `insecure-registries`. The docker CLI's `info`
/// lists the insecure entries under "Insecure Registries".
fn index_configs(mirrors: &[String], insecure: &[String]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert(
        "docker.io".into(),
        json!({"Name": "docker.io", "Mirrors": mirrors, "Secure": true, "Official": true}),
    );
    for r in insecure.iter().filter(|r| !r.contains('/')) {
        m.insert(r.clone(), json!({"Name": r, "Mirrors": [], "Secure": false, "Official": false}));
    }
    serde_json::Value::Object(m)
}

pub fn info(d: &Daemon) -> Resp {
    let (kernel, host) = uname();
    let (mut running, mut paused, mut stopped, mut total) = (0, 0, 0, 0);
    for c in d.inner.lock().unwrap().containers.values() {
        total += 1;
        match c.record.state.status() {
            "running" | "restarting" => running += 1,
            "paused" => paused += 1,
            _ => stopped += 1,
        }
    }
    let cgroup_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let c = &d.config;
    response::json(
        200,
        &json!({
            "ID": "", "Containers": total, "ContainersRunning": running, "ContainersPaused": paused, "ContainersStopped": stopped,
            "Images": d.images.store().and_then(|s| s.list_images(&Default::default()).ok()).map(|v| v.len()).unwrap_or(0),
            "Driver": d.images.driver_name(),
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Native Overlay Diff", "true"], ["userxattr", "false"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": null, "Log": ["json-file"]},
            "MemoryLimit": true, "SwapLimit": true, "KernelMemory": false, "KernelMemoryTCP": false,
            "CpuCfsPeriod": true, "CpuCfsQuota": true, "CPUShares": true, "CPUSet": true, "PidsLimit": true,
            "IPv4Forwarding": true, "BridgeNfIptables": false, "BridgeNfIp6tables": false, "Debug": c.log_level == "debug",
            "NFd": std::fs::read_dir("/proc/self/fd").map(|r| r.count()).unwrap_or(0), "OomKillDisable": true,
            "NGoroutines": 0, "SystemTime": crate::util::time::now(), "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs", "CgroupVersion": if cgroup_v2 { "2" } else { "1" }, "NEventsListener": 0,
            "KernelVersion": kernel, "OperatingSystem": os_name(), "OSVersion": "", "OSType": "linux",
            "Architecture": std::env::consts::ARCH, "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
                "InsecureRegistryCIDRs": insecure_cidrs(&c.insecure_registries), "IndexConfigs": index_configs(&c.registry_mirrors, &c.insecure_registries), "Mirrors": c.registry_mirrors,
            },
            "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "MemTotal": mem_total(),
            "GenericResources": null, "DockerRootDir": c.data_root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": host, "Labels": [], "ExperimentalBuild": false, "ServerVersion": crate::ENGINE_VERSION,
            "Runtimes": {"runc": {"path": "runc"}, "berth": {"path": d.berth_binary}}, "DefaultRuntime": d.runtime.name,
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
            "LiveRestoreEnabled": c.live_restore, "Isolation": "", "InitBinary": "",
            "ContainerdCommit": {"ID": "", "Expected": ""}, "RuncCommit": {"ID": "", "Expected": ""}, "InitCommit": {"ID": "", "Expected": ""},
            "SecurityOptions": [], "Warnings": [],
            "InsecureRegistries": c.insecure_registries,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_config_as_dockerd_reports_it() {
        let insecure = vec!["10.1.1.18".to_string(), "10.2.0.0/16".to_string()];
        assert_eq!(insecure_cidrs(&insecure), ["10.2.0.0/16", "127.0.0.0/8"]);
        assert_eq!(insecure_cidrs(&[]), ["127.0.0.0/8"]);
        let ic = index_configs(&["http://10.1.1.10:5000".to_string()], &insecure);
        assert_eq!(ic["docker.io"]["Secure"], true);
        assert_eq!(ic["docker.io"]["Mirrors"][0], "http://10.1.1.10:5000");
        assert_eq!(ic["10.1.1.18"], json!({"Name": "10.1.1.18", "Mirrors": [], "Secure": false, "Official": false}));
        assert!(ic.get("10.2.0.0/16").is_none());
    }
}
