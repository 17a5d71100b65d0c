//! A Lambda-sized CPU share for the bootstrap: Lambda gives a function CPU in proportion to its
//! memory (1 769 MB is one vCPU), so a 256 MB function runs on about 14 % of a core. A cgroup CPU
//! quota holds the process to that share: cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us`, whichever
//! the machine has. The process is started inside the group (a shell writes its own pid to the
//! group, then execs the bootstrap), so every thread it ever has is held to the share.

use std::path::PathBuf;

/// The memory size that buys one full vCPU.
pub const MB_PER_VCPU: f64 = 1769.0;
const PERIOD_US: u64 = 100_000;

/// A cgroup with a CPU quota; removed on drop (once its processes are gone).
#[derive(Debug)]
pub struct CpuShare {
    dir: PathBuf,
    /// The file a process writes its pid to, to join.
    procs: PathBuf,
    pub share: f64,
}

impl CpuShare {
    /// A group holding its processes to `memory_mb`'s share of one CPU, or why not.
    pub fn for_memory(memory_mb: u32, name: &str) -> Result<Self, String> {
        let share = (f64::from(memory_mb) / MB_PER_VCPU).min(1.0);
        let quota = ((PERIOD_US as f64) * share).round().max(1000.0) as u64;
        let v2 = PathBuf::from("/sys/fs/cgroup/cgroup.controllers");
        let (dir, procs) = if v2.exists() {
            let dir = PathBuf::from("/sys/fs/cgroup").join(name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(dir.join("cpu.max"), format!("{quota} {PERIOD_US}"))
                .map_err(|e| format!("{}/cpu.max: {e}", dir.display()))?;
            let procs = dir.join("cgroup.procs");
            (dir, procs)
        } else {
            let dir = PathBuf::from("/sys/fs/cgroup/cpu").join(name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())
                .map_err(|e| format!("{}/cpu.cfs_period_us: {e}", dir.display()))?;
            std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())
                .map_err(|e| format!("{}/cpu.cfs_quota_us: {e}", dir.display()))?;
            let procs = dir.join("cgroup.procs");
            (dir, procs)
        };
        Ok(Self { dir, procs, share })
    }

    /// The command that starts `program` inside the group.
    pub fn command(&self, program: &std::path::Path) -> std::process::Command {
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg("echo $$ > \"$1\" && exec \"$2\"")
            .arg("kyc-bench")
            .arg(&self.procs)
            .arg(program);
        cmd
    }
}

impl Drop for CpuShare {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}
