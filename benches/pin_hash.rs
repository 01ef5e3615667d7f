//! Cost of one PIN verification at the configured argon2id cost: what every login
//! attempt spends, and why verifications are bounded to one per core.
//!
//! Run with `cargo bench --bench pin_hash`. Prints the median and spread of
//! `PinHasher::verify` and `hash` at the default cost (19 MiB, 2 iterations,
//! 1 lane) and at the test suite's cheap cost. Asserts nothing.

use std::time::{Duration, Instant};

use voiceportal::config::Secret;
use voiceportal::domain::{HashCost, Pin, PinHasher};

const RUNS: usize = 30;

fn main() {
    let pin = Pin::parse("583920").expect("a valid PIN");
    let pepper = Secret::new("bench-pepper");
    for (label, cost) in [
        ("default", HashCost::default()),
        ("tests", HashCost::fast_for_tests()),
    ] {
        let hasher = PinHasher::new(&pepper, &cost).expect("a valid cost");
        let stored = hasher.hash(&pin).expect("hash");
        let verify = measure(|| {
            assert!(hasher.verify(&pin, &stored));
        });
        let hash = measure(|| {
            hasher.hash(&pin).expect("hash");
        });
        println!(
            "{label:>8} cost {cost:?}: verify median {:.1} ms (min {:.1}, max {:.1}); hash median {:.1} ms",
            ms(verify[RUNS / 2]),
            ms(verify[0]),
            ms(verify[RUNS - 1]),
            ms(hash[RUNS / 2]),
        );
    }
}

/// Sorted wall times of `RUNS` runs.
fn measure(mut run: impl FnMut()) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
