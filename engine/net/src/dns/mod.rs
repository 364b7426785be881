//! Embedded DNS for user-defined networks (Docker's 127.0.0.11): a minimal A-record responder.
pub mod server;
pub mod table;
pub mod wire;
