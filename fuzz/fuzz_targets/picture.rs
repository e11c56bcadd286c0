//! An uploaded picture, as `POST /api/v1/uploads/image` hands it to
//! hub-media: format detection, decoding under `ImageSettings::default()`'s
//! size and memory limits, EXIF orientation, fitting to a board and the PNG
//! written for it.
//!
//! The board is 64×32 (two P10 modules), not the hub's default 384×192:
//! the resize and the PNG writing depend on the board, not on the upload,
//! and at the larger size writing the PNG takes most of every run. Pictures
//! both larger and smaller than the board go through both ways of fitting.

#![no_main]

use hub_media::{ingest_image, BoardSize, ImageSettings};
use libfuzzer_sys::fuzz_target;

const BOARD: (u32, u32) = (64, 32);

fuzz_target!(|data: &[u8]| {
    let board = BoardSize::new(BOARD.0, BOARD.1).expect("64×32 is a valid board");
    if let Ok(fitted) = ingest_image(data, None, board, &ImageSettings::default()) {
        assert_eq!((fitted.width, fitted.height), BOARD);
        assert!(fitted.png.starts_with(b"\x89PNG"));
        let placement = fitted.placement;
        assert!(placement.x + placement.width <= BOARD.0);
        assert!(placement.y + placement.height <= BOARD.1);
    }
});
