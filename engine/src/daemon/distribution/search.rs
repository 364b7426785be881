//! `docker search`: the Distribution API v2 has no search, so berth lists the registry's
//! `_catalog` and filters it. `docker.io` is searched through the first answering mirror (the
//! lab hub) before Docker Hub itself.

use berth_registry::mirror::{parse_mirror, push_endpoint};
use berth_registry::Credentials;
use serde::Serialize;

use super::{registry_client, DistributionError};
use crate::daemon::config::DaemonConfig;

/// One result, in the Engine API's JSON shape (`GET /images/search`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchResult {
    pub star_count: u64,
    pub is_official: bool,
    pub name: String,
    pub is_automated: bool,
    pub description: String,
}

/// `reg:5000/web` → (`reg:5000`, `web`); `busy` → (`docker.io`, `busy`), as Docker splits
/// a search term.
pub fn split_term(term: &str) -> (String, String) {
    match term.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => (host.to_string(), rest.to_string()),
        _ => ("docker.io".into(), term.to_string()),
    }
}

/// Catalog entries matching `query` (substring, case-insensitive), named as Docker shows them.
pub fn filter_catalog(registry: &str, repos: &[String], query: &str, limit: usize) -> Vec<SearchResult> {
    let q = query.to_lowercase();
    let hub = registry == "docker.io";
    repos
        .iter()
        .filter(|r| r.to_lowercase().contains(&q))
        .take(limit)
        .map(|r| {
            let official = hub && r.starts_with("library/") && !r["library/".len()..].contains('/');
            let name = if official { r["library/".len()..].to_string() } else if hub { r.clone() } else { format!("{registry}/{r}") };
            SearchResult { star_count: 0, is_official: official, name, is_automated: false, description: String::new() }
        })
        .collect()
}

pub async fn search(cfg: &DaemonConfig, term: &str, limit: usize, credentials: Credentials) -> Result<Vec<SearchResult>, DistributionError> {
    if !(1..=100).contains(&limit) {
        return Err(DistributionError::Invalid(format!("limit {limit} is outside the range of [1, 100]")));
    }
    let (registry, query) = split_term(term);
    let client = registry_client(cfg)?;
    let mut endpoints = Vec::new();
    if registry == "docker.io" {
        for m in &cfg.registry_mirrors {
            endpoints.push(parse_mirror(m).map_err(|e| DistributionError::Invalid(e.to_string()))?);
        }
    }
    endpoints.push(push_endpoint(&registry));
    let mut last = None;
    for ep in &endpoints {
        let attempt = async {
            let session = client.session(ep, credentials.clone()).await?;
            session.catalog(Some(100)).await
        };
        match attempt.await {
            Ok(repos) => return Ok(filter_catalog(&registry, &repos, &query, limit)),
            Err(e) if ep.mirror => {
                tracing::warn!(mirror = %ep.host, error = %e, "mirror failed, trying the next endpoint");
                last = Some(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.map(Into::into).unwrap_or_else(|| DistributionError::Internal("no registry endpoint".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_and_filtering() {
        assert_eq!(split_term("127.0.0.1:5000/web"), ("127.0.0.1:5000".into(), "web".into()));
        assert_eq!(split_term("busy"), ("docker.io".into(), "busy".into()));
        assert_eq!(split_term("user/app"), ("docker.io".into(), "user/app".into()));
        let repos = vec!["library/busybox".to_string(), "library/alpine".into(), "teach/busy-web".into()];
        let r = filter_catalog("docker.io", &repos, "BUSY", 25);
        assert_eq!(r.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(), ["busybox", "teach/busy-web"]);
        assert!(r[0].is_official && !r[1].is_official);
        let r = filter_catalog("reg:5000", &repos, "alp", 25);
        assert_eq!(r[0].name, "reg:5000/library/alpine");
        assert_eq!(filter_catalog("docker.io", &repos, "", 2).len(), 2);
        let j = serde_json::to_string(&r[0]).unwrap();
        assert_eq!(j, r#"{"star_count":0,"is_official":false,"name":"reg:5000/library/alpine","is_automated":false,"description":""}"#);
    }
}
