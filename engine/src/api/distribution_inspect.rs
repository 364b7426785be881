//! `GET /distribution/{name}/json` (docker-py `inspect_distribution`): see
//! `daemon::distribution::inspect`. The name may hold `/`, `:` and `@` (percent-encoded or not).

use std::sync::Arc;

use super::distribution::header_credentials;
use super::response::{self, Resp};
use crate::daemon::distribution::inspect;
use crate::daemon::Daemon;

pub async fn inspect(d: &Arc<Daemon>, name: &str, headers: &http::HeaderMap) -> Resp {
    match inspect::inspect(&d.config, name, header_credentials(headers)).await {
        Ok(v) => response::json(200, &v),
        Err(e) => response::message(inspect::status(&e), &e.to_string()),
    }
}
