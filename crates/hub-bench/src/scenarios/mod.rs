//! One module per scenario. Each takes a params struct, does its work, and
//! returns a summary that serialises to the one-line JSON `main` prints last,
//! so scripts can compare runs with `tail -n1`.

pub mod emergency;
pub mod fanout;
pub mod fleet;
pub mod ingest;
pub mod plan;
