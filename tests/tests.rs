//! End-to-end tests of the Nguồn hub, built as one test binary.
//!
//! They drive the `hub` command line through its library entry point, on the
//! demo configurations, with a real sled store in a temporary directory.

mod support;

mod plan_cli;
