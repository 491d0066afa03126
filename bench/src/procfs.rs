//! What the bench reads from `/proc` about the server under test (and about
//! itself): CPU time, resident memory, and which process listens on a port.

use std::fs;
use std::path::Path;

/// Linux reports `/proc/PID/stat` times in USER_HZ, which is 100 on every
/// architecture Linux exports to userspace.
const USER_HZ: u64 = 100;

/// Raises the soft open-file limit to the hard one, so one process can hold
/// as many sockets as the machine allows. Returns the new soft limit.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// CPU time a process has used so far, two ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTime {
    /// utime + stime from `/proc/PID/stat`, in microseconds (10 ms resolution).
    pub stat_us: u64,
    /// The sum of every live thread's on-CPU time from
    /// `/proc/PID/task/*/schedstat`, in microseconds (nanosecond resolution;
    /// misses threads that exited). `None` when the kernel has no schedstat.
    pub sched_us: Option<u64>,
}

impl CpuTime {
    /// The most precise difference available: schedstat when both ends have
    /// it, unless the coarse utime+stime grew by clearly more (two ticks and
    /// 10%), which means threads ran and exited in between and schedstat lost
    /// their time; then utime+stime, which keeps it.
    pub fn micros_since(&self, earlier: &CpuTime) -> u64 {
        let stat = self.stat_us.saturating_sub(earlier.stat_us);
        match (self.sched_us, earlier.sched_us) {
            (Some(now), Some(then)) => {
                let sched = now.saturating_sub(then);
                if stat > sched + sched / 10 + 2 * 1_000_000 / USER_HZ {
                    stat
                } else {
                    sched
                }
            }
            _ => stat,
        }
    }
}

/// Reads the CPU time of `pid`.
pub fn cpu_time(pid: u32) -> std::io::Result<CpuTime> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may contain spaces; fields after
    // the last ')' start at field 3 (state), so utime (14) and stime (15) are
    // the 12th and 13th.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
        return Err(std::io::Error::other(format!(
            "unparsable /proc/{pid}/stat"
        )));
    };
    Ok(CpuTime {
        stat_us: (utime + stime) * 1_000_000 / USER_HZ,
        sched_us: sched_time(pid),
    })
}

fn sched_time(pid: u32) -> Option<u64> {
    let mut total_ns = 0u64;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let text = fs::read_to_string(task.path().join("schedstat")).ok()?;
        total_ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total_ns / 1_000)
}

/// CPU time every process on the machine has used, in microseconds: the
/// busy (non-idle, non-iowait) ticks of the first line of `/proc/stat`. Minus
/// the server's and the bench's own, it shows how much a shared machine's
/// neighbours took during a measurement.
pub fn machine_busy_us() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]; the
    // guest times are already counted in user and nice.
    let busy: u64 = ticks.iter().take(8).sum::<u64>() - ticks.get(3)? - ticks.get(4)?;
    Some(busy * 1_000_000 / USER_HZ)
}

/// Resident set size of `pid` in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// The process listening on TCP `port`, found through the socket's inode in
/// `/proc/net/tcp{,6}` and the `socket:[inode]` links in `/proc/*/fd`.
pub fn pid_listening_on(port: u16) -> Option<u32> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .flat_map(|table| listening_inodes(&table, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for proc_entry in fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = proc_entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if holds_socket(&proc_entry.path(), &wanted) {
            return Some(pid);
        }
    }
    None
}

fn holds_socket(proc_dir: &Path, wanted: &[String]) -> bool {
    let Ok(fds) = fs::read_dir(proc_dir.join("fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path())
            .map(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
            .unwrap_or(false)
    })
}

/// Inodes of the sockets in LISTEN state (0A) on `port` in one
/// `/proc/net/tcp`-format table.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit_once(':')?.1;
            let local_port = u16::from_str_radix(local_port, 16).ok()?;
            (local_port == port && *f.get(3)? == "0A").then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}
