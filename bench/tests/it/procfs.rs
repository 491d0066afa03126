use brain_ws_bench::procfs::{
    CpuTime, cpu_time, listening_inodes, machine_busy_us, pid_listening_on, rss_kib,
};

#[test]
fn listening_inodes_picks_listen_state_on_the_port() {
    let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F40 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
";
    assert_eq!(listening_inodes(table, 8000), vec![4242]);
    assert_eq!(listening_inodes(table, 8001), vec![4444]);
    assert!(listening_inodes(table, 9000).is_empty());
}

#[test]
fn finds_this_process_by_its_listening_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert_eq!(pid_listening_on(port), Some(std::process::id()));
    drop(listener);
    assert_eq!(pid_listening_on(port), None);
}

#[test]
fn reads_cpu_and_rss_of_this_process() {
    let pid = std::process::id();
    let before = cpu_time(pid).unwrap();
    let busy_before = machine_busy_us().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut x = 0u64;
    // Burn CPU until /proc shows at least 30 ms more, both ways of counting.
    let grown = loop {
        for _ in 0..100_000 {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let now = cpu_time(pid).unwrap();
        if now.micros_since(&before) >= 30_000 && now.stat_us >= before.stat_us + 10_000 {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
    };
    std::hint::black_box(x);
    assert!(
        grown,
        "cpu time did not grow: {before:?} -> {:?}",
        cpu_time(pid)
    );
    // The whole machine was at least as busy as this process.
    assert!(machine_busy_us().unwrap() >= busy_before + 10_000);
    assert!(rss_kib(pid).unwrap() > 100);
    assert!(cpu_time(u32::MAX).is_err());
    assert!(rss_kib(u32::MAX).is_err());
}

#[test]
fn cpu_difference_prefers_schedstat_unless_threads_exited() {
    let at = |stat_us, sched_us| CpuTime { stat_us, sched_us };
    // Within the 10 ms ticks of stat: the precise schedstat figure.
    assert_eq!(
        at(60_000, Some(51_000)).micros_since(&at(0, Some(1_000))),
        50_000
    );
    // stat grew far more: threads that exited took their schedstat with them.
    assert_eq!(
        at(200_000, Some(11_000)).micros_since(&at(0, Some(1_000))),
        200_000
    );
    // No schedstat: stat.
    assert_eq!(at(30_000, None).micros_since(&at(10_000, Some(5))), 20_000);
}
