//! Shared test helpers: generated images, in-memory blob sink/source, the real registry process.
#![allow(dead_code)]

pub mod fake;
pub mod image;
pub mod real_registry;
pub mod store;
pub mod token_server;
