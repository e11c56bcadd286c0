//! How devices fetch media: the HTTP side of [`crate::MediaRef`].
//!
//! The hub serves each stored file at `/media/v1/{sha256}` (lower-case hex),
//! so a URL names its content and never changes meaning. Devices
//! authenticate with HTTP Basic: user = device id, password = the device's
//! broker password from its provisioning; unknown or revoked devices are
//! refused. Responses carry a strong ETag, the quoted hash, and honour single
//! `Range` requests, so a download cut by a dropped 4G link resumes where it
//! stopped (`Range: bytes=N-` with `If-Range: "{sha256}"`).

/// The path under which media is served, before the hash.
pub const MEDIA_PATH_PREFIX: &str = "/media/v1/";

/// The path of the file whose SHA-256 is `sha256_hex`.
pub fn media_path(sha256_hex: &str) -> String {
    format!("{MEDIA_PATH_PREFIX}{sha256_hex}")
}

/// The hash a media path names, if it is one: the prefix then exactly 64
/// lower-case hex digits.
pub fn parse_media_path(path: &str) -> Option<&str> {
    let hash = path.strip_prefix(MEDIA_PATH_PREFIX)?;
    is_sha256_hex(hash).then_some(hash)
}

/// Whether `text` is a SHA-256 written as the protocol writes it: 64
/// lower-case hex digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The strong ETag of the file whose SHA-256 is `sha256_hex`.
pub fn etag(sha256_hex: &str) -> String {
    format!("\"{sha256_hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_path_round_trips_to_its_hash() {
        assert_eq!(parse_media_path(&media_path(HASH)), Some(HASH));
        assert_eq!(etag(HASH), format!("\"{HASH}\""));
    }

    #[test]
    fn paths_that_are_not_one_hash_are_refused() {
        let upper = HASH.to_uppercase();
        for path in [
            format!("/media/v2/{HASH}"),
            format!("{MEDIA_PATH_PREFIX}{upper}"),
            format!("{MEDIA_PATH_PREFIX}{}", &HASH[1..]),
            format!("{MEDIA_PATH_PREFIX}{HASH}0"),
            format!("{MEDIA_PATH_PREFIX}../{}", &HASH[3..]),
        ] {
            assert_eq!(parse_media_path(&path), None, "{path}");
        }
    }
}
