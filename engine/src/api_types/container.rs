//! `GET /containers/{id}/json`: moby's `types.ContainerJSON` (the embedded `ContainerJSONBase`,
//! then `Mounts`, `Config`, `NetworkSettings`), with `ContainerState`, `GraphDriverData`,
//! `MountPoint`, `NetworkSettings` and `network.EndpointSettings` in Docker 20.10's field order.
//! `Config` and `HostConfig` are the request types of [`crate::container::config`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::config::{Config, HostConfig};

/// `types.ContainerJSON`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerJson {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriverData,
    /// Only with `?size=1` (`json:",omitempty"` pointers in moby).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    pub mounts: Vec<MountPoint>,
    pub config: Config,
    pub network_settings: NetworkSettings,
}

/// `types.ContainerState`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// `types.Health` (also `State.Health` of `config.v2.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    pub status: String,
    pub failing_streak: i64,
    pub log: Option<Vec<HealthcheckResult>>,
}

/// `types.HealthcheckResult`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthcheckResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// `types.GraphDriverData`: `Data` is null when the driver reports none (vfs).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct GraphDriverData {
    pub data: Option<BTreeMap<String, String>>,
    pub name: String,
}

/// `types.MountPoint` (`Type`, `Name`, `Driver` are `omitempty`: a bind has no Name/Driver).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub source: String,
    pub destination: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

/// `nat.PortMap`: `"80/tcp"` → its bindings, null when exposed but not published.
pub type PortMap = BTreeMap<String, Option<Vec<PortBinding>>>;

/// `nat.PortBinding`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// `network.Address`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Address {
    pub addr: String,
    pub prefix_len: i64,
}

/// `types.NetworkSettings`: the embedded `NetworkSettingsBase` (Bridge … SecondaryIPv6Addresses)
/// and `DefaultNetworkSettings` (EndpointID … MacAddress, the default bridge's endpoint), then
/// `Networks`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: i64,
    pub ports: PortMap,
    pub sandbox_key: String,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    pub mac_address: String,
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// `network.EndpointSettings` (one entry of `NetworkSettings.Networks`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    pub mac_address: String,
    pub driver_opts: Option<BTreeMap<String, String>>,
}

/// `network.EndpointIPAMConfig` (`--ip`; every field `omitempty`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointIpamConfig {
    #[serde(rename = "IPv4Address", skip_serializing_if = "String::is_empty")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address", skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "Option::is_none")]
    pub link_local_ips: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys of the first object in `s`, in the order they were written.
    fn keys(s: &str) -> Vec<String> {
        let mut out = vec![];
        let mut depth = 0;
        let mut chars = s.chars().peekable();
        let mut expect_key = false;
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    depth += 1;
                    expect_key = depth == 1;
                }
                '}' | ']' => depth -= 1,
                '[' => depth += 1,
                ',' if depth == 1 => expect_key = true,
                '"' => {
                    let mut k = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => k.extend(chars.next()),
                            '"' => break,
                            c => k.push(c),
                        }
                    }
                    if expect_key {
                        out.push(k);
                        expect_key = false;
                    }
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn go_struct_order() {
        let c = ContainerJson::default();
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(
            keys(&s),
            [
                "Id",
                "Created",
                "Path",
                "Args",
                "State",
                "Image",
                "ResolvConfPath",
                "HostnamePath",
                "HostsPath",
                "LogPath",
                "Name",
                "RestartCount",
                "Driver",
                "Platform",
                "MountLabel",
                "ProcessLabel",
                "AppArmorProfile",
                "ExecIDs",
                "HostConfig",
                "GraphDriver",
                "Mounts",
                "Config",
                "NetworkSettings",
            ]
        );
        let st = serde_json::to_string(&c.state).unwrap();
        assert_eq!(
            keys(&st),
            ["Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode", "Error", "StartedAt", "FinishedAt"]
        );
        let ns = serde_json::to_string(&c.network_settings).unwrap();
        assert_eq!(
            keys(&ns),
            [
                "Bridge",
                "SandboxID",
                "HairpinMode",
                "LinkLocalIPv6Address",
                "LinkLocalIPv6PrefixLen",
                "Ports",
                "SandboxKey",
                "SecondaryIPAddresses",
                "SecondaryIPv6Addresses",
                "EndpointID",
                "Gateway",
                "GlobalIPv6Address",
                "GlobalIPv6PrefixLen",
                "IPAddress",
                "IPPrefixLen",
                "IPv6Gateway",
                "MacAddress",
                "Networks",
            ]
        );
        let ep = serde_json::to_string(&EndpointSettings::default()).unwrap();
        assert_eq!(
            keys(&ep),
            [
                "IPAMConfig",
                "Links",
                "Aliases",
                "NetworkID",
                "EndpointID",
                "Gateway",
                "IPAddress",
                "IPPrefixLen",
                "IPv6Gateway",
                "GlobalIPv6Address",
                "GlobalIPv6PrefixLen",
                "MacAddress",
                "DriverOpts",
            ]
        );
        let size = ContainerJson { size_rw: Some(1), size_root_fs: Some(2), ..Default::default() };
        let k = keys(&serde_json::to_string(&size).unwrap());
        assert_eq!(k[19..23], ["GraphDriver", "SizeRw", "SizeRootFs", "Mounts"]);
    }

    #[test]
    fn omitempty_fields() {
        let bind = MountPoint { kind: "bind".into(), source: "/a".into(), destination: "/b".into(), rw: true, ..Default::default() };
        assert_eq!(
            serde_json::to_string(&bind).unwrap(),
            r#"{"Type":"bind","Source":"/a","Destination":"/b","Mode":"","RW":true,"Propagation":""}"#
        );
        let ipam = EndpointIpamConfig { ipv4_address: "10.0.0.5".into(), ..Default::default() };
        assert_eq!(serde_json::to_string(&ipam).unwrap(), r#"{"IPv4Address":"10.0.0.5"}"#);
        let h = ContainerState { health: Some(Health { status: "healthy".into(), ..Default::default() }), ..Default::default() };
        assert!(serde_json::to_string(&h).unwrap().ends_with(r#""Health":{"Status":"healthy","FailingStreak":0,"Log":null}}"#));
    }
}
