use brain_ws_bench::stats::{Histogram, median, percentile};

#[test]
fn nearest_rank_percentiles() {
    let v: Vec<u64> = (1..=100).collect();
    assert_eq!(percentile(&v, 0.5), 50);
    assert_eq!(percentile(&v, 0.99), 99);
    assert_eq!(percentile(&v, 1.0), 100);
    assert_eq!(percentile(&v, 0.0), 1);
    assert_eq!(percentile(&[], 0.5), 0);
    assert_eq!(median(&[5, 1, 9]), 5);
    assert_eq!(median(&[4, 1, 9, 7]), 4);
}

#[test]
fn histogram_quantiles_are_within_its_resolution() {
    let h = Histogram::default();
    for v in 1..=10_000u64 {
        h.record(v * 1_000);
    }
    assert_eq!(h.count(), 10_000);
    for (q, exact) in [(0.5, 5_000_000u64), (0.99, 9_900_000), (1.0, 10_000_000)] {
        let got = h.quantile(q);
        assert!(
            got <= exact && got as f64 >= exact as f64 * 0.96,
            "q {q}: {got} vs {exact}"
        );
    }
    for small in 0..32u64 {
        let h = Histogram::default();
        h.record(small);
        assert_eq!(h.quantile(0.5), small);
    }
    h.reset();
    assert_eq!(h.count(), 0);
    assert_eq!(h.quantile(0.5), 0);
}
