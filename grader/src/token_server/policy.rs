//! Who may do what, Harbor's way: repositories live in projects (`project/name`); a public
//! project can be pulled by anyone, a private one only by a user who logged in; pushing (and
//! deleting, and the catalog) always needs a user. Repositories outside a known project get
//! nothing, as Harbor refuses a push to a project that does not exist.

use std::collections::BTreeMap;

/// One requested scope: `repository:test/hello-world:pull,push`, `registry:catalog:*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub typ: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses `type:name:actions`; the name may itself hold `:` (a registry host with a port),
    /// so type is the first field and actions the last.
    pub fn parse(s: &str) -> Option<Scope> {
        let (typ, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if typ.is_empty() || name.is_empty() {
            return None;
        }
        Some(Scope {
            typ: typ.into(),
            name: name.into(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// user -> password
    pub users: BTreeMap<String, String>,
    /// project -> public
    pub projects: BTreeMap<String, bool>,
}

impl Policy {
    /// The user a Basic `user:password` pair proves, if any.
    pub fn authenticate(&self, user: &str, password: &str) -> bool {
        self.users.get(user).is_some_and(|p| p == password)
    }

    /// The actions of `scope` granted to `user` (None: anonymous).
    pub fn grant(&self, user: Option<&str>, scope: &Scope) -> Vec<String> {
        let allowed = |a: &str| -> bool {
            match scope.typ.as_str() {
                "repository" => {
                    let Some(public) = scope
                        .name
                        .split_once('/')
                        .and_then(|(p, _)| self.projects.get(p))
                    else {
                        return false;
                    };
                    match user {
                        Some(_) => matches!(a, "pull" | "push" | "delete" | "*"),
                        None => a == "pull" && *public,
                    }
                }
                "registry" => user.is_some() && scope.name == "catalog" && a == "*",
                _ => false,
            }
        };
        scope
            .actions
            .iter()
            .filter(|a| allowed(a))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            users: [("admin".to_string(), "123".to_string())].into(),
            projects: [("library".to_string(), true), ("test".to_string(), false)].into(),
        }
    }

    fn s(x: &str) -> Scope {
        Scope::parse(x).unwrap()
    }

    #[test]
    fn parses_scopes() {
        assert_eq!(
            s("repository:test/hello-world:pull,push"),
            Scope {
                typ: "repository".into(),
                name: "test/hello-world".into(),
                actions: vec!["pull".into(), "push".into()]
            }
        );
        assert_eq!(s("registry:catalog:*").actions, ["*"]);
        assert_eq!(
            s("repository:10.1.1.18:80/x/y:pull").name,
            "10.1.1.18:80/x/y"
        );
        assert!(Scope::parse("repository").is_none());
    }

    #[test]
    fn anonymous_pulls_public_projects_only() {
        let p = policy();
        assert_eq!(
            p.grant(None, &s("repository:library/busybox:pull")),
            ["pull"]
        );
        assert!(p
            .grant(None, &s("repository:library/busybox:push"))
            .is_empty());
        assert!(p
            .grant(None, &s("repository:test/hello-world:pull"))
            .is_empty());
        assert!(p.grant(None, &s("registry:catalog:*")).is_empty());
    }

    #[test]
    fn users_push_and_pull_in_known_projects() {
        let p = policy();
        assert_eq!(
            p.grant(Some("admin"), &s("repository:test/hello-world:pull,push")),
            ["pull", "push"]
        );
        assert!(p
            .grant(Some("admin"), &s("repository:nosuch/app:pull,push"))
            .is_empty());
        assert!(p
            .grant(Some("admin"), &s("repository:busybox:pull"))
            .is_empty());
        assert_eq!(p.grant(Some("admin"), &s("registry:catalog:*")), ["*"]);
        assert!(p.authenticate("admin", "123"));
        assert!(!p.authenticate("admin", "1234"));
        assert!(!p.authenticate("root", "123"));
    }
}
