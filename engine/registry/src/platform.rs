//! Platforms (`os/architecture[/variant]`) and the choice of a manifest from a list or index.

use crate::error::RegistryError;
use crate::manifest::{Descriptor, ImageIndex};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl Default for Platform {
    /// linux/amd64: berth's lab machines.
    fn default() -> Self {
        Platform::new("linux", "amd64", None)
    }
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: variant.map(String::from),
            os_version: None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Picks the manifest for `want` from a list. Entries for other OSes/architectures (and
/// buildkit's `unknown/unknown` attestations) are skipped. A wanted variant matches exactly;
/// on arm, older variants run on newer CPUs (v7 runs v6, v5), as in containerd's matcher.
/// arm64 without a variant means v8.
pub fn choose_platform<'a>(
    index: &'a ImageIndex,
    want: &Platform,
) -> Result<&'a Descriptor, RegistryError> {
    let norm_arch = |a: &str| match a {
        "x86_64" | "x86-64" => "amd64".to_string(),
        "aarch64" => "arm64".to_string(),
        other => other.to_string(),
    };
    let norm_variant = |arch: &str, v: Option<&str>| -> Option<String> {
        match (arch, v) {
            ("arm64", None) => Some("v8".into()),
            (_, v) => v.map(String::from),
        }
    };
    let want_arch = norm_arch(&want.architecture);
    let want_var = norm_variant(&want_arch, want.variant.as_deref());
    let candidates: Vec<(&Descriptor, Option<String>)> = index
        .manifests
        .iter()
        .filter_map(|d| {
            let p = d.platform.as_ref()?;
            let arch = norm_arch(&p.architecture);
            (p.os == want.os && arch == want_arch)
                .then(|| (d, norm_variant(&arch, p.variant.as_deref())))
        })
        .collect();
    let pick = match &want_var {
        None => candidates
            .iter()
            .find(|(_, v)| v.is_none())
            .or(candidates.first()),
        Some(wv) => candidates
            .iter()
            .find(|(_, v)| v.as_deref() == Some(wv.as_str()))
            .or_else(|| {
                // Only arm has a compatibility ladder.
                let lvl = |v: &str| v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok());
                let wl = lvl(wv)?;
                if want_arch != "arm" {
                    return None;
                }
                candidates
                    .iter()
                    .filter(|(_, v)| v.as_deref().and_then(lvl).is_some_and(|l| l <= wl))
                    .max_by_key(|(_, v)| v.as_deref().and_then(lvl))
            }),
    };
    match pick {
        Some((d, _)) => Ok(d),
        None => Err(RegistryError::NoMatchingPlatform {
            wanted: Platform {
                variant: want_var,
                ..want.clone()
            }
            .to_string(),
            available: index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::media_types as mt;

    fn desc(os: &str, arch: &str, variant: Option<&str>, n: u8) -> Descriptor {
        Descriptor {
            media_type: mt::OCI_MANIFEST.into(),
            digest: Digest::of(&[n]),
            size: 1,
            urls: vec![],
            platform: Some(Platform::new(os, arch, variant)),
            annotations: None,
        }
    }

    fn index(ds: Vec<Descriptor>) -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(mt::OCI_INDEX.into()),
            manifests: ds,
        }
    }

    #[test]
    fn platform_choice() {
        let idx = index(vec![
            desc("unknown", "unknown", None, 0),
            desc("linux", "arm", Some("v6"), 1),
            desc("linux", "arm64", Some("v8"), 2),
            desc("linux", "amd64", None, 3),
            desc("linux", "arm", Some("v7"), 4),
        ]);
        assert_eq!(
            choose_platform(&idx, &Platform::default()).unwrap().digest,
            Digest::of(&[3])
        );
        assert_eq!(
            choose_platform(&idx, &Platform::new("linux", "aarch64", None))
                .unwrap()
                .digest,
            Digest::of(&[2])
        );
        assert_eq!(
            choose_platform(&idx, &Platform::new("linux", "arm", Some("v7")))
                .unwrap()
                .digest,
            Digest::of(&[4])
        );
        assert_eq!(
            choose_platform(&idx, &Platform::new("linux", "arm", Some("v8")))
                .unwrap()
                .digest,
            Digest::of(&[4])
        );
        let only_v6 = index(vec![desc("linux", "arm", Some("v6"), 1)]);
        assert_eq!(
            choose_platform(&only_v6, &Platform::new("linux", "arm", Some("v7")))
                .unwrap()
                .digest,
            Digest::of(&[1])
        );
        assert!(choose_platform(&only_v6, &Platform::new("linux", "arm", Some("v5"))).is_err());
    }

    #[test]
    fn other_platform_only_is_docker_error() {
        let idx = index(vec![
            desc("linux", "arm64", Some("v8"), 2),
            desc("windows", "amd64", None, 3),
        ]);
        let e = choose_platform(&idx, &Platform::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no matching manifest for linux/amd64 in the manifest list entries (available: linux/arm64/v8, windows/amd64)"
        );
    }
}
