//! The Dockerfile builder (Docker's classic builder, as Docker 20.10 runs it without BuildKit).
//!
//! - [`dockerfile`]: the parser (lines, directives, continuations, instructions) and the
//!   builder-side variable expansion ([`dockerfile::shell_lex`]).
//! - [`dockerignore`]: `.dockerignore` patterns.
//!
//! The crate knows nothing of the daemon: the builder reaches containers, images and the
//! cache through the [`Backend`](crate::backend::Backend) trait, which berthd implements.

pub mod dockerfile;
pub mod dockerignore;
pub mod backend;
pub mod inroot;
pub mod context;
pub mod copy;
pub mod gofmt;
pub mod builder;
pub mod fake;
