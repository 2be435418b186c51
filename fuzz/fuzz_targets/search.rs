//! A whole batched search (`BatchSearch::begin_at`, `advance`, `output`) on
//! arbitrary configurations, roots, legal masks and model outputs: every call
//! returns `Ok` or `Err`, and a finished search keeps the rules every search keeps.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use mzero_core::search::{Algorithm, BatchSearch, Roots, SearchConfig};

#[derive(Debug, Arbitrary)]
struct Input {
    num_simulations: u8,
    discount: f64,
    pb_c_init: f64,
    pb_c_base: f64,
    dirichlet_alpha: f64,
    dirichlet_fraction: f64,
    two_player: bool,
    gumbel: bool,
    max_considered_actions: u8,
    gumbel_scale: f64,
    c_visit: f64,
    c_scale: f64,
    batch: u8,
    num_actions: u8,
    seed: u64,
    first_game: usize,
    /// Roots and model outputs, cycled.
    pool: Vec<f32>,
    mask: Option<Vec<bool>>,
    /// Per call: a length off by one (`% 7` of 0 and 1) or right.
    lengths: Vec<u8>,
}

/// `n` values cycled from `pool` (zeros if empty), one fewer or more if `skew` says.
fn values(pool: &[f32], n: usize, skew: u8, offset: usize) -> Vec<f32> {
    let n = match skew % 7 {
        0 => n.saturating_sub(1),
        1 => n + 1,
        _ => n,
    };
    (0..n).map(|i| if pool.is_empty() { 0.0 } else { pool[(i + offset) % pool.len()] }).collect()
}

fuzz_target!(|input: Input| {
    let config = SearchConfig {
        num_simulations: usize::from(input.num_simulations % 40),
        discount: input.discount,
        pb_c_init: input.pb_c_init,
        pb_c_base: input.pb_c_base,
        dirichlet_alpha: input.dirichlet_alpha,
        dirichlet_fraction: input.dirichlet_fraction,
        two_player: input.two_player,
        algorithm: if input.gumbel { Algorithm::Gumbel } else { Algorithm::MuZero },
        max_considered_actions: usize::from(input.max_considered_actions),
        gumbel_scale: input.gumbel_scale,
        c_visit: input.c_visit,
        c_scale: input.c_scale,
    };
    let (b, a) = (usize::from(input.batch % 9), usize::from(input.num_actions % 17));
    let skew = |k: usize| input.lengths.get(k).copied().unwrap_or(2);
    let value = values(&input.pool, b, 2, 0);
    let logits = values(&input.pool, b * a, skew(0), 1);
    let mask: Option<Vec<bool>> =
        input.mask.as_ref().filter(|m| !m.is_empty()).map(|m| (0..b * a).map(|i| m[i % m.len()]).collect());
    let roots = Roots { value: &value, logits: &logits, num_actions: a, legal_mask: mask.as_deref() };
    let mut search = BatchSearch::new();
    if search.begin_at(&config, roots, input.seed, input.first_game).is_err() {
        return;
    }
    let mut k = 1;
    while !search.is_done() {
        let reward = values(&input.pool, b, skew(k), k);
        let value = values(&input.pool, b, skew(k + 1), k + 1);
        let logits = values(&input.pool, b * a, skew(k + 2), k + 2);
        if search.advance(&reward, &value, &logits).is_err() {
            return;
        }
        k += 3;
    }
    let out = search.output().expect("a finished search has an output");
    for row in 0..b {
        let visits = &out.visit_counts[row * a..(row + 1) * a];
        assert_eq!(visits.iter().map(|&v| v as usize).sum::<usize>(), config.num_simulations);
        let action = out.action[row] as usize;
        assert!(action < a);
        if let Some(mask) = &mask {
            assert!(mask[row * a + action], "an illegal action");
        }
        let policy = &out.policy[row * a..(row + 1) * a];
        assert!(policy.iter().all(|p| p.is_finite() && *p >= 0.0), "policy {policy:?}");
    }
});
