//! Small filesystem helpers: atomic writes, metadata files without trailing newlines.

use crate::error::{IoContext, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Write `data` to `path` atomically (temp file in the same dir + fsync + rename).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().expect("path has a parent");
    let tmp = dir.join(format!(".tmp-{}-{}", path.file_name().unwrap().to_string_lossy(), crate::ids::random_id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.write_all(data)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.at(path)
}

/// Write a small file in a directory that is not yet visible (no rename needed).
pub fn write_plain(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path).at(path)?;
    f.write_all(data).at(path)?;
    f.set_permissions(fs::Permissions::from_mode(mode)).at(path)
}

pub fn read_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).at(path)
}

pub fn mkdir_mode(path: &Path, mode: u32) -> Result<()> {
    fs::create_dir(path).at(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).at(path)
}

pub fn mkdir_all_mode(path: &Path, mode: u32) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(p) = path.parent() {
        mkdir_all_mode(p, mode)?;
    }
    match fs::create_dir(path) {
        Ok(()) => fs::set_permissions(path, fs::Permissions::from_mode(mode)).at(path),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).at(path),
    }
}

/// Remove a file or a whole tree; missing is fine.
pub fn remove_all(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).at(path),
        Ok(m) if m.is_dir() => match fs::remove_dir_all(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r.at(path),
        },
        Ok(_) => match fs::remove_file(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r.at(path),
        },
    }
}

/// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction trimmed.
pub fn rfc3339_nano(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let ns = t.nanosecond() % 1_000_000_000;
    if ns == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{ns:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

pub fn now_rfc3339_nano() -> String {
    rfc3339_nano(chrono::Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rfc3339nano_trims() {
        let t = chrono::Utc.timestamp_opt(0, 950_780_000).unwrap();
        assert_eq!(rfc3339_nano(t), "1970-01-01T00:00:00.95078Z");
        assert_eq!(rfc3339_nano(chrono::Utc.timestamp_opt(0, 0).unwrap()), "1970-01-01T00:00:00Z");
    }
}
