//! Reports of a lab run: terminal text, JSON (per-objective scores), JUnit XML.

pub mod json;
pub mod junit;
pub mod terminal;
