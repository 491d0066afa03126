//! Percentiles: exact ones over a sorted sample for single broadcasts, and a
//! lock-free log histogram for sustained load where keeping every sample
//! would cost the client more than the measurement is worth.

use std::sync::atomic::{AtomicU64, Ordering};

/// The `q`-quantile (0..=1) of an ascending slice, nearest-rank; 0 when empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of unsorted values (the lower middle for an even count).
pub fn median(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    percentile(&v, 0.5)
}

/// Sub-buckets per power of two: about 3% relative error.
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Covers values up to 2^40 ns (18 minutes).
const BUCKETS: usize = 41 * SUB;

/// A concurrent histogram of nanosecond latencies with ~3% resolution.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    /// The largest sample, exact.
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    fn index(value: u64) -> usize {
        if value < SUB as u64 {
            return value as usize;
        }
        let exp = 63 - value.leading_zeros();
        let sub = (value >> (exp - SUB_BITS)) as usize & (SUB - 1);
        (((exp - SUB_BITS + 1) as usize) * SUB + sub).min(BUCKETS - 1)
    }

    /// The smallest value that lands in bucket `i`.
    fn lower_bound(i: usize) -> u64 {
        if i < SUB {
            return i as u64;
        }
        let exp = (i / SUB) as u32 + SUB_BITS - 1;
        let sub = (i % SUB) as u64;
        (1u64 << exp) | (sub << (exp - SUB_BITS))
    }

    /// Adds one sample.
    pub fn record(&self, value_ns: u64) {
        self.buckets[Self::index(value_ns)].fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(value_ns, Ordering::Relaxed);
    }

    /// The largest sample (exact, not a bucket bound); 0 when empty.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Forgets every sample.
    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.max.store(0, Ordering::Relaxed);
    }

    /// How many samples were recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The `q`-quantile, as the lower bound of its bucket; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::lower_bound(i);
            }
        }
        Self::lower_bound(BUCKETS - 1)
    }
}
