//! A tar-split record per layer (Docker's `tar-split.json.gz`), so that a layer tar can be rebuilt
//! byte for byte from the files in its `diff/` directory and re-verify against its diffID.
//!
//! Why tar-split and not a stored copy of the tar: the layer's bytes already live in `diff/`; the
//! record only keeps headers and padding (a few hundred bytes per entry), exactly as Docker does.
//! Format: gzip of JSON lines, `{"type":2,"payload":<base64 raw bytes>,"position":N}` for raw
//! segments (headers, padding, end blocks) and `{"type":1,"name":…,"size":…,"payload":<base64
//! CRC-64/ISO, 8 bytes big-endian>,"position":N}` for file contents.

use crate::error::{IoContext, Result, StorageError};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Serialize, Deserialize, Debug)]
struct Line {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    size: Option<u64>,
    #[serde(default)]
    payload: Option<String>,
    position: u64,
}

/// Records a tar stream while it is read.
#[derive(Default)]
pub struct Recorder {
    out: Vec<u8>,
    raw: Vec<u8>,
    position: u64,
    /// Total tar size (raw + contents).
    pub total: u64,
}

impl Recorder {
    pub fn raw(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
        self.total += bytes.len() as u64;
    }

    fn flush_raw(&mut self) {
        let line = Line { kind: 2, name: None, size: None, payload: Some(B64.encode(&self.raw)), position: self.position };
        self.raw.clear();
        self.push(&line);
    }

    fn push(&mut self, line: &Line) {
        serde_json::to_writer(&mut self.out, line).expect("serialise tar-split line");
        self.out.push(b'\n');
        self.position += 1;
    }

    /// A file entry: flushes the pending raw segment (its header) first.
    pub fn file(&mut self, name: &str, size: u64, crc: Option<u64>) {
        self.flush_raw();
        let line = Line {
            kind: 1,
            name: Some(name.to_string()),
            size: Some(size),
            payload: crc.map(|c| B64.encode(c.to_be_bytes())),
            position: self.position,
        };
        self.total += size;
        self.push(&line);
    }

    /// Finish and return the gzip'ed JSON lines.
    pub fn finish(mut self) -> Vec<u8> {
        self.flush_raw();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&self.out).expect("gzip to memory");
        gz.finish().expect("gzip to memory")
    }
}

/// Rebuild the layer tar from `tar-split.json.gz` and the layer's `diff/` directory.
pub fn reassemble(tar_split_gz: &Path, diff_dir: &Path, out: &mut dyn Write) -> Result<u64> {
    let f = std::fs::File::open(tar_split_gz).at(tar_split_gz)?;
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    let mut written = 0u64;
    for line in r.lines() {
        let line = line.at(tar_split_gz)?;
        if line.is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&line)
            .map_err(|e| StorageError::Corrupt(format!("{}: {e}", tar_split_gz.display())))?;
        match l.kind {
            2 => {
                let raw = B64
                    .decode(l.payload.unwrap_or_default())
                    .map_err(|e| StorageError::Corrupt(format!("{}: {e}", tar_split_gz.display())))?;
                out.write_all(&raw).at(tar_split_gz)?;
                written += raw.len() as u64;
            }
            1 => {
                let size = l.size.unwrap_or(0);
                if size == 0 {
                    continue;
                }
                let name = l.name.unwrap_or_default();
                let rel = crate::archive::tar_safe::clean_relative(&name)?;
                let p = diff_dir.join(&rel);
                let mut f = std::fs::File::open(&p).at(&p)?;
                let n = std::io::copy(&mut (&mut f).take(size), out).at(&p)?;
                if n != size {
                    return Err(StorageError::Corrupt(format!("{}: layer file is shorter than recorded ({n} < {size})", p.display())));
                }
                written += n;
            }
            k => return Err(StorageError::Corrupt(format!("{}: unknown tar-split entry type {k}", tar_split_gz.display()))),
        }
    }
    Ok(written)
}

/// Total size of the tar a tar-split record rebuilds.
pub fn tar_size(tar_split_gz: &Path) -> Result<u64> {
    let f = std::fs::File::open(tar_split_gz).at(tar_split_gz)?;
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    let mut total = 0u64;
    for line in r.lines() {
        let line = line.at(tar_split_gz)?;
        if line.is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&line)
            .map_err(|e| StorageError::Corrupt(format!("{}: {e}", tar_split_gz.display())))?;
        total += match l.kind {
            2 => B64.decode(l.payload.unwrap_or_default()).map(|v| v.len() as u64).unwrap_or(0),
            _ => l.size.unwrap_or(0),
        };
    }
    Ok(total)
}

/// Go's `hash/crc64` with the ISO table.
#[derive(Default)]
pub struct Crc64Iso {
    crc: u64,
}

#[allow(clippy::needless_range_loop)]
/// Slicing-by-8 tables for the ISO polynomial (Go's `crc64` does the same for long inputs).
fn iso_tables() -> &'static [[u64; 256]; 8] {
    static T: std::sync::OnceLock<[[u64; 256]; 8]> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        const POLY: u64 = 0xD800_0000_0000_0000;
        let mut t = [[0u64; 256]; 8];
        for i in 0..256 {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            t[0][i] = c;
        }
        for i in 0..256 {
            let mut c = t[0][i];
            for j in 1..8 {
                c = t[0][(c & 0xff) as usize] ^ (c >> 8);
                t[j][i] = c;
            }
        }
        t
    })
}

impl Crc64Iso {
    pub fn update(&mut self, data: &[u8]) {
        let t = iso_tables();
        let mut c = !self.crc;
        let mut chunks = data.chunks_exact(8);
        for ch in &mut chunks {
            c ^= u64::from_le_bytes(ch.try_into().unwrap());
            c = t[7][(c & 0xff) as usize]
                ^ t[6][((c >> 8) & 0xff) as usize]
                ^ t[5][((c >> 16) & 0xff) as usize]
                ^ t[4][((c >> 24) & 0xff) as usize]
                ^ t[3][((c >> 32) & 0xff) as usize]
                ^ t[2][((c >> 40) & 0xff) as usize]
                ^ t[1][((c >> 48) & 0xff) as usize]
                ^ t[0][(c >> 56) as usize];
        }
        for &b in chunks.remainder() {
            c = t[0][((c as u8) ^ b) as usize] ^ (c >> 8);
        }
        self.crc = !c;
    }
    pub fn value(&self) -> u64 {
        self.crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_iso_matches_go() {
        // Observed in a real tar-split.json.gz: crc64("1\n") = 6133200000000000.
        let mut c = Crc64Iso::default();
        c.update(b"1\n");
        assert_eq!(hex::encode(c.value().to_be_bytes()), "6133200000000000");
    }

    #[test]
    fn crc64_slicing_matches_bytewise_and_chunking() {
        // CRC-64/GO-ISO check value ("123456789" → b90956c775a41001).
        let mut c = Crc64Iso::default();
        c.update(b"123456789");
        assert_eq!(c.value(), 0xb90956c775a41001);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut whole = Crc64Iso::default();
        whole.update(&data);
        let mut parts = Crc64Iso::default();
        for ch in data.chunks(13) {
            parts.update(ch);
        }
        assert_eq!(whole.value(), parts.value());
    }
}
