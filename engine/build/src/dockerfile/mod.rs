//! Dockerfile parsing: [`parse`] turns the file's bytes into a [`Dockerfile`] of typed
//! instructions. Words are kept as written (quotes included) where Docker expands them later,
//! at dispatch time, with the environment of that step ([`shell_lex`]).

pub mod ast;
pub mod shell_lex;
mod parser;

pub use ast::*;
pub use parser::{parse, ErrorKind, ParseError};
