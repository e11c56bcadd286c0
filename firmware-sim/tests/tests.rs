//! firmware-sim's tests against real sockets, one test binary; helpers in
//! `support/`.

mod board_snapshot;
mod board_video;
mod link;
mod media;
mod support;
