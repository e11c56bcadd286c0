//! Live emergencies: an operator speaks, and every targeted loudspeaker
//! plays it within a fraction of a second while LED boards show the
//! operator's text.
//!
//! The emergency is an ordinary emergency bulletin whose loudspeaker part
//! is [`hub_core::AudioSource::Live`]: the scheduler plans and preempts with
//! it like any emergency, devices that (re)connect get it in their plan and
//! join the stream at its current chunk. The sound never goes through the
//! store: the operator's Opus packets are checked, grouped into signed
//! chunks (`hub_proto::live`) and published on the targeted communes'
//! loudspeaker topics. `docs/protocol.md` ("Live voice") has the wire side.
//!
//! # Layout
//! - [`packets`]: what counts as a valid packet (libopus parses it; mono; 20 ms).
//! - [`chunks`]: packets grouped into numbered chunks.
//! - [`session`]: one live emergency: [`prepare`] (validation and the
//!   policy, before anything airs), [`start`], [`LiveSession::relay`], its end.
//! - [`socket`]: the session over a WebSocket, for any front end that
//!   authenticated its [`Caller`](crate::api::auth::Caller) ([`serve`]).
//! - [`attach`]: the streams under way ([`LiveStreams`]), to which their
//!   operator may reattach after a broken connection ([`reattach`]).
//! - [`ogg_file`]: the packets of an Ogg Opus file, to stream a recording.
//! - [`client`]: the command line's WebSocket client.
//! - [`restart`]: a starting hub cancels the live emergencies a stop cut off.

pub mod attach;
pub mod chunks;
pub mod client;
pub mod ogg_file;
pub mod packets;
pub mod restart;
pub mod session;
pub mod socket;

pub use attach::{reattach, LiveStreams};
pub use restart::end_interrupted;
pub use session::{
    prepare, start, EndReason, Ended, Input, LiveRequest, LiveSession, Notice, Prepared,
};
pub use socket::serve;
