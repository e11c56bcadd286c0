//! What the tests share: a broker with a test hub, and a stand-in for the
//! hub's media server.

pub mod media_server;
pub mod mqtt;
