//! Fuzzing of the search's entry points on stable Rust: `BatchSearch::begin_at`,
//! `advance` and `output` (what Python's `mzero.search` drives), and `run_at`,
//! with configurations, batch shapes, legal masks and model outputs drawn from
//! values that break code: NaN, infinities, negative and out-of-range numbers,
//! the extremes of `f32`, mismatched lengths, rows without a legal action, calls
//! out of order. Every call must return `Ok` or `Err`, never panic, under a capped
//! address space; a finished search must hand out visit counts that add up to
//! `num_simulations`, legal actions and finite values.
//!
//! `MZERO_FUZZ_CASES=100000 cargo test -p mzero-core --test fuzz_search -- --nocapture`
//! runs a longer campaign and prints the executions, time and peak memory.

mod common;

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mzero_core::search::{self, Algorithm, BatchSearch, Evaluation, Roots, SearchConfig, MAX_SIMULATIONS};
use mzero_core::Error;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Floats that break arithmetic, and ordinary ones.
fn float32() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -10.0f32..10.0,
        1 => prop::sample::select(vec![
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            f32::from_bits(1),
            0.0,
            -0.0,
            1e30,
            -1e30,
        ]),
    ]
}

fn float64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0f64..2.0,
        1 => prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            -1.0,
            0.0,
            1.0,
            1e-300,
            1e300,
            1e6,
        ]),
    ]
}

fn config() -> impl Strategy<Value = SearchConfig> {
    let simulations = prop_oneof![
        8 => 1usize..12,
        1 => prop::sample::select(vec![0, MAX_SIMULATIONS + 1, usize::MAX]),
    ];
    let considered = prop_oneof![4 => 1usize..6, 1 => prop::sample::select(vec![0, usize::MAX])];
    (
        (simulations, float64(), float64(), float64(), float64(), float64()),
        (any::<bool>(), any::<bool>(), considered, float64(), float64(), float64()),
    )
        .prop_map(
            |(
                (num_simulations, discount, pb_c_init, pb_c_base, dirichlet_alpha, dirichlet_fraction),
                (two_player, gumbel, max_considered_actions, gumbel_scale, c_visit, c_scale),
            )| SearchConfig {
                num_simulations,
                discount,
                pb_c_init,
                pb_c_base: pb_c_base * 20000.0,
                dirichlet_alpha,
                dirichlet_fraction,
                two_player,
                algorithm: if gumbel { Algorithm::Gumbel } else { Algorithm::MuZero },
                max_considered_actions,
                gumbel_scale,
                c_visit: c_visit * 50.0,
                c_scale,
            },
        )
}

/// How one call's inputs go wrong (most of the time they do not).
#[derive(Debug, Clone, Copy)]
enum Shape {
    Right,
    Short,
    Long,
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![30 => Just(Shape::Right), 1 => Just(Shape::Short), 1 => Just(Shape::Long)]
}

/// `n` values cycled from `pool`, one more or less as `shape` says.
fn values(pool: &[f32], n: usize, shape: Shape, offset: usize) -> Vec<f32> {
    let n = match shape {
        Shape::Right => n,
        Shape::Short => n.saturating_sub(1),
        Shape::Long => n + 1,
    };
    (0..n).map(|i| pool[(i + offset) % pool.len()]).collect()
}

#[derive(Debug, Clone)]
struct Case {
    config: SearchConfig,
    batch: usize,
    num_actions: usize,
    /// Roots and model outputs are drawn from here.
    pool: Vec<f32>,
    logits_shape: Shape,
    /// A legal mask (cycled), and its shape.
    mask: Option<(Vec<bool>, Shape)>,
    seed: u64,
    first_game: usize,
    /// The shapes of each `advance`'s (reward, value, logits).
    steps: Vec<(Shape, Shape, Shape)>,
    /// Call `output` before the search finished, and `advance` after.
    out_of_order: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let batch = prop_oneof![8 => 1usize..5, 1 => Just(0usize)];
    let num_actions = prop_oneof![8 => 1usize..7, 1 => prop::sample::select(vec![0, 1 << 40, usize::MAX])];
    let pool = prop_oneof![
        3 => prop::collection::vec(-5.0f32..5.0, 1..8),
        1 => prop::collection::vec(float32(), 1..8),
    ];
    let mask =
        prop::option::weighted(0.5, (prop::collection::vec(prop::bool::weighted(0.7), 1..12), shape()));
    let first_game = prop_oneof![8 => 0usize..100, 1 => Just(usize::MAX - 2)];
    (
        (config(), batch, num_actions, pool, shape(), mask),
        (any::<u64>(), first_game, prop::collection::vec((shape(), shape(), shape()), 12), any::<bool>()),
    )
        .prop_map(
            |(
                (config, batch, num_actions, pool, logits_shape, mask),
                (seed, first_game, steps, out_of_order),
            )| {
                Case {
                    config,
                    batch,
                    num_actions,
                    pool,
                    logits_shape,
                    mask,
                    seed,
                    first_game,
                    steps,
                    out_of_order,
                }
            },
        )
}

/// The legal mask of `case`, `[B, A]` (cycled from its pattern) or mis-sized.
fn legal_mask(case: &Case) -> Option<Vec<bool>> {
    let (pattern, shape) = case.mask.as_ref()?;
    let n = case.batch.checked_mul(case.num_actions).filter(|&n| n <= 1 << 16)?;
    let n = match shape {
        Shape::Right => n,
        Shape::Short => n.saturating_sub(1),
        Shape::Long => n + 1,
    };
    Some((0..n).map(|i| pattern[i % pattern.len()]).collect())
}

