use brain_ws_bench::report::{LatencyReport, Report, compare_table};

fn with_last(label: &str, last_us: u64) -> Report {
    Report {
        label: label.into(),
        connections: 10,
        latency: Some(LatencyReport {
            last_us,
            ..LatencyReport::default()
        }),
        ..Report::default()
    }
}

#[test]
fn compare_table_gives_ratios_against_the_first_report() {
    let table = compare_table(&[with_last("floor", 2_000), with_last("ours", 3_000)]);
    assert!(
        table.starts_with("| metric | floor (n=10) | ours (n=10) |\n"),
        "{table}"
    );
    assert!(
        table.contains("| time to last delivery (ms) | 2.00 | 3.00 (1.50x) |"),
        "{table}"
    );
    // Rows no report has are left out.
    assert!(!table.contains("sustained"), "{table}");
}

#[test]
fn a_report_is_ok_only_without_losses() {
    let mut r = Report::default();
    assert!(r.ok());
    r.missing = 1;
    assert!(!r.ok());
    r.missing = 0;
    r.dropped = 1;
    assert!(!r.ok());
    r.dropped = 0;
    r.connect.failed = 1;
    assert!(!r.ok());
}

#[test]
fn repeats_of_one_server_fold_into_median_and_worst_loss() {
    let mut lossy = with_last("ours", 5_000);
    lossy.missing = 7;
    let reports = [
        with_last("floor", 2_000),
        with_last("ours", 3_000),
        with_last("floor", 2_000),
        lossy,
        with_last("ours", 4_000),
    ];
    let table = compare_table(&reports);
    assert!(
        table.starts_with("| metric | floor (n=10, 2 runs) | ours (n=10, 3 runs) |\n"),
        "{table}"
    );
    assert!(
        table.contains("| time to last delivery (ms) | 2.00 | 4.00 (2.00x) |"),
        "{table}"
    );
    assert!(table.contains("| missing deliveries | 0 | 7 |"), "{table}");
}
