//! `state`: print the OCI state JSON.

use super::args::parse;
use super::{load, one_id, CmdResult, Globals};

pub(super) fn run(g: &Globals, argv: &[String]) -> CmdResult {
    let p = parse("state", argv, &[])?;
    let id = one_id(&p, "state")?;
    let st = load(g, &id)?;
    let oci = st.oci(st.status(&g.root));
    println!("{}", serde_json::to_string_pretty(&oci).expect("state serializes"));
    Ok(0)
}
