//! Resident memory of this process, as the kernel reports it.

use std::fs;

/// Peak resident set size (`VmHWM` in `/proc/self/status`) in kB, or `None`
/// where there is no `/proc` (not Linux) or the line is missing.
pub fn peak_rss_kb() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// Current resident set size (`VmRSS`) in kB, or `None` where unknown.
pub fn current_rss_kb() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    parse_kb(&status, "VmRSS:")
}

/// Reads the `VmHWM:   123456 kB` line of a `/proc/<pid>/status` text.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    parse_kb(status, "VmHWM:")
}

fn parse_kb(status: &str, field: &str) -> Option<u64> {
    let value = status.lines().find_map(|l| l.strip_prefix(field))?;
    value.trim().strip_suffix("kB")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark_line() {
        let status =
            "Name:\thub-bench\nVmPeak:\t  20000 kB\nVmHWM:\t    8123 kB\nVmRSS:\t    8000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(8123));
        assert_eq!(parse_vm_hwm("VmRSS:\t 1 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t lots\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_peak_and_a_current_size() {
        assert!(peak_rss_kb().is_some_and(|kb| kb > 0));
        assert!(current_rss_kb().is_some_and(|kb| kb > 0 && kb <= peak_rss_kb().unwrap()));
    }
}
