//! Swarm endpoints. berthd has no swarm mode: it answers them as a Docker 20.10 daemon that is
//! not part of a swarm does (moby `daemon/cluster`), instead of `404 page not found`:
//!
//! * `POST /swarm/leave` → 503 `This node is not part of a swarm` (`errNoSwarm`);
//! * `GET /swarm`, `POST /swarm/update`, `GET /swarm/unlockkey`, `POST /swarm/unlock` and every
//!   `/nodes`, `/services`, `/tasks`, `/secrets`, `/configs` route → 503 with `errNoManager`'s
//!   text (`This node is not a swarm manager. Use "docker swarm init" …`);
//! * `POST /swarm/init` and `POST /swarm/join`, which would make a Docker node a swarm member,
//!   → 503 saying that berthd has no swarm mode (berth's own text: `docker swarm init` answered
//!   with "Use docker swarm init" would send the user in a circle).
//!
//! 503 is moby's status for its `notAvailableError`: docker-py raises `APIError`, and treats it
//! as success for `leave(force=True)`; the docker CLI prints `Error response from daemon: …`.

use http::Method;

use super::response::{self, Resp};

/// moby `errNoManager` for a node with no swarm.
pub const NOT_A_MANAGER: &str =
    "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
/// moby `errNoSwarm`.
pub const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";
/// berth's answer to `swarm init` / `swarm join`.
pub const NO_SWARM_MODE: &str = "berthd does not support swarm mode: this node cannot create or join a swarm";

/// The 503 answer of a swarm route (`segs`: the path after the version, split on `/`), or
/// `None` when the path is not one of 20.10's swarm routes (`404 page not found`).
pub fn route(m: &Method, segs: &[&str]) -> Option<Resp> {
    let msg = match (m, segs) {
        (&Method::POST, ["swarm", "leave"]) => NOT_IN_A_SWARM,
        (&Method::POST, ["swarm", "init" | "join"]) => NO_SWARM_MODE,
        (&Method::GET, ["swarm"] | ["swarm", "unlockkey"]) | (&Method::POST, ["swarm", "update" | "unlock"]) => NOT_A_MANAGER,
        (_, [kind, rest @ ..])
            if matches!(*kind, "nodes" | "services" | "tasks" | "secrets" | "configs") && object_route(kind, m, rest) =>
        {
            NOT_A_MANAGER
        }
        _ => return None,
    };
    Some(response::message(503, msg))
}

/// 20.10's routes under `/nodes`, `/services`, `/tasks`, `/secrets`, `/configs` (`rest`: after
/// the kind).
fn object_route(kind: &str, m: &Method, rest: &[&str]) -> bool {
    let creatable = matches!(kind, "services" | "secrets" | "configs");
    let updatable = kind != "tasks";
    let with_logs = matches!(kind, "services" | "tasks");
    match (m, rest) {
        (&Method::GET, [] | [_]) => true,
        (&Method::POST, ["create"]) => creatable,
        (&Method::DELETE, [_]) => kind != "tasks",
        (&Method::POST, [_, "update"]) => updatable,
        (&Method::GET, [_, "logs"]) => with_logs,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(m: Method, path: &str) -> Option<(u16, String)> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        route(&m, &segs).map(|r| (r.status().as_u16(), r.extensions().get::<response::ErrorMessage>().unwrap().0.clone()))
    }

    #[test]
    fn swarm_routes_answer_503() {
        assert_eq!(status(Method::GET, "/swarm"), Some((503, NOT_A_MANAGER.into())));
        assert_eq!(status(Method::POST, "/swarm/leave"), Some((503, NOT_IN_A_SWARM.into())));
        assert_eq!(status(Method::POST, "/swarm/init"), Some((503, NO_SWARM_MODE.into())));
        assert_eq!(status(Method::POST, "/swarm/join"), Some((503, NO_SWARM_MODE.into())));
        for (m, p) in [
            (Method::POST, "/swarm/update"),
            (Method::GET, "/swarm/unlockkey"),
            (Method::POST, "/swarm/unlock"),
            (Method::GET, "/nodes"),
            (Method::GET, "/nodes/n1"),
            (Method::DELETE, "/nodes/n1"),
            (Method::POST, "/nodes/n1/update"),
            (Method::GET, "/services"),
            (Method::POST, "/services/create"),
            (Method::GET, "/services/s1/logs"),
            (Method::DELETE, "/services/s1"),
            (Method::GET, "/tasks"),
            (Method::GET, "/tasks/t1/logs"),
            (Method::POST, "/secrets/create"),
            (Method::POST, "/secrets/x/update"),
            (Method::GET, "/configs/x"),
        ] {
            assert_eq!(status(m.clone(), p), Some((503, NOT_A_MANAGER.into())), "{m} {p}");
        }
        for (m, p) in [
            (Method::GET, "/swarm/leave"),
            (Method::DELETE, "/swarm"),
            (Method::POST, "/tasks/create"),
            (Method::DELETE, "/tasks/t1"),
            (Method::POST, "/nodes/create"),
            (Method::GET, "/nodes/n1/logs"),
            (Method::GET, "/secrets/a/b/c"),
            (Method::GET, "/swarmy"),
        ] {
            assert_eq!(status(m.clone(), p), None, "{m} {p}");
        }
    }
}
