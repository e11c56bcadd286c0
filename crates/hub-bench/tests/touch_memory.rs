//! The process a scenario starts before each measured broadcast really
//! touches the memory it is asked to (a block left untouched would be no
//! freshly freed memory for the kernel to hand out).

use std::process::Command;

#[test]
fn touch_memory_makes_its_mebibytes_resident() {
    let output = Command::new(env!("CARGO_BIN_EXE_hub-bench"))
        .args(["touch-memory", "--mib", "48"])
        .output()
        .expect("running hub-bench touch-memory");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).expect("text");
    let peak_kb: u64 = stdout
        .split("peak resident ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|kb| kb.parse().ok())
        .unwrap_or_else(|| panic!("no peak in {stdout:?}"));
    assert!(peak_kb >= 48 * 1024, "peak {peak_kb} kB for 48 MiB touched");
}
