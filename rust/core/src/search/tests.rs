//! Properties of the batched search on random deterministic tabular models.

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// A deterministic MDP used as the model: `next[s * A + a]`, `reward[s * A + a]`,
/// `value[s]`, `logits[s * A + a]`. It remembers the state of every (game, node).
#[derive(Debug, Clone)]
struct Tabular {
    num_actions: usize,
    next: Vec<usize>,
    reward: Vec<f32>,
    value: Vec<f32>,
    logits: Vec<f32>,
}

impl Tabular {
    fn random(num_states: usize, num_actions: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = num_states * num_actions;
        Tabular {
            num_actions,
            next: (0..n).map(|_| rng.random_range(0..num_states)).collect(),
            reward: (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
            value: (0..num_states).map(|_| rng.random_range(-1.0..1.0)).collect(),
            logits: (0..n).map(|_| rng.random_range(-2.0..2.0)).collect(),
        }
    }

    /// Searches from `roots` (one state per game); returns the output.
    fn search(
        &self,
        config: &SearchConfig,
        roots: &[usize],
        legal: Option<&[bool]>,
        seed: u64,
    ) -> SearchOutput {
        self.search_at(config, roots, legal, seed, 0)
    }

    /// [`Tabular::search`] for games `first_game..` of a larger population.
    fn search_at(
        &self,
        config: &SearchConfig,
        roots: &[usize],
        legal: Option<&[bool]>,
        seed: u64,
        first_game: usize,
    ) -> SearchOutput {
        let a = self.num_actions;
        let value: Vec<f32> = roots.iter().map(|&s| self.value[s]).collect();
        let logits: Vec<f32> = roots.iter().flat_map(|&s| self.logits[s * a..(s + 1) * a].to_vec()).collect();
        let mut states: Vec<Vec<usize>> = roots.iter().map(|&s| vec![s]).collect();
        let mut search = BatchSearch::new();
        let roots = Roots { value: &value, logits: &logits, num_actions: a, legal_mask: legal };
        run_at(&mut search, config, roots, seed, first_game, |leaves, eval| {
            for i in 0..leaves.game.len() {
                let game = leaves.game[i] as usize;
                let parent = states[game][leaves.parent[i] as usize];
                let sa = parent * a + leaves.action[i] as usize;
                let s = self.next[sa];
                assert_eq!(states[game].len() as i64, leaves.node[i], "node ids are dense");
                states[game].push(s);
                eval.reward[i] = self.reward[sa];
                eval.value[i] = self.value[s];
                eval.logits[i * a..(i + 1) * a].copy_from_slice(&self.logits[s * a..(s + 1) * a]);
            }
            Ok(())
        })
        .unwrap()
    }
}

fn config(algorithm: Algorithm, num_simulations: usize) -> SearchConfig {
    SearchConfig { algorithm, num_simulations, ..SearchConfig::default() }
}

fn row<T: Copy>(v: &[T], a: usize, i: usize) -> Vec<T> {
    v[i * a..(i + 1) * a].to_vec()
}

/// Bounds of any return of at most `depth` steps: `I_0 = [v]`, `I_{k+1} = [r] + g I_k`.
fn return_bounds(r: (f64, f64), v: (f64, f64), g: f64, depth: usize) -> (f64, f64) {
    let (mut lo, mut hi) = v;
    let (mut all_lo, mut all_hi) = v;
    for _ in 0..depth {
        let (x, y) = (g * lo, g * hi);
        lo = r.0 + x.min(y);
        hi = r.1 + x.max(y);
        all_lo = all_lo.min(lo);
        all_hi = all_hi.max(hi);
    }
    (all_lo, all_hi)
}

fn arb_case() -> impl Strategy<Value = (u64, usize, usize, usize, bool, bool, usize)> {
    // (model seed, states, actions, simulations, gumbel, two_player, batch)
    (any::<u64>(), 1usize..6, 1usize..6, 1usize..40, any::<bool>(), any::<bool>(), 1usize..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn invariants_hold_on_random_models(case in arb_case(), mask_seed in any::<u64>(), noise in 0.0f64..1.0) {
        let (seed, num_states, a, n, gumbel, two_player, b) = case;
        let model = Tabular::random(num_states, a, seed);
        let algorithm = if gumbel { Algorithm::Gumbel } else { Algorithm::MuZero };
        let cfg = SearchConfig { two_player, dirichlet_fraction: noise, max_considered_actions: 3, ..config(algorithm, n) };
        let mut rng = ChaCha8Rng::seed_from_u64(mask_seed);
        let roots: Vec<usize> = (0..b).map(|_| rng.random_range(0..num_states)).collect();
        let mut legal: Vec<bool> = (0..b * a).map(|_| rng.random_bool(0.6)).collect();
        for i in 0..b {
            legal[i * a + rng.random_range(0..a)] = true;
        }
        let out = model.search(&cfg, &roots, Some(&legal), 9);
        let bounds = return_bounds((-1.0, 1.0), (-1.0, 1.0), cfg.effective_discount(), n);
        for i in 0..b {
            let visits = row(&out.visit_counts, a, i);
            prop_assert_eq!(visits.iter().sum::<i32>(), n as i32);
            let policy = row(&out.policy, a, i);
            prop_assert!((policy.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            for j in 0..a {
                if !legal[i * a + j] {
                    prop_assert_eq!(visits[j], 0);
                    prop_assert_eq!(policy[j], 0.0);
                }
                if visits[j] == 0 {
                    prop_assert_eq!(out.q_values[i * a + j], 0.0);
                } else {
                    let q = f64::from(out.q_values[i * a + j]);
                    prop_assert!(q >= bounds.0 - 1e-5 && q <= bounds.1 + 1e-5);
                }
            }
            prop_assert!(legal[i * a + out.action[i] as usize]);
            let v = f64::from(out.root_value[i]);
            prop_assert!(v >= bounds.0 - 1e-5 && v <= bounds.1 + 1e-5);
            if !gumbel {
                let best = (0..a).fold(0, |best, j| if visits[j] > visits[best] { j } else { best });
                prop_assert_eq!(out.action[i] as usize, best);
            }
        }
    }

    #[test]
    fn a_game_does_not_depend_on_the_rest_of_the_batch(seed in any::<u64>(), gumbel in any::<bool>(), n in 1usize..30) {
        let model = Tabular::random(5, 4, seed);
        let algorithm = if gumbel { Algorithm::Gumbel } else { Algorithm::MuZero };
        let cfg = SearchConfig { dirichlet_fraction: 0.25, ..config(algorithm, n) };
        let first = model.search(&cfg, &[0, 1, 2], None, 4);
        let second = model.search(&cfg, &[3, 1, 4, 0], None, 4);
        // Game 1 has the same root, index and seed in both batches.
        prop_assert_eq!(row(&first.visit_counts, 4, 1), row(&second.visit_counts, 4, 1));
        prop_assert_eq!(row(&first.policy, 4, 1), row(&second.policy, 4, 1));
        prop_assert_eq!(row(&first.q_values, 4, 1), row(&second.q_values, 4, 1));
        prop_assert_eq!(first.root_value[1], second.root_value[1]);
        prop_assert_eq!(first.action[1], second.action[1]);
    }
}

#[test]
fn without_noise_a_game_searched_alone_matches_the_batch() {
    for algorithm in [Algorithm::MuZero, Algorithm::Gumbel] {
        let model = Tabular::random(6, 3, 11);
        let cfg = SearchConfig { gumbel_scale: 0.0, ..config(algorithm, 25) };
        let batch = model.search(&cfg, &[5, 2, 0], None, 1);
        let alone = model.search(&cfg, &[2], None, 99);
        assert_eq!(row(&batch.visit_counts, 3, 1), alone.visit_counts);
        assert_eq!(row(&batch.policy, 3, 1), alone.policy);
        assert_eq!(batch.action[1], alone.action[0]);
    }
}

#[test]
fn a_population_searched_in_parts_matches_one_search_of_the_whole() {
    let model = Tabular::random(7, 4, 5);
    let roots: Vec<usize> = (0..10).map(|i| (i * 3) % 7).collect();
    for algorithm in [Algorithm::MuZero, Algorithm::Gumbel] {
        // Root noise on: each game's stream must follow its index in the population.
        let cfg = SearchConfig { dirichlet_fraction: 0.25, ..config(algorithm, 20) };
        let whole = model.search(&cfg, &roots, None, 9);
        let (first, second) = roots.split_at(4);
        let parts = [model.search_at(&cfg, first, None, 9, 0), model.search_at(&cfg, second, None, 9, 4)];
        let mut rows = 0;
        for part in &parts {
            for i in 0..part.batch {
                assert_eq!(row(&part.visit_counts, 4, i), row(&whole.visit_counts, 4, rows + i));
                assert_eq!(row(&part.policy, 4, i), row(&whole.policy, 4, rows + i));
                assert_eq!(part.action[i], whole.action[rows + i]);
            }
            rows += part.batch;
        }
        // Without the offset the second part would reuse the first part's streams.
        let unshifted = model.search_at(&cfg, second, None, 9, 0);
        assert_ne!(unshifted.visit_counts, parts[1].visit_counts);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let model = Tabular::random(8, 5, 3);
    let roots: Vec<usize> = (0..PARALLEL_MIN_GAMES + 7).map(|i| i % 8).collect();
    for algorithm in [Algorithm::MuZero, Algorithm::Gumbel] {
        let cfg = SearchConfig { dirichlet_fraction: 0.25, ..config(algorithm, 30) };
        let outputs: Vec<SearchOutput> = [1, 2, 3]
            .iter()
            .map(|&threads| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| model.search(&cfg, &roots, None, 17))
            })
            .collect();
        assert_eq!(outputs[0], outputs[1]);
        assert_eq!(outputs[0], outputs[2]);
        // The seed matters: noise differs with another one.
        let other = model.search(&cfg, &roots, None, 18);
        assert_ne!(outputs[0], other);
    }
}

/// Optimal action values of a discounted deterministic MDP by value iteration.
fn optimal_q(model: &Tabular, num_states: usize, discount: f64) -> Vec<f64> {
    let a = model.num_actions;
    let mut v = vec![0.0; num_states];
    let mut q = vec![0.0; num_states * a];
    for _ in 0..2000 {
        for sa in 0..num_states * a {
            q[sa] = f64::from(model.reward[sa]) + discount * v[model.next[sa]];
        }
        for s in 0..num_states {
            v[s] = q[s * a..(s + 1) * a].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        }
    }
    q
}

#[test]
fn with_a_perfect_model_and_enough_simulations_the_action_is_optimal() {
    // Perfect dynamics, rewards and values (V* by value iteration), uninformative
    // priors. PUCT's means include exploratory returns, so they approach Q* only as
    // the search concentrates; 200 simulations settle every clear (gap >= 0.05) case.
    let (num_states, a, discount) = (6, 3, 0.5);
    let mut checked = 0;
    for seed in 0..40 {
        let mut model = Tabular::random(num_states, a, seed);
        model.logits.fill(0.0);
        let q = optimal_q(&model, num_states, discount);
        for s in 0..num_states {
            model.value[s] = q[s * a..(s + 1) * a].iter().copied().fold(f64::NEG_INFINITY, f64::max) as f32;
        }
        let roots: Vec<usize> = (0..num_states).collect();
        let cfg = SearchConfig { discount, ..config(Algorithm::MuZero, 200) };
        let out = model.search(&cfg, &roots, None, 0);
        for s in 0..num_states {
            let qs = &q[s * a..(s + 1) * a];
            let best = qs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let second = qs.iter().copied().filter(|&x| x < best - 1e-9).fold(f64::NEG_INFINITY, f64::max);
            if best - second < 0.05 {
                continue; // a near-tie: either answer is fine
            }
            checked += 1;
            let chosen = out.action[s] as usize;
            assert!(qs[chosen] >= best - 1e-6, "seed {seed} state {s}: {qs:?} chose {chosen}");
        }
    }
    assert!(checked > 150, "only {checked} states had a clear best action");
}

#[test]
fn puct_follows_the_contract_on_a_two_step_example() {
    // A = 2, root logits equal, rewards 0, values: root 0, child of action a has value v[a].
    let cfg = SearchConfig { discount: 1.0, ..config(Algorithm::MuZero, 3) };
    let mut search = BatchSearch::new();
    let roots = Roots { value: &[0.0], logits: &[0.0, 0.0], num_actions: 2, legal_mask: None };
    search.begin(&cfg, roots, 0).unwrap();
    // Simulation 0: all Qn = 0, equal priors -> lowest index.
    assert_eq!(
        (search.requests().parent[0], search.requests().action[0], search.requests().node[0]),
        (0, 0, 1)
    );
    search.advance(&[0.0], &[1.0], &[0.0, 0.0]).unwrap();
    // min = max = 1 (one Q recorded) -> Qn = 0; action 1 has the larger exploration term.
    assert_eq!(
        (search.requests().parent[0], search.requests().action[0], search.requests().node[0]),
        (0, 1, 2)
    );
    search.advance(&[0.0], &[-1.0], &[0.0, 0.0]).unwrap();
    // Q(root,0) = 1 -> Qn 1, Q(root,1) = -1 -> Qn 0; action 0 wins and descends to node 1.
    assert_eq!(
        (search.requests().parent[0], search.requests().action[0], search.requests().node[0]),
        (1, 0, 3)
    );
    search.advance(&[0.5], &[0.5], &[0.0, 0.0]).unwrap();
    let out = search.output().unwrap();
    assert_eq!(out.visit_counts, [2, 1]);
    assert_eq!(out.policy, [2.0 / 3.0, 1.0 / 3.0]);
    // Root: W = 0 + 1 + (-1) + (0.5 + 0.5) = 1, N = 4.
    assert_eq!(out.root_value, [0.25]);
    // Node 1: W = 1 + 1 = 2, N = 2 -> Q = 1; node 2: Q = -1.
    assert_eq!(out.q_values, [1.0, -1.0]);
    assert_eq!(out.action, [0]);
    assert!(search.is_done());
    assert!(search.advance(&[0.0], &[0.0], &[0.0, 0.0]).is_err());
}

#[test]
fn two_player_negates_the_discount() {
    let cfg = SearchConfig { discount: 1.0, two_player: true, ..config(Algorithm::MuZero, 1) };
    let mut search = BatchSearch::new();
    let roots = Roots { value: &[0.0], logits: &[0.0], num_actions: 1, legal_mask: None };
    search.begin(&cfg, roots, 0).unwrap();
    search.advance(&[0.25], &[1.0], &[0.0]).unwrap();
    let out = search.output().unwrap();
    // The mover gets r = 0.25, then the opponent's value 1 counts as -1.
    assert_eq!(out.q_values, [0.25 - 1.0]);
    assert_eq!(out.root_value, [(0.0 + 0.25 - 1.0) / 2.0]);
}

#[test]
fn bad_inputs_are_rejected_before_anything_changes() {
    let cfg = config(Algorithm::MuZero, 4);
    let mut search = BatchSearch::new();
    let ok = Roots { value: &[0.0, 0.0], logits: &[0.0; 6], num_actions: 3, legal_mask: None };
    let err = |r: Result<()>| r.unwrap_err().to_string();
    assert!(err(search.begin(&cfg, Roots { value: &[], logits: &[], ..ok }, 0)).starts_with("root_value:"));
    assert!(err(search.begin(&cfg, Roots { logits: &[0.0; 5], ..ok }, 0)).starts_with("root_logits:"));
    assert!(err(search.begin(&cfg, Roots { value: &[0.0, f32::NAN], ..ok }, 0)).contains("NaN"));
    assert!(err(search.begin(&cfg, Roots { logits: &[0.0, f32::INFINITY, 0.0, 0.0, 0.0, 0.0], ..ok }, 0))
        .starts_with("root_logits:"));
    let no_legal = [true, false, false, false, false, false];
    assert_eq!(
        err(search.begin(&cfg, Roots { legal_mask: Some(&no_legal), ..ok }, 0)),
        "legal_mask: expected at least one legal action in every row, got none in row 1"
    );
    let bad = SearchConfig { num_simulations: 0, ..cfg.clone() };
    assert!(err(search.begin(&bad, ok, 0)).starts_with("num_simulations:"));
    let bad = SearchConfig { discount: f64::NAN, ..cfg.clone() };
    assert!(err(search.begin(&bad, ok, 0)).starts_with("discount:"));
    assert!(search.is_done(), "nothing began");

    search.begin(&cfg, ok, 0).unwrap();
    let before = search.requests().clone();
    assert!(err(search.advance(&[0.0], &[0.0, 0.0], &[0.0; 6])).starts_with("reward:"));
    assert!(err(search.advance(&[0.0; 2], &[0.0, f32::NAN], &[0.0; 6])).starts_with("value:"));
    assert!(err(search.advance(&[0.0; 2], &[0.0; 2], &[0.0; 7])).starts_with("logits:"));
    assert_eq!(search.requests().node, before.node, "a rejected step changes nothing");
    assert!(search.output().is_err());
}

#[test]
fn config_validation_names_the_field() {
    let bad = [
        (SearchConfig { pb_c_base: 0.0, ..SearchConfig::default() }, "pb_c_base"),
        (SearchConfig { dirichlet_alpha: 0.0, ..SearchConfig::default() }, "dirichlet_alpha"),
        (SearchConfig { dirichlet_fraction: 1.5, ..SearchConfig::default() }, "dirichlet_fraction"),
        (SearchConfig { max_considered_actions: 0, ..SearchConfig::default() }, "max_considered_actions"),
        (SearchConfig { gumbel_scale: -1.0, ..SearchConfig::default() }, "gumbel_scale"),
        (SearchConfig { c_visit: f64::INFINITY, ..SearchConfig::default() }, "c_visit"),
        (SearchConfig { c_scale: -0.1, ..SearchConfig::default() }, "c_scale"),
        (SearchConfig { c_scale: MAX_GUMBEL_CONSTANT * 10.0, ..SearchConfig::default() }, "c_scale"),
        (SearchConfig { c_visit: f64::MAX, ..SearchConfig::default() }, "c_visit"),
        (SearchConfig { pb_c_init: -0.1, ..SearchConfig::default() }, "pb_c_init"),
    ];
    for (cfg, name) in bad {
        assert!(cfg.validate().unwrap_err().to_string().starts_with(&format!("{name}:")));
    }
    assert!(SearchConfig::default().validate().is_ok());
    assert_eq!("gumbel".parse::<Algorithm>().unwrap(), Algorithm::Gumbel);
    assert!("alphazero".parse::<Algorithm>().is_err());
}

#[test]
fn a_reused_search_gives_the_same_result_as_a_fresh_one() {
    let model = Tabular::random(5, 4, 8);
    let cfg = config(Algorithm::Gumbel, 20);
    let value: Vec<f32> = vec![0.1, -0.3];
    let logits: Vec<f32> = (0..8).map(|i| i as f32 * 0.1).collect();
    let roots = Roots { value: &value, logits: &logits, num_actions: 4, legal_mask: None };
    let constant = |_: &LeafRequests, e: &mut Evaluation| {
        e.reward.fill(0.1);
        e.value.fill(0.2);
        e.logits.fill(0.0);
        Ok(())
    };
    let mut reused = BatchSearch::new();
    // Grow it with a bigger search first.
    let big = model.search(&config(Algorithm::MuZero, 60), &[0, 1, 2, 3, 4], None, 0);
    assert_eq!(big.batch, 5);
    run(
        &mut reused,
        &config(Algorithm::MuZero, 60),
        Roots { value: &[0.0; 5], logits: &[0.0; 20], ..roots },
        0,
        constant,
    )
    .unwrap();
    let again = run(&mut reused, &cfg, roots, 5, constant).unwrap();
    let fresh = run(&mut BatchSearch::new(), &cfg, roots, 5, constant).unwrap();
    assert_eq!(again, fresh);
}
