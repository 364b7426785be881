//! Engine API 1.41 response bodies as typed structs (moby's `api/types`), fields declared in
//! Docker 20.10's Go struct order so they serialize in the order Docker sends them.
//!
//! Why not `serde_json::json!`: serde_json is built without `preserve_order`, so a `Value`
//! object serializes its keys alphabetically, unlike Go structs (`docker inspect c1 | grep
//! IPAddress | tail -1` then finds `SecondaryIPAddresses` last instead of the network's
//! address). Go maps (`Ports`, `Networks`, `Labels`…) do serialize with sorted keys: they are
//! `BTreeMap`s here.

pub mod container;
