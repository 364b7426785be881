//! `_catalog` and `tags/list`, following `Link: <…>; rel="next"` (relative or absolute).
//! Registry 2.8.2 paginates `_catalog` but ignores `n`/`last` on tags and returns them unsorted,
//! so tags are sorted here.

use crate::error::RegistryError;
use crate::session::{Repository, Req, Session};
use reqwest::{Method, Url};
use serde::Deserialize;
use std::sync::Arc;

/// Upper bound on pages, so a registry whose `Link` loops cannot keep us forever.
const MAX_PAGES: usize = 10_000;

/// The `next` target of a `Link` header, if any.
pub fn next_link(header: &str) -> Option<String> {
    for part in header.split(',') {
        let part = part.trim();
        let (target, params) = part.split_once(';').unwrap_or((part, ""));
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        if is_next {
            return Some(target.to_string());
        }
    }
    None
}

/// GETs `first` and every `next` page, collecting `field` arrays.
async fn paginate(
    session: &Session,
    first: Url,
    scopes: Vec<String>,
    field: &str,
) -> Result<Vec<String>, RegistryError> {
    let mut out = Vec::new();
    let mut url = first;
    for _ in 0..MAX_PAGES {
        let resp = session
            .send_ok(&Req::new(Method::GET, url.clone(), scopes.clone()))
            .await?;
        let link = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        let body = resp
            .bytes()
            .await
            .map_err(|e| crate::error::transport("GET", url.as_str(), e))?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Protocol(format!("{url} did not answer JSON: {e}")))?;
        #[derive(Deserialize)]
        struct Names(Option<Vec<String>>);
        let Names(names) =
            serde_json::from_value(v.get(field).cloned().unwrap_or(serde_json::Value::Null))
                .map_err(|e| RegistryError::Protocol(format!("{url}: field {field:?}: {e}")))?;
        out.extend(names.unwrap_or_default());
        match link {
            Some(next) => {
                url = url.join(&next).map_err(|e| {
                    RegistryError::Protocol(format!("bad Link target {next:?}: {e}"))
                })?
            }
            None => return Ok(out),
        }
    }
    Err(RegistryError::Protocol(format!(
        "more than {MAX_PAGES} pages of {field}"
    )))
}

impl Session {
    /// Every repository name (`GET /v2/_catalog?n=<page_size>`, then the `Link` pages).
    pub async fn catalog(
        self: &Arc<Self>,
        page_size: Option<usize>,
    ) -> Result<Vec<String>, RegistryError> {
        let mut url = self.url("v2/_catalog");
        if let Some(n) = page_size {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        paginate(self, url, vec!["registry:catalog:*".into()], "repositories").await
    }
}

impl Repository {
    /// All tags, sorted.
    pub async fn list_tags(&self, page_size: Option<usize>) -> Result<Vec<String>, RegistryError> {
        let mut url = self.url("tags/list");
        if let Some(n) = page_size {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        let mut tags = paginate(&self.session, url, vec![self.scope.clone()], "tags").await?;
        tags.sort();
        tags.dedup();
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=demo%2Fother&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=demo%2Fother&n=2")
        );
        assert_eq!(
            next_link(r#"<https://a/x?p=1>; rel="prev", <https://a/x?p=3>; rel="next""#).as_deref(),
            Some("https://a/x?p=3")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }
}
