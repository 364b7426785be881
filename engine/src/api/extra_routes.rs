//! Routes past `router.rs`'s table, each in its own module: the swarm refusals (`swarm.rs`),
//! `GET /system/df` (`system_df.rs`), `GET /distribution/{name}/json` (`distribution_inspect.rs`),
//! `POST /containers/{id}/update` (`container_update.rs`), `POST /build` and `/build/prune`
//! (`build.rs`).
//! `router::dispatch` hands over every request it does not route itself; what is not matched
//! here is `404 page not found`.

use std::sync::Arc;

use http::Method;
use hyper::body::Incoming;
use hyper::Request;

use super::query::Query;
use super::response::{self, Resp};
use crate::daemon::Daemon;

/// `segs`: the path after the version prefix, split on `/` and percent-decoded.
pub async fn dispatch(d: &Arc<Daemon>, m: &Method, segs: &[&str], q: &Query, req: Request<Incoming>) -> Resp {
    let _ = q;
    if let Some(r) = super::swarm::route(m, segs) {
        // Read (and drop) what the client sends before answering: closing with its body unread
        // makes the kernel reset the connection, and a client still writing it (the docker CLI's
        // `swarm init`/`join` JSON) sees "broken pipe" instead of the 503.
        let _ = super::router::body_bytes(req).await;
        return r;
    }
    match (m, segs) {
        (&Method::GET, ["system", "df"]) => super::system_df::df(d).await,
        // Image names hold `/`: every segment between `distribution` and `json`.
        (&Method::GET, ["distribution", name @ .., "json"]) if !name.is_empty() => {
            super::distribution_inspect::inspect(d, &name.join("/"), req.headers()).await
        }
        (&Method::POST, ["containers", id, "update"]) => super::container_update::update(d, id, req).await,
        (&Method::POST, ["build"]) => super::build::build(d, req).await,
        (&Method::POST, ["build", "prune"]) => super::build::prune(req).await,
        _ => {
            let _ = super::router::body_bytes(req).await;
            response::message(404, "page not found")
        }
    }
}
