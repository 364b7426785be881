//! `berth version`, `berth info`.

use serde_json::Value;

use super::CliResult;
use crate::client::Client;

pub fn version(c: &Client) -> CliResult {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    println!("Client:");
    println!(" Version:           {}", crate::ENGINE_VERSION);
    println!(" API version:       {}", crate::API_VERSION);
    println!(" OS/Arch:           linux/{arch}");
    println!();
    let v: Value = c.get_json("/version")?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    println!("Server:");
    println!(" Engine:");
    println!("  Version:          {}", s("Version"));
    println!("  API version:      {} (minimum version {})", s("ApiVersion"), s("MinAPIVersion"));
    println!("  Built:            {}", s("BuildTime"));
    println!("  OS/Arch:          {}/{}", s("Os"), s("Arch"));
    println!("  Experimental:     false");
    for comp in v.get("Components").and_then(|c| c.as_array()).into_iter().flatten().skip(1) {
        println!(" {}:", comp["Name"].as_str().unwrap_or(""));
        println!("  Version:          {}", comp["Version"].as_str().unwrap_or(""));
    }
    Ok(())
}

pub fn info(c: &Client) -> CliResult {
    let v: Value = c.get_json("/info")?;
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        o => o.to_string(),
    };
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    for kv in v["DriverStatus"].as_array().into_iter().flatten() {
        println!("  {}: {}", kv[0].as_str().unwrap_or(""), kv[1].as_str().unwrap_or(""));
    }
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    println!(" Default Runtime: {}", s("DefaultRuntime"));
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(" Total Memory: {}", human_size_binary(v["MemTotal"].as_f64().unwrap_or(0.0)));
    println!(" Name: {}", s("Name"));
    println!(" Docker Root Dir: {}", s("DockerRootDir"));
    println!(" Debug Mode: {}", s("Debug"));
    println!(" Experimental: false");
    println!(" Insecure Registries:");
    // As the docker CLI: the insecure index configs by name, then the insecure CIDRs.
    let insecure_names = v["RegistryConfig"]["IndexConfigs"].as_object().into_iter().flat_map(|m| m.values()).filter(|c| c["Secure"] == false).filter_map(|c| c["Name"].as_str());
    for r in insecure_names.chain(v["RegistryConfig"]["InsecureRegistryCIDRs"].as_array().into_iter().flatten().filter_map(|c| c.as_str())) {
        println!("  {r}");
    }
    if let Some(m) = v["RegistryConfig"]["Mirrors"].as_array().filter(|m| !m.is_empty()) {
        println!(" Registry Mirrors:");
        for r in m {
            println!("  {}", r.as_str().unwrap_or(""));
        }
    }
    println!(" Live Restore Enabled: {}", s("LiveRestoreEnabled"));
    Ok(())
}

/// go-units `BytesSize` (binary units, 4 significant digits): `23.45GiB`.
pub fn human_size_binary(n: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", trim_float(v, 4), units[i])
}

/// go-units `HumanSizeWithPrecision(n, 3)` as CLI 28 prints image sizes: `1.98MB`.
pub fn human_size(n: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", trim_float(v, 3), units[i])
}

/// Go's `%.<sig>g` for the magnitudes sizes have.
fn trim_float(v: f64, sig: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = sig - (v.abs().log10().floor() as i32 + 1);
    let s = format!("{:.*}", digits.max(0) as usize, v);
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(1_980_000.0), "1.98MB");
        assert_eq!(human_size(1_987_000.0), "1.99MB");
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(6.0), "6B");
        assert_eq!(human_size_binary(24.0 * 1024.0 * 1024.0 * 1024.0), "24GiB");
    }
}
