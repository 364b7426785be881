//! `-p`/`-P` parsing and publishing (DNAT rules plus host-port bookkeeping).
pub mod publish;
pub mod spec;

pub use spec::{parse_port_spec, ports_from_expose, PortBinding, Proto};
