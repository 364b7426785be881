//! `sha256:<hex>` digests: diffIDs, chainIDs, image IDs.

use crate::error::{Result, StorageError};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read, Write};

/// A `sha256:<64 hex>` digest. Used for image IDs, diffIDs and chainIDs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Digest(String);

pub type ImageId = Digest;
pub type DiffId = Digest;
pub type ChainId = Digest;

/// diffID of an empty layer tar (1024 zero bytes).
pub const EMPTY_LAYER_DIFF_ID: &str =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

impl Digest {
    /// Parse `sha256:<64 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Digest> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| StorageError::InvalidReference(format!("invalid digest {s:?}: unsupported digest algorithm")))?;
        if !is_hex64(hex) {
            return Err(StorageError::InvalidReference(format!("invalid digest {s:?}: invalid checksum digest length")));
        }
        Ok(Digest(s.to_string()))
    }
    pub fn from_hex(hex: &str) -> Result<Digest> {
        Digest::parse(&format!("sha256:{hex}"))
    }
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }
    pub fn from_hasher(h: Sha256) -> Digest {
        Digest(format!("sha256:{}", hex::encode(h.finalize())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }
    /// The 12-character short form used by `docker images`.
    pub fn short(&self) -> &str {
        &self.0[7..19]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// chainID of a layer stack: `chain[0] = diff[0]`, `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub fn chain_id(parent: Option<&ChainId>, diff: &DiffId) -> ChainId {
    match parent {
        None => diff.clone(),
        Some(p) => Digest::of(format!("{p} {diff}").as_bytes()),
    }
}

/// All chainIDs of a diffID list (one per layer).
pub fn chain_ids(diffs: &[DiffId]) -> Vec<ChainId> {
    let mut out: Vec<ChainId> = Vec::with_capacity(diffs.len());
    for d in diffs {
        let c = chain_id(out.last(), d);
        out.push(c);
    }
    out
}

/// A reader that hashes (sha256) and counts everything read through it.
pub struct HashingReader<R> {
    pub inner: R,
    pub hasher: Sha256,
    pub count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), count: 0 }
    }
    pub fn digest(self) -> Digest {
        Digest::from_hasher(self.hasher)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes (sha256) and counts everything written through it.
pub struct HashingWriter<W> {
    pub inner: W,
    pub hasher: Sha256,
    pub count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), count: 0 }
    }
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hasher), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tar_digest() {
        assert_eq!(Digest::of(&[0u8; 1024]).as_str(), EMPTY_LAYER_DIFF_ID);
    }

    #[test]
    fn chain_matches_docker_worked_example() {
        // bb:l3 from the reference notes, §2.3.
        let d0 = Digest::parse("sha256:409df6d78cff1ac6e6fb5c19cb9aa9d898aed5b96c95b21397a4b28bce75f419").unwrap();
        let c0 = chain_id(None, &d0);
        assert_eq!(c0, d0);
        // chain[n] = sha256("<chain[n-1]> <diff[n]>") as text (value from `printf … | sha256sum`).
        let x = Digest("sha256:x".to_string());
        let y = Digest("sha256:y".to_string());
        assert_eq!(chain_id(Some(&x), &y).hex(), "0797664c1116efb7a4e9b498d1f60090518ecab71ef4a71221b39f40990ad601");
        assert_eq!(chain_ids(std::slice::from_ref(&d0)), vec![d0]);
    }

    #[test]
    fn parse_rejects_bad() {
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse("md5:00").is_err());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_err());
    }
}
