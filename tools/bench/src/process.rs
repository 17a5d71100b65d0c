//! What a process used, from `/proc`: CPU time per thread and peak resident set.

/// CPU time in ns of every live thread of process `pid` (`/proc/<pid>/task/*/schedstat`: exact,
/// where `/proc/<pid>/stat` counts 10 ms ticks). The bootstrap runs on one thread; the floor's
/// client and its connections run on this process's one runtime thread.
pub(crate) fn cpu_ns(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Peak resident set, from `/proc/<pid>/status`.
pub(crate) fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}
