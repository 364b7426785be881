//! berth's container networking.
