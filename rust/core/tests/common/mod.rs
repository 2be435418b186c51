//! What the fuzz tests share: a cap on the address space, so that an oversized
//! allocation fails the test binary (Rust aborts when an infallible allocation
//! fails) instead of swapping the machine, and the peak memory to report.

use std::time::Duration;

/// The address space a fuzz test binary may map.
pub const ADDRESS_SPACE: u64 = 4 << 30;

/// Caps this process's address space at [`ADDRESS_SPACE`] (once; Unix only).
pub fn cap_address_space() {
    #[cfg(unix)]
    {
        static CAP: std::sync::Once = std::sync::Once::new();
        CAP.call_once(|| {
            let (_, hard) = rlimit::getrlimit(rlimit::Resource::AS).expect("getrlimit(RLIMIT_AS)");
            rlimit::setrlimit(rlimit::Resource::AS, ADDRESS_SPACE.min(hard), hard)
                .expect("setrlimit(RLIMIT_AS)");
        });
    }
}

/// Cases to run: `MZERO_FUZZ_CASES` if set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("MZERO_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// The peak resident memory of this process in MiB (Linux; 0 elsewhere).
pub fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    kib / 1024
}

/// One line for the test log (`cargo test -- --nocapture` shows it).
pub fn report(what: &str, executions: usize, elapsed: Duration) {
    eprintln!(
        "{what}: {executions} executions in {:.2} s ({:.0}/s), peak RSS {} MiB, address space capped at {} MiB",
        elapsed.as_secs_f64(),
        executions as f64 / elapsed.as_secs_f64().max(1e-9),
        peak_rss_mib(),
        ADDRESS_SPACE >> 20
    );
}
