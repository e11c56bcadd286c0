//! Media: the content-addressed store of broadcast files, the ingest of
//! bulletins' audio, pictures and videos into it, and the HTTP server devices download from.
//!
//! # Layout
//! - [`store`]: files under `<data_dir>/media/<sha256>`, written atomically,
//!   each stored once; their facts in sled (`hub-store`).
//! - [`check`]: every stored file checked (size and hash) when the hub starts.
//! - [`ingest`]: a bulletin's recording or text (spoken by espeak-ng)
//!   becomes a stored file and the part's slot.
//! - [`visual`]: a bulletin's picture (fitted to the boards) or video for
//!   LED boards becomes a stored file.
//! - `spoken`: speech synthesised once per text per process.
//! - [`range`]: the `Range` and `If-Range` rules of RFC 9110, pure.
//! - [`server`]: `GET`/`HEAD /media/v1/{sha256}` for authenticated devices.
//! - [`tls`]: the server's certificate for HTTPS (`link.media_tls`), checked
//!   at start-up, and the CA devices are provisioned with.

pub mod check;
pub mod ingest;
pub mod range;
pub mod server;
mod spoken;
pub mod store;
pub mod tls;
pub mod visual;

pub use ingest::{AudioInput, AudioJob, IngestError};
pub use store::{MediaStore, MediaStoreError};
pub use visual::{VisualError, VisualJob};
