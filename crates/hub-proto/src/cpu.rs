//! Whether this processor runs the build as it was compiled.
//!
//! The workspace's `.cargo/config.toml` compiles the Rust and the C code for
//! x86-64-v3 (AVX2 and FMA: Intel since 2013, AMD since 2015): libopus, most
//! of an upload's ingest, encodes 11-13 % faster than at the x86-64
//! baseline, the rest of ingest about 6 % faster again. On an older
//! processor such a build stops with "illegal instruction" wherever the
//! compiler used one, so the hub, the device simulator and the benchmarks
//! check first, and say how to build for that processor instead.

use thiserror::Error;

/// The C compiler flags the build was made with, when
/// `.cargo/config.toml` (or the environment) set them.
const C_FLAGS: Option<&str> = option_env!("CFLAGS_x86_64_unknown_linux_gnu");

/// What x86-64-v3 adds to the x86-64 baseline, by the names
/// `is_x86_feature_detected!` knows them by.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const X86_64_V3: [&str; 9] = [
    "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave",
];

/// This processor lacks instructions the build uses.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "this build is compiled for x86-64-v3, and this processor lacks {}; build for it with \
     RUSTFLAGS=\"-C target-cpu=x86-64\" CFLAGS_x86_64_unknown_linux_gnu=-march=x86-64 in the \
     environment",
    missing.join(", ")
)]
pub struct UnsupportedCpu {
    missing: Vec<&'static str>,
}

/// Checks that this processor runs the code this build holds: the first
/// thing a binary of the workspace does.
pub fn check_cpu() -> Result<(), UnsupportedCpu> {
    #[cfg(target_arch = "x86_64")]
    return check(built_for_v3(), detected);
    // The settings name x86-64 targets: others are built without them.
    #[cfg(not(target_arch = "x86_64"))]
    Ok(())
}

/// Whether the Rust code (`target-cpu`) or the C code (`-march`) was
/// compiled for x86-64-v3.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn built_for_v3() -> bool {
    cfg!(all(target_feature = "avx2", target_feature = "fma"))
        || C_FLAGS.is_some_and(|flags| flags.contains("-march=x86-64-v3"))
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn check(built_for_v3: bool, has: impl Fn(&str) -> bool) -> Result<(), UnsupportedCpu> {
    if !built_for_v3 {
        return Ok(());
    }
    let missing: Vec<&'static str> = X86_64_V3
        .into_iter()
        .filter(|feature| !has(feature))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(UnsupportedCpu { missing })
    }
}

#[cfg(target_arch = "x86_64")]
fn detected(feature: &str) -> bool {
    match feature {
        "avx" => is_x86_feature_detected!("avx"),
        "avx2" => is_x86_feature_detected!("avx2"),
        "bmi1" => is_x86_feature_detected!("bmi1"),
        "bmi2" => is_x86_feature_detected!("bmi2"),
        "f16c" => is_x86_feature_detected!("f16c"),
        "fma" => is_x86_feature_detected!("fma"),
        "lzcnt" => is_x86_feature_detected!("lzcnt"),
        "movbe" => is_x86_feature_detected!("movbe"),
        "xsave" => is_x86_feature_detected!("xsave"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v3_build_names_every_instruction_set_the_processor_lacks() {
        let old = |feature: &str| !matches!(feature, "avx2" | "fma" | "bmi2");
        let err = check(true, old).unwrap_err();
        assert_eq!(err.missing, ["avx2", "bmi2", "fma"]);
        assert!(err.to_string().contains("lacks avx2, bmi2, fma;"), "{err}");
        assert_eq!(check(true, |_| true), Ok(()));
    }

    #[test]
    fn a_build_for_the_baseline_runs_anywhere() {
        assert_eq!(check(false, |_| false), Ok(()));
    }

    #[test]
    fn this_build_is_for_v3_and_runs_here() {
        // The workspace's settings are in effect, and the suite runs on a
        // processor they suit.
        assert!(built_for_v3());
        assert_eq!(check_cpu(), Ok(()));
    }
}
