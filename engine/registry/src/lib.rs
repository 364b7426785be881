//! berth's registry client: Distribution API v2 / OCI.