/// Checks a finished search's output against the rules every search keeps.
fn check_output(case: &Case, mask: Option<&[bool]>, out: &search::SearchOutput) {
    let (b, a, n) = (case.batch, case.num_actions, case.config.num_simulations);
    assert_eq!((out.batch, out.num_actions), (b, a));
    assert_eq!(out.visit_counts.len(), b * a);
    for row in 0..b {
        let visits = &out.visit_counts[row * a..(row + 1) * a];
        assert!(visits.iter().all(|&v| v >= 0));
        assert_eq!(visits.iter().map(|&v| v as usize).sum::<usize>(), n, "row {row}");
        let action = usize::try_from(out.action[row]).expect("a non-negative action");
        assert!(action < a);
        if let Some(mask) = mask {
            let legal = &mask[row * a..(row + 1) * a];
            assert!(legal[action], "row {row}: illegal action {action}");
            for (x, &l) in visits.iter().zip(legal) {
                assert!(l || *x == 0, "row {row}: an illegal action visited");
            }
        }
        let policy = &out.policy[row * a..(row + 1) * a];
        assert!(policy.iter().all(|p| p.is_finite() && *p >= 0.0), "row {row}: policy {policy:?}");
        let sum: f32 = policy.iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "row {row}: policy sums to {sum}");
    }
    assert!(out.root_value.iter().all(|v| !v.is_nan()), "root values {:?}", out.root_value);
    assert!(out.q_values.iter().all(|q| !q.is_nan()), "q values {:?}", out.q_values);
}

/// Drives one search through `begin_at`, `advance` and `output` as `case` says.
fn drive(case: &Case, search: &mut BatchSearch) {
    let (b, a) = (case.batch, case.num_actions);
    let Some(rows) = b.checked_mul(a).filter(|&n| n <= 1 << 16) else {
        // Too large to build: the shapes must be refused before anything is read.
        let roots = Roots { value: &[0.0], logits: &[0.0], num_actions: a, legal_mask: None };
        assert!(search.begin_at(&case.config, roots, case.seed, case.first_game).is_err());
        return;
    };
    let value = values(&case.pool, b, Shape::Right, 0);
    let logits = values(&case.pool, rows, case.logits_shape, 1);
    let mask = legal_mask(case);
    let roots = Roots { value: &value, logits: &logits, num_actions: a, legal_mask: mask.as_deref() };
    if search.begin_at(&case.config, roots, case.seed, case.first_game).is_err() {
        return;
    }
    let mut failed = false;
    for (k, &(r, v, l)) in case.steps.iter().cycle().enumerate() {
        if search.is_done() {
            break;
        }
        if case.out_of_order && k == 1 {
            assert!(search.output().is_err(), "output of an unfinished search");
        }
        let requests = search.requests();
        assert_eq!(requests.node.len(), b);
        assert!(requests.action.iter().all(|&x| (0..a as i64).contains(&x)));
        let reward = values(&case.pool, b, r, k + 2);
        let value = values(&case.pool, b, v, k + 3);
        let logits = values(&case.pool, rows, l, k + 4);
        failed |= search.advance(&reward, &value, &logits).is_err();
        if failed {
            break;
        }
    }
    if failed {
        return;
    }
    if case.out_of_order {
        assert!(search.advance(&[0.0], &[0.0], &[0.0]).is_err(), "advance of a finished search");
    }
    let out = search.output().expect("a finished search has an output");
    check_output(case, mask.as_deref(), &out);
}

/// [`search::run_at`] with a model that answers from the pool (or fails).
fn run_whole(case: &Case, search: &mut BatchSearch) {
    let (b, a) = (case.batch, case.num_actions);
    let Some(rows) = b.checked_mul(a).filter(|&n| n <= 1 << 16) else { return };
    let value = values(&case.pool, b, Shape::Right, 0);
    let logits = values(&case.pool, rows, case.logits_shape, 1);
    let mask = legal_mask(case);
    let roots = Roots { value: &value, logits: &logits, num_actions: a, legal_mask: mask.as_deref() };
    let mut k = 0;
    let result = search::run_at(
        search,
        &case.config,
        roots,
        case.seed,
        case.first_game,
        |_, eval: &mut Evaluation| {
            k += 1;
            if case.out_of_order && k == 3 {
                return Err(Error::invalid("recurrent_fn", "an answer", "an exception"));
            }
            for (i, x) in
                eval.reward.iter_mut().chain(eval.value.iter_mut()).chain(eval.logits.iter_mut()).enumerate()
            {
                *x = case.pool[(i + k) % case.pool.len()];
            }
            Ok(())
        },
    );
    if let Ok(out) = result {
        check_output(case, mask.as_deref(), &out);
    }
}

#[test]
fn search_inputs_give_results_or_errors() {
    common::cap_address_space();
    let executions = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let start = Instant::now();
    let config = Config { cases: common::cases(3000), failure_persistence: None, ..Config::default() };
    let reused = RefCell::new(BatchSearch::new());
    TestRunner::new(config)
        .run(&case(), |case| {
            executions.fetch_add(1, Ordering::Relaxed);
            // a fresh search, and one reused across cases (as Python's pool does)
            drive(&case, &mut BatchSearch::new());
            let mut reused = reused.borrow_mut();
            drive(&case, &mut reused);
            run_whole(&case, &mut reused);
            if reused.output().is_ok() {
                finished.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
        .expect("no search input panics");
    common::report("fuzz_search", executions.into_inner(), start.elapsed());
    eprintln!("fuzz_search: {} of them finished a whole search", finished.into_inner());
}
