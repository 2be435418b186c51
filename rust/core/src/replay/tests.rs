//! Tests of the replay buffer against a direct transcription of the target formulas.

use super::*;
use proptest::prelude::*;

/// A game owned by the test.
#[derive(Debug, Clone)]
struct Game {
    observations: ObsVec,
    obs_shape: Vec<usize>,
    actions: Vec<i64>,
    rewards: Vec<f32>,
    root_values: Vec<f32>,
    policies: Vec<f32>,
    terminated: bool,
    bootstrap_value: f32,
    priorities: Option<Vec<f32>>,
    legal_masks: Option<Vec<bool>>,
    segment: Option<(usize, usize)>,
}

impl Game {
    fn steps(&self) -> usize {
        self.actions.len()
    }

    fn view(&self) -> GameView<'_> {
        let mut shape = vec![self.steps() + 1];
        shape.extend_from_slice(&self.obs_shape);
        GameView {
            observations: ObsArray { shape, data: self.observations.as_slice() },
            actions: ArrayRef::vector(&self.actions),
            rewards: ArrayRef::vector(&self.rewards),
            root_values: ArrayRef::vector(&self.root_values),
            policies: ArrayRef::matrix(self.steps(), &self.policies),
            terminated: self.terminated,
            bootstrap_value: self.bootstrap_value,
            priorities: self.priorities.as_deref().map(ArrayRef::vector),
            legal_masks: self.legal_masks.as_deref().map(|m| ArrayRef::matrix(self.steps(), m)),
            segment: self.segment,
        }
    }

    /// Frame `t`, as f32.
    fn frame(&self, t: usize) -> Vec<f32> {
        let len: usize = self.obs_shape.iter().product();
        match &self.observations {
            ObsVec::Float32(x) => x[t * len..(t + 1) * len].to_vec(),
            ObsVec::Uint8(x) => x[t * len..(t + 1) * len].iter().map(|&v| f32::from(v)).collect(),
        }
    }
}

/// A deterministic game of `steps` transitions, distinct per `salt`.
fn make_game(steps: usize, obs_shape: &[usize], num_actions: usize, salt: u32) -> Game {
    let frame_len: usize = obs_shape.iter().product();
    let s = salt as f32;
    let policies = (0..steps)
        .flat_map(|t| {
            let raw: Vec<f32> =
                (0..num_actions).map(|a| 1.0 + ((t + a + salt as usize) % 3) as f32).collect();
            let sum: f32 = raw.iter().sum();
            raw.into_iter().map(move |p| p / sum)
        })
        .collect();
    Game {
        observations: ObsVec::Float32((0..(steps + 1) * frame_len).map(|i| s * 1000.0 + i as f32).collect()),
        obs_shape: obs_shape.to_vec(),
        actions: (0..steps).map(|t| ((t + salt as usize) % num_actions) as i64).collect(),
        rewards: (0..steps).map(|t| (t as f32 + 1.0) * 0.5 - s).collect(),
        root_values: (0..steps).map(|t| s * 0.25 - t as f32).collect(),
        policies,
        terminated: salt.is_multiple_of(2),
        bootstrap_value: 3.0 + s,
        priorities: None,
        legal_masks: None,
        segment: None,
    }
}

/// `z_t` by walking the game: add discounted rewards one step at a time until `n`
/// steps are taken or the game ends, then add the discounted value where the walk
/// stopped (`bootstrap_value` at the end of a truncated game, 0 at a terminal state).
fn reference_value(game: &Game, t: usize, g: f64, n: usize) -> f64 {
    let (mut z, mut weight, mut p) = (0.0, 1.0, t);
    while p < game.steps() && p - t < n {
        z += weight * f64::from(game.rewards[p]);
        weight *= g;
        p += 1;
    }
    let value = match game.root_values.get(p) {
        Some(&v) => f64::from(v),
        None if game.terminated => 0.0,
        None => f64::from(game.bootstrap_value),
    };
    z + weight * value
}

/// `v` at position `p` of `game` (`bootstrap_value` at `T`).
fn value_at(game: &Game, p: usize) -> f64 {
    f64::from(game.root_values.get(p).copied().unwrap_or(game.bootstrap_value))
}

/// The action that led to frame `o_j` of `game`: `a_{j-1}`, -1 for `o_0`.
fn action_before(game: &Game, j: usize) -> i64 {
    if j == 0 {
        -1
    } else {
        game.actions[j - 1]
    }
}

/// Checks every field of every row of `batch` against the formulas.
fn check_batch(buffer: &ReplayBuffer, games: &[(u64, Game)], batch: &Batch, batch_size: usize) {
    let c = buffer.config();
    let (k_steps, a, stack) = (c.unroll_steps, c.num_actions, c.stack);
    let g = if c.two_player { -c.discount } else { c.discount };
    let frame_len = c.frame_len();
    let observation: Vec<f32> = match &batch.observation {
        ObsVec::Float32(x) => x.clone(),
        ObsVec::Uint8(x) => x.iter().map(|&v| f32::from(v)).collect(),
    };
    assert_eq!(observation.len(), batch_size * stack * frame_len);
    assert_eq!(batch.actions.len(), batch_size * k_steps);
    for b in 0..batch_size {
        let id = batch.game_id[b] as u64;
        let (_, game) = games.iter().find(|(gid, _)| *gid == id).expect("sampled game is one we added");
        let t = batch.position[b] as usize;
        let steps = game.steps();
        assert!(t < steps);
        // index = first index of the game + t; the first index is the sum of earlier lengths.
        let first: usize = games.iter().take_while(|(gid, _)| *gid != id).map(|(_, g)| g.steps()).sum();
        assert_eq!(batch.index[b] as usize, first + t);
        assert_eq!(batch.terminated[b], game.terminated);
        for k in 0..=k_steps {
            let row = b * (k_steps + 1) + k;
            let alive = t + k < steps;
            assert_eq!(batch.mask[row], if alive { 1.0 } else { 0.0 });
            let value = if alive { reference_value(game, t + k, g, c.td_steps) } else { 0.0 };
            assert!(
                (f64::from(batch.target_value[row]) - value).abs() <= 1e-4 * value.abs().max(1.0),
                "value row {b} k {k}: {} vs {value}",
                batch.target_value[row]
            );
            let reward = if k > 0 && t + k <= steps { game.rewards[t + k - 1] } else { 0.0 };
            assert_eq!(batch.target_reward[row], reward);
            let policy = &batch.target_policy[row * a..(row + 1) * a];
            if alive {
                assert_eq!(policy, &game.policies[(t + k) * a..(t + k + 1) * a]);
            } else {
                assert!(policy.iter().all(|&p| p == 0.0));
            }
            if let Some(re) = &batch.reanalysis {
                // the parts recombine to the target, and name the walk's end
                let p = re.bootstrap_position[row];
                let v = if p >= 0 { value_at(game, p as usize) } else { 0.0 };
                let recombined = f64::from(re.reward_sum[row]) + f64::from(re.bootstrap_discount[row]) * v;
                assert!((recombined - value).abs() <= 1e-4 * value.abs().max(1.0), "row {b} k {k}");
                let walk_end = (t + k + c.td_steps).min(steps);
                let bootstraps = alive && (walk_end < steps || !game.terminated);
                assert_eq!(p, if bootstraps { walk_end as i64 } else { -1 }, "row {b} k {k}");
                if !bootstraps {
                    assert_eq!(re.bootstrap_discount[row], 0.0);
                }
                let legal = &re.legal_mask[row * a..(row + 1) * a];
                match (&game.legal_masks, alive) {
                    (Some(m), true) => assert_eq!(legal, &m[(t + k) * a..(t + k + 1) * a]),
                    _ => assert!(legal.iter().all(|&l| l)),
                }
                let bootstrap_obs: Vec<f32> = match &re.bootstrap_observation {
                    ObsVec::Float32(x) => x.clone(),
                    ObsVec::Uint8(x) => x.iter().map(|&v| f32::from(v)).collect(),
                };
                let end = if p >= 0 { p as usize } else { steps };
                for s in 0..stack {
                    let j = (end + s + 1).saturating_sub(stack);
                    let at = ((row * stack) + s) * frame_len;
                    assert_eq!(
                        &bootstrap_obs[at..at + frame_len],
                        &game.frame(j)[..],
                        "bootstrap {k} row {b}"
                    );
                    assert_eq!(re.bootstrap_observation_actions[row * stack + s], action_before(game, j));
                }
            }
        }
        for k in 0..k_steps {
            let action = batch.actions[b * k_steps + k];
            if t + k < steps {
                assert_eq!(action, game.actions[t + k]);
            } else {
                assert!((0..a as i64).contains(&action));
            }
        }
        for s in 0..stack {
            let j = (t + s + 1).saturating_sub(stack);
            let at = (b * stack + s) * frame_len;
            assert_eq!(&observation[at..at + frame_len], &game.frame(j)[..], "frame {s} of row {b}");
            assert_eq!(batch.observation_actions[b * stack + s], action_before(game, j), "row {b}");
        }
        if let Some(next) = &batch.next_observation {
            let next: Vec<f32> = match next {
                ObsVec::Float32(x) => x.clone(),
                ObsVec::Uint8(x) => x.iter().map(|&v| f32::from(v)).collect(),
            };
            assert_eq!(next.len(), batch_size * k_steps * stack * frame_len);
            for k in 1..=k_steps {
                // the stack ending at o_{t+k}, or at o_T past the end
                let end = (t + k).min(steps);
                for s in 0..stack {
                    let j = (end + s + 1).saturating_sub(stack);
                    let at = ((b * k_steps + k - 1) * stack + s) * frame_len;
                    assert_eq!(&next[at..at + frame_len], &game.frame(j)[..], "next {k} frame {s} row {b}");
                    let actions = batch.next_observation_actions.as_ref().expect("with next_observation");
                    assert_eq!(actions[(b * k_steps + k - 1) * stack + s], action_before(game, j));
                }
            }
        }
    }
}

fn config(capacity: usize, obs_shape: &[usize], num_actions: usize) -> ReplayConfig {
    ReplayConfig::new(capacity, obs_shape.to_vec(), num_actions)
}

#[test]
fn config_fields_are_checked() {
    let ok = config(10, &[4], 2);
    assert!(ReplayBuffer::new(ok.clone()).is_ok());
    let cases: Vec<(&str, ReplayConfig)> = vec![
        ("capacity", ReplayConfig { capacity: 0, ..ok.clone() }),
        ("obs_shape", ReplayConfig { obs_shape: vec![4, 0], ..ok.clone() }),
        ("num_actions", ReplayConfig { num_actions: 0, ..ok.clone() }),
        ("discount", ReplayConfig { discount: 1.5, ..ok.clone() }),
        ("discount", ReplayConfig { discount: f64::NAN, ..ok.clone() }),
        ("alpha", ReplayConfig { alpha: -1.0, ..ok.clone() }),
        ("alpha", ReplayConfig { alpha: f64::NAN, ..ok.clone() }),
        ("alpha", ReplayConfig { alpha: MAX_ALPHA * 1.01, ..ok.clone() }),
        ("obs_shape", ReplayConfig { obs_shape: vec![1 << 32, 1 << 32], ..ok.clone() }),
        ("beta", ReplayConfig { beta: f64::INFINITY, ..ok.clone() }),
        ("stack", ReplayConfig { stack: 0, ..ok.clone() }),
        ("stack", ReplayConfig { stack: MAX_STACK + 1, ..ok.clone() }),
        ("unroll_steps", ReplayConfig { unroll_steps: MAX_UNROLL_STEPS + 1, ..ok.clone() }),
        ("capacity", ReplayConfig { capacity: usize::MAX / 2, obs_shape: vec![1 << 20], ..ok }),
    ];
    for (name, bad) in cases {
        let err = ReplayBuffer::new(bad).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{name}: expected")), "{err}");
    }
}

#[test]
fn a_scalar_observation_has_one_element() {
    let mut buffer = ReplayBuffer::new(config(10, &[], 2)).unwrap();
    let game = make_game(3, &[], 2, 1);
    buffer.add_game(&game.view()).unwrap();
    let batch = buffer.sample(8, 0).unwrap();
    check_batch(&buffer, &[(0, game)], &batch, 8);
}

#[test]
fn capacity_evicts_the_oldest_whole_games() {
    let mut buffer = ReplayBuffer::new(config(10, &[2], 3)).unwrap();
    let lengths = [4, 3, 2, 5, 1, 10, 3];
    let mut games = Vec::new();
    for (i, &steps) in lengths.iter().enumerate() {
        let game = make_game(steps, &[2], 3, i as u32);
        assert_eq!(buffer.add_game(&game.view()).unwrap(), i as u64);
        games.push((i as u64, game));
        // Keep the newest games whose lengths fit in the capacity.
        let mut kept = 0;
        let mut expected_games = 0;
        for &s in lengths[..=i].iter().rev() {
            if kept + s > 10 {
                break;
            }
            kept += s;
            expected_games += 1;
        }
        assert_eq!((buffer.len(), buffer.num_games()), (kept, expected_games));
        assert_eq!(buffer.next_index(), lengths[..=i].iter().sum::<usize>() as u64);
        assert_eq!(buffer.oldest_index(), buffer.next_index() - kept as u64);
        let batch = buffer.sample(32, i as u64).unwrap();
        check_batch(&buffer, &games, &batch, 32);
        let oldest_alive = games.len() - expected_games;
        assert!(batch.game_id.iter().all(|&id| id as usize >= oldest_alive));
    }
}

#[test]
fn memory_is_bounded_by_the_capacity() {
    let mut buffer = ReplayBuffer::new(ReplayConfig { alpha: 0.6, ..config(1000, &[8], 4) }).unwrap();
    let mut at_capacity = 0;
    for i in 0..400u32 {
        let game = make_game(1 + (i as usize * 7) % 50, &[8], 4, i);
        buffer.add_game(&game.view()).unwrap();
        if i == 100 {
            at_capacity = buffer.nbytes();
        }
    }
    assert!(buffer.len() <= 1000);
    // Columns and tree were full after game 100; only the game records may still grow.
    let per_transition = 8 * 4 + 8 + 4 * 4 + 4 * 4;
    assert!(buffer.nbytes() <= at_capacity + 1000 * (8 * 4 + 64), "{} vs {at_capacity}", buffer.nbytes());
    assert!(buffer.nbytes() <= 1000 * (per_transition + 8 * 4 + 64) + 16 * 1024, "{}", buffer.nbytes());
}

#[test]
fn uint8_frames_keep_their_dtype_and_stack() {
    let cfg = ReplayConfig { stack: 3, unroll_steps: 2, ..config(50, &[2, 2], 2) };
    let mut buffer = ReplayBuffer::new(cfg).unwrap();
    let mut game = make_game(6, &[2, 2], 2, 0);
    game.observations = ObsVec::Uint8((0..7 * 4).map(|i| i as u8).collect());
    buffer.add_game(&game.view()).unwrap();
    assert_eq!(buffer.obs_dtype(), Some(ObsDtype::Uint8));
    let batch = buffer.sample(40, 1).unwrap();
    assert!(matches!(batch.observation, ObsVec::Uint8(_)));
    check_batch(&buffer, &[(0, game.clone())], &batch, 40);
    let with_next = buffer.sample_with_next_observations(40, 1).unwrap();
    assert!(matches!(with_next.next_observation, Some(ObsVec::Uint8(_))));
    check_batch(&buffer, &[(0, game.clone())], &with_next, 40);
    // A float32 game no longer fits this buffer.
    let float_game = make_game(2, &[2, 2], 2, 1);
    let err = buffer.add_game(&float_game.view()).unwrap_err().to_string();
    assert!(err.starts_with("observations: expected dtype uint8"), "{err}");
}

#[test]
fn the_same_seed_gives_the_same_batch() {
    let mut buffer = ReplayBuffer::new(ReplayConfig { alpha: 1.0, ..config(100, &[3], 4) }).unwrap();
    for i in 0..10 {
        let mut game = make_game(3 + i, &[3], 4, i as u32);
        game.priorities = Some((0..3 + i).map(|t| 0.1 + t as f32).collect());
        buffer.add_game(&game.view()).unwrap();
    }
    assert_eq!(buffer.sample(64, 7).unwrap(), buffer.sample(64, 7).unwrap());
    assert_ne!(buffer.sample(64, 7).unwrap().index, buffer.sample(64, 8).unwrap().index);
}

/// One rejected game per argument the issue lists, each leaving the buffer as it was.
#[test]
fn bad_games_are_rejected_before_anything_changes() {
    let mut buffer = ReplayBuffer::new(ReplayConfig { alpha: 0.5, ..config(20, &[2], 3) }).unwrap();
    buffer.add_game(&make_game(5, &[2], 3, 0).view()).unwrap();
    buffer.add_game(&make_game(12, &[2], 3, 1).view()).unwrap();
    let good = make_game(6, &[2], 3, 2);
    type Break = fn(&mut Game);
    let cases: Vec<(&str, Break)> = vec![
        ("observations", |g| g.actions.push(0)), // T comes from actions
        ("actions", |g| g.actions[2] = 3),
        ("actions", |g| g.actions[0] = -1),
        ("rewards", |g| {
            g.rewards.pop();
        }),
        ("rewards", |g| g.rewards[1] = f32::NAN),
        ("root_values", |g| g.root_values[5] = f32::INFINITY),
        ("root_values", |g| g.root_values.push(1.0)),
        ("policies", |g| g.policies[0] += 0.01),
        ("policies", |g| {
            g.policies[0] = -0.5;
            g.policies[1] += 0.5;
            g.policies[2] += 1.0;
        }),
        ("policies", |g| g.policies[4] = f32::NAN),
        ("policies", |g| g.policies.truncate(15)),
        ("observations", |g| g.observations = ObsVec::Float32(vec![0.0; 12])),
        ("observations", |g| g.obs_shape = vec![1, 2]),
        ("observations", |g| {
            if let ObsVec::Float32(x) = &mut g.observations {
                x[3] = f32::NEG_INFINITY;
            }
        }),
        ("observations", |g| g.observations = ObsVec::Uint8(vec![0; 14])),
        ("bootstrap_value", |g| g.bootstrap_value = f32::NAN),
        ("priorities", |g| g.priorities = Some(vec![1.0; 5])),
        ("priorities", |g| g.priorities = Some(vec![1.0, 1.0, 0.0, 1.0, 1.0, 1.0])),
        ("priorities", |g| g.priorities = Some(vec![1.0, 1.0, 1.0, -2.0, 1.0, 1.0])),
        ("priorities", |g| g.priorities = Some(vec![f32::NAN; 6])),
        ("actions", |g| {
            *g = make_game(1, &[2], 3, 5);
            g.actions.clear();
            g.rewards.clear();
            g.root_values.clear();
            g.policies.clear();
            g.observations = ObsVec::Float32(vec![0.0; 2]);
        }),
        ("actions", |g| *g = make_game(21, &[2], 3, 5)),
    ];
    let before = (buffer.len(), buffer.nbytes(), buffer.priorities(), buffer.sample(16, 3).unwrap());
    for (name, break_it) in cases {
        let mut bad = good.clone();
        break_it(&mut bad);
        let err = buffer.add_game(&bad.view()).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }));
        assert!(err.to_string().starts_with(&format!("{name}: expected")), "{name}: {err}");
        let after = (buffer.len(), buffer.nbytes(), buffer.priorities(), buffer.sample(16, 3).unwrap());
        assert_eq!(before, after, "{name}: {err}");
    }
    assert_eq!(buffer.add_game(&good.view()).unwrap(), 2);
}

#[test]
fn policies_within_the_tolerance_are_accepted() {
    let mut buffer = ReplayBuffer::new(config(20, &[2], 2)).unwrap();
    let mut game = make_game(2, &[2], 2, 0);
    game.policies = vec![0.5, 0.5009, 1.0, 0.0];
    buffer.add_game(&game.view()).unwrap();
}

#[test]
fn update_priorities_validates_then_applies() {
    let mut buffer = ReplayBuffer::new(ReplayConfig { alpha: 1.0, ..config(10, &[1], 2) }).unwrap();
    buffer.add_game(&make_game(6, &[1], 2, 0).view()).unwrap(); // indices 0..6
    buffer.add_game(&make_game(4, &[1], 2, 1).view()).unwrap(); // indices 6..10
    buffer.add_game(&make_game(3, &[1], 2, 2).view()).unwrap(); // 10..13, evicts game 0
    assert_eq!(buffer.oldest_index(), 6);
    let before = buffer.priorities();
    type Update = (&'static str, Vec<usize>, Vec<i64>, Vec<f32>);
    let bad: Vec<Update> = vec![
        ("index", vec![1], vec![13], vec![1.0]),
        ("index", vec![2], vec![7, -1], vec![1.0, 1.0]),
        ("priorities", vec![2], vec![7, 8], vec![1.0]),
        ("priorities", vec![2], vec![7, 8], vec![1.0, 0.0]),
        ("priorities", vec![2], vec![7, 8], vec![f32::NAN, 1.0]),
        ("index", vec![1, 1], vec![7], vec![1.0]),
    ];
    for (name, shape, index, priorities) in bad {
        let err = buffer
            .update_priorities(&ArrayRef::new(shape, &index), &ArrayRef::vector(&priorities))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("{name}: expected")), "{err}");
        assert_eq!(buffer.priorities(), before);
    }
    // Index 2 was evicted: skipped. Index 7 repeats: the last priority wins.
    let index = [2, 7, 12, 7];
    let priorities = [9.0, 5.0, 0.5, 4.0];
    buffer.update_priorities(&ArrayRef::vector(&index), &ArrayRef::vector(&priorities)).unwrap();
    let (ids, p) = buffer.priorities();
    assert_eq!(ids, (6..13).collect::<Vec<i64>>());
    assert_eq!(p, vec![1.0, 4.0, 1.0, 1.0, 1.0, 1.0, 0.5]);
    // The largest stored priority, not the 5.0 that index 7 held for a moment.
    assert_eq!(buffer.max_priority(), 4.0);
    // A new game defaults to the maximum priority stored.
    buffer.add_game(&make_game(2, &[1], 2, 3).view()).unwrap();
    assert_eq!(buffer.priorities().1[buffer.len() - 2..], [4.0, 4.0]);
    // Once the errors drop, so does a new game's priority (EfficientZero).
    let (ids, p) = buffer.priorities();
    let lower: Vec<f32> = p.iter().map(|_| 0.25).collect();
    buffer.update_priorities(&ArrayRef::vector(&ids), &ArrayRef::vector(&lower)).unwrap();
    assert_eq!(buffer.max_priority(), 0.25);
    buffer.add_game(&make_game(2, &[1], 2, 3).view()).unwrap();
    assert_eq!(buffer.priorities().1[buffer.len() - 2..], [0.25, 0.25]);
}

#[test]
fn the_max_priority_leaves_with_the_game_that_held_it() {
    let mut buffer = ReplayBuffer::new(ReplayConfig { alpha: 0.5, ..config(6, &[1], 2) }).unwrap();
    let mut first = make_game(3, &[1], 2, 1);
    first.priorities = Some(vec![1.0, 8.0, 1.0]);
    buffer.add_game(&first.view()).unwrap();
    let mut second = make_game(3, &[1], 2, 2);
    second.priorities = Some(vec![2.0, 3.0, 2.0]);
    buffer.add_game(&second.view()).unwrap();
    assert_eq!(buffer.max_priority(), 8.0);
    // a third game evicts the first before it takes the largest stored priority
    buffer.add_game(&make_game(3, &[1], 2, 3).view()).unwrap();
    assert_eq!(buffer.priorities().1, vec![2.0, 3.0, 2.0, 3.0, 3.0, 3.0]);
    assert_eq!(buffer.max_priority(), 3.0);
}

#[test]
fn prioritized_weights_follow_the_formula() {
    let cfg = ReplayConfig { alpha: 0.7, beta: 0.4, ..config(100, &[1], 2) };
    let mut buffer = ReplayBuffer::new(cfg).unwrap();
    let mut game = make_game(5, &[1], 2, 0);
    let priorities = vec![0.5, 1.0, 2.0, 4.0, 8.0];
    game.priorities = Some(priorities.clone());
    buffer.add_game(&game.view()).unwrap();
    let batch = buffer.sample(200, 0).unwrap();
    let masses: Vec<f64> = priorities.iter().map(|&p| f64::from(p).powf(0.7)).collect();
    let total: f64 = masses.iter().sum();
    let raw: Vec<f64> = batch.index.iter().map(|&i| (5.0 * masses[i as usize] / total).powf(-0.4)).collect();
    let max = raw.iter().copied().fold(0.0, f64::max);
    for (w, r) in batch.weight.iter().zip(&raw) {
        assert!((f64::from(*w) - r / max).abs() < 1e-6);
    }
    assert!(batch.weight.contains(&1.0));
}

#[test]
fn extreme_betas_give_finite_weights() {
    // (N P)^-beta alone overflows here: (2 * 0.01)^-200 = 50^200 > f64::MAX.
    let cfg = ReplayConfig { alpha: 1.0, beta: 200.0, ..config(10, &[1], 2) };
    let mut buffer = ReplayBuffer::new(cfg).unwrap();
    let mut game = make_game(2, &[1], 2, 0);
    game.priorities = Some(vec![1.0, 99.0]);
    buffer.add_game(&game.view()).unwrap();
    let batch = buffer.sample(2000, 0).unwrap();
    assert!(batch.index.contains(&0) && batch.index.contains(&1));
    for (&i, &w) in batch.index.iter().zip(&batch.weight) {
        assert_eq!(w, if i == 0 { 1.0 } else { 0.0 }, "(1/99)^200 rounds to 0");
    }
}

#[test]
fn the_largest_alpha_keeps_every_priority_a_finite_positive_mass() {
    let cfg = ReplayConfig { alpha: MAX_ALPHA, ..config(10, &[1], 2) };
    let mut buffer = ReplayBuffer::new(cfg).unwrap();
    let mut game = make_game(3, &[1], 2, 0);
    game.priorities = Some(vec![f32::MAX, f32::from_bits(1), 1.0]);
    buffer.add_game(&game.view()).unwrap();
    let batch = buffer.sample(64, 0).unwrap();
    assert!(batch.weight.iter().all(|w| w.is_finite() && (0.0..=1.0).contains(w)), "{:?}", batch.weight);
    assert!(batch.position.iter().all(|&t| t == 0));
}

#[test]
fn prioritized_sampling_frequencies_follow_priorities() {
    let mut buffer = ReplayBuffer::new(ReplayConfig { alpha: 0.5, ..config(100, &[1], 2) }).unwrap();
    let mut game = make_game(4, &[1], 2, 0);
    let priorities = vec![1.0f32, 4.0, 9.0, 0.25];
    game.priorities = Some(priorities.clone());
    buffer.add_game(&game.view()).unwrap();
    let mut counts = [0usize; 4];
    let draws = 40_000;
    for seed in 0..(draws / 1000) {
        for &i in &buffer.sample(1000, seed as u64).unwrap().index {
            counts[i as usize] += 1;
        }
    }
    // p^0.5 = 1, 2, 3, 0.5: probabilities 1/6.5, 2/6.5, 3/6.5, 0.5/6.5.
    let chi2: f64 = [1.0, 2.0, 3.0, 0.5]
        .iter()
        .zip(counts)
        .map(|(m, c)| {
            let expected = draws as f64 * m / 6.5;
            (c as f64 - expected).powi(2) / expected
        })
        .sum();
    assert!(chi2 < 16.27, "chi2 {chi2} (df 3, p = 0.001), counts {counts:?}");
}

#[test]
fn sampling_an_empty_buffer_or_a_zero_batch_fails() {
    let buffer = ReplayBuffer::new(config(10, &[1], 2)).unwrap();
    assert!(buffer.sample(4, 0).unwrap_err().to_string().starts_with("buffer: expected"));
    let mut buffer = buffer;
    buffer.add_game(&make_game(2, &[1], 2, 0).view()).unwrap();
    assert!(buffer.sample(0, 0).unwrap_err().to_string().starts_with("batch_size: expected"));
}

#[test]
fn a_batch_too_big_for_memory_is_an_error_not_an_abort() {
    for (cfg, batch_size) in [
        (ReplayConfig { stack: MAX_STACK, ..config(10, &[3], 2) }, usize::MAX / 2),
        (ReplayConfig { unroll_steps: MAX_UNROLL_STEPS, ..config(10, &[3], 2) }, usize::MAX / 16),
    ] {
        let mut buffer = ReplayBuffer::new(cfg).unwrap();
        let num_actions = buffer.config().num_actions;
        buffer.add_game(&make_game(2, &[3], num_actions, 0).view()).unwrap();
        let err = buffer.sample(batch_size, 0).unwrap_err().to_string();
        assert!(err.starts_with("batch_size: expected a batch that fits in memory"), "{err}");
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mzero-replay-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn filled_buffer(alpha: f64, dtype: ObsDtype) -> (ReplayBuffer, Vec<(u64, Game)>) {
    let cfg = ReplayConfig { alpha, stack: 2, two_player: true, ..config(30, &[2, 3], 3) };
    let mut buffer = ReplayBuffer::new(cfg).unwrap();
    let mut games = Vec::new();
    for i in 0..9u32 {
        let mut game = make_game(2 + (i as usize % 7), &[2, 3], 3, i);
        if dtype == ObsDtype::Uint8 {
            game.observations =
                ObsVec::Uint8((0..(game.steps() + 1) * 6).map(|x| (x + i as usize) as u8).collect());
        }
        if i % 3 == 1 {
            game.priorities = Some((0..game.steps()).map(|t| 0.5 + t as f32).collect());
        }
        let id = buffer.add_game(&game.view()).unwrap();
        games.push((id, game));
    }
    buffer.update_priorities(&ArrayRef::vector(&[30, 38]), &ArrayRef::vector(&[7.0, 0.1])).unwrap();
    (buffer, games)
}

#[test]
fn save_then_load_gives_an_identical_buffer() {
    let dir = temp_dir("roundtrip");
    for (alpha, dtype) in [(0.0, ObsDtype::Float32), (0.6, ObsDtype::Uint8)] {
        let (buffer, games) = filled_buffer(alpha, dtype);
        let path = dir.join("buffer.bin");
        buffer.save(&path).unwrap();
        let loaded = ReplayBuffer::load(&path).unwrap();
        assert_eq!(loaded.config(), buffer.config());
        assert_eq!(
            (loaded.len(), loaded.num_games(), loaded.next_game_id(), loaded.next_index()),
            (buffer.len(), buffer.num_games(), buffer.next_game_id(), buffer.next_index())
        );
        assert_eq!(loaded.priorities(), buffer.priorities());
        assert_eq!(loaded.max_priority(), buffer.max_priority());
        assert_eq!(loaded.nbytes(), buffer.nbytes());
        for seed in 0..5 {
            let batch = loaded.sample(64, seed).unwrap();
            assert_eq!(batch, buffer.sample(64, seed).unwrap());
            check_batch(&loaded, &games, &batch, 64);
        }
        for (id, game) in &games {
            if let Some(stored) = loaded.games.iter().find(|g| g.id == *id) {
                let last = game.frame(game.steps());
                let kept: Vec<f32> = match &stored.last_observation {
                    ObsVec::Float32(x) => x.clone(),
                    ObsVec::Uint8(x) => x.iter().map(|&v| f32::from(v)).collect(),
                };
                assert_eq!(kept, last);
            }
        }
    }
    let empty = ReplayBuffer::new(config(5, &[1], 2)).unwrap();
    let path = dir.join("empty.bin");
    empty.save(&path).unwrap();
    let loaded = ReplayBuffer::load(&path).unwrap();
    assert!(loaded.is_empty() && loaded.obs_dtype().is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_truncation_and_every_flipped_byte_is_detected() {
    let dir = temp_dir("corrupt");
    let cfg = ReplayConfig { alpha: 0.5, ..config(8, &[1], 2) };
    let mut buffer = ReplayBuffer::new(cfg).unwrap();
    buffer.add_game(&make_game(3, &[1], 2, 0).view()).unwrap();
    buffer.add_game(&make_game(2, &[1], 2, 1).view()).unwrap();
    let path = dir.join("small.bin");
    buffer.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let bad = dir.join("bad.bin");
    for len in 0..bytes.len() {
        std::fs::write(&bad, &bytes[..len]).unwrap();
        let err = ReplayBuffer::load(&bad).unwrap_err();
        assert!(matches!(err, Error::CorruptFile { .. }), "truncated to {len}: {err}");
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x10;
        std::fs::write(&bad, &flipped).unwrap();
        let err = ReplayBuffer::load(&bad).unwrap_err();
        assert!(matches!(err, Error::CorruptFile { .. }), "byte {i} flipped: {err}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    std::fs::write(&bad, &longer).unwrap();
    assert!(matches!(ReplayBuffer::load(&bad).unwrap_err(), Error::CorruptFile { .. }));
    // Another format version, with a valid checksum: still refused, with the version named.
    let mut other = bytes[..bytes.len() - 4].to_vec();
    let next = persist::FORMAT_VERSION + 1;
    other[8..12].copy_from_slice(&next.to_le_bytes());
    let crc = crc32fast::hash(&other);
    other.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(&bad, &other).unwrap();
    let err = ReplayBuffer::load(&bad).unwrap_err().to_string();
    assert!(err.contains(&format!("format version {next}")), "{err}");
    let missing = ReplayBuffer::load(&dir.join("missing.bin")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }));
    // A failed save leaves no temporary file behind.
    assert!(buffer.save(&dir.join("no-such-dir").join("x.bin")).is_err());
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).collect();
    assert!(leftovers.iter().all(|e| !e.file_name().to_string_lossy().ends_with(".tmp")));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn arb_setup() -> impl Strategy<Value = (ReplayConfig, Vec<(usize, bool, bool)>)> {
    (
        1usize..40,
        1usize..4,
        0usize..5,
        0usize..6,
        prop::bool::ANY,
        prop_oneof![Just(0.0), 0.1f64..2.0],
        1usize..4,
        prop_oneof![Just(1.0), Just(0.0), 0.5f64..1.0],
        prop::collection::vec((1usize..15, prop::bool::ANY, prop::bool::ANY), 1..8),
    )
        .prop_map(|(capacity, a, k, n, two_player, alpha, stack, discount, games)| {
            let capacity = capacity.max(games.iter().map(|g| g.0).max().unwrap_or(1));
            let cfg = ReplayConfig {
                unroll_steps: k,
                td_steps: n,
                two_player,
                alpha,
                stack,
                discount,
                ..config(capacity, &[2], a)
            };
            (cfg, games)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every row of a sampled batch matches the formulas, whatever the configuration.
    #[test]
    fn sampled_targets_match_the_formulas((cfg, specs) in arb_setup(), seed in 0u64..1000) {
        let a = cfg.num_actions;
        let mut buffer = ReplayBuffer::new(cfg).unwrap();
        let mut games = Vec::new();
        for (i, &(steps, terminated, prioritized)) in specs.iter().enumerate() {
            let mut game = make_game(steps, &[2], a, i as u32);
            game.terminated = terminated;
            if prioritized {
                game.priorities = Some((0..steps).map(|t| 0.1 + ((t * 7 + i) % 5) as f32).collect());
                // some games say which actions were legal: action (t + i) % A is always
                game.legal_masks =
                    Some((0..steps * a).map(|j| j % a == (j / a + i) % a || (j * 5 + i) % 3 == 0).collect());
            }
            let id = buffer.add_game(&game.view()).unwrap();
            prop_assert_eq!(id, i as u64);
            games.push((id, game));
            prop_assert!(buffer.len() <= buffer.config().capacity);
        }
        let batch = buffer.sample(32, seed).unwrap();
        check_batch(&buffer, &games, &batch, 32);
        prop_assert!(batch.weight.iter().all(|&w| w > 0.0 && w <= 1.0));
        prop_assert!(batch.next_observation.is_none());
        // the same rows and targets, plus the next observations
        let with_next = buffer.sample_with_next_observations(32, seed).unwrap();
        check_batch(&buffer, &games, &with_next, 32);
        prop_assert!(with_next.next_observation.is_some());
        prop_assert_eq!(
            &Batch { next_observation: None, next_observation_actions: None, ..with_next.clone() },
            &batch
        );
        // the same rows and targets, plus what a reanalysis needs
        let options = SampleOptions { next_observations: false, reanalysis: true };
        let with_reanalysis = buffer.sample_with(32, seed, options).unwrap();
        check_batch(&buffer, &games, &with_reanalysis, 32);
        prop_assert!(with_reanalysis.reanalysis.is_some());
        prop_assert_eq!(&Batch { reanalysis: None, ..with_reanalysis }, &with_next);
    }
}

/// The reanalysis fields of a batch: its `(game_id, bootstrap_position)` pairs that
/// bootstrap, and the first row that bootstraps from the end of a truncated game.
fn reanalysed(buffer: &ReplayBuffer, seed: u64) -> Batch {
    let options = SampleOptions { next_observations: false, reanalysis: true };
    buffer.sample_with(64, seed, options).unwrap()
}

#[test]
fn written_back_values_are_the_new_bootstraps() {
    let mut cfg = config(100, &[2], 3);
    cfg.td_steps = 3;
    cfg.discount = 0.9;
    let mut buffer = ReplayBuffer::new(cfg).unwrap();
    let mut truncated = make_game(6, &[2], 3, 1);
    truncated.terminated = false;
    let terminated = make_game(4, &[2], 3, 2);
    buffer.add_game(&truncated.view()).unwrap();
    buffer.add_game(&terminated.view()).unwrap();

    // fresh values at every position of both games, and at the end of the truncated one
    let ids: Vec<i64> = [vec![0i64; 7], vec![1i64; 4]].concat();
    let positions: Vec<i64> = (0..7).chain(0..4).collect();
    let fresh: Vec<f32> = (0..11).map(|i| 100.0 + i as f32).collect();
    buffer
        .update_values(&ArrayRef::vector(&ids), &ArrayRef::vector(&positions), &ArrayRef::vector(&fresh))
        .unwrap();
    let mut expected = vec![truncated.clone(), terminated.clone()];
    expected[0].root_values = fresh[..6].to_vec();
    expected[0].bootstrap_value = fresh[6];
    expected[1].root_values = fresh[7..].to_vec();
    let games: Vec<(u64, Game)> = expected.into_iter().enumerate().map(|(i, g)| (i as u64, g)).collect();
    let batch = reanalysed(&buffer, 3);
    check_batch(&buffer, &games, &batch, 64);

    // policies: the written rows are the new targets
    let policy = [0.5f32, 0.25, 0.25];
    buffer
        .update_policies(&ArrayRef::vector(&[0]), &ArrayRef::vector(&[2]), &ArrayRef::matrix(1, &policy))
        .unwrap();
    let batch = buffer.sample(256, 4).unwrap();
    let k1 = buffer.config().unroll_steps + 1;
    let hits = (0..256).filter(|&b| batch.game_id[b] == 0 && batch.position[b] == 2).count();
    assert!(hits > 0);
    for b in (0..256).filter(|&b| batch.game_id[b] == 0 && batch.position[b] == 2) {
        assert_eq!(&batch.target_policy[b * k1 * 3..b * k1 * 3 + 3], &policy);
    }
}

#[test]
fn bad_write_backs_name_their_argument_and_change_nothing() {
    let mut buffer = ReplayBuffer::new(config(8, &[2], 2)).unwrap();
    for salt in 0..3 {
        let mut game = make_game(4, &[2], 2, salt);
        game.terminated = salt != 1;
        buffer.add_game(&game.view()).unwrap(); // game 0 is evicted by game 2
    }
    let before = buffer.clone();
    let v = |x: &[i64]| x.to_vec();
    type Case = (Vec<i64>, Vec<i64>, Vec<f32>, &'static str);
    let cases: Vec<Case> = vec![
        (v(&[3]), v(&[0]), vec![1.0], "game_id"), // never issued
        (v(&[-1]), v(&[0]), vec![1.0], "game_id"),
        (v(&[1]), v(&[5]), vec![1.0], "position"), // past T = 4
        (v(&[1]), v(&[-1]), vec![1.0], "position"),
        (v(&[2]), v(&[4]), vec![1.0], "position"), // the end of a terminated game
        (v(&[1]), v(&[0]), vec![f32::NAN], "values"),
        (v(&[1, 1]), v(&[0]), vec![1.0, 1.0], "position"),
    ];
    for (ids, positions, values, name) in cases {
        let shape = vec![values.len()];
        let err = buffer
            .update_values(
                &ArrayRef::vector(&ids),
                &ArrayRef::vector(&positions),
                &ArrayRef::new(shape, &values),
            )
            .unwrap_err();
        assert!(err.to_string().contains(name), "{err} should name {name}");
        assert_eq!(buffer.sample(16, 0).unwrap(), before.sample(16, 0).unwrap());
    }
    let err = buffer
        .update_policies(&ArrayRef::vector(&[1]), &ArrayRef::vector(&[4]), &ArrayRef::matrix(1, &[0.5, 0.5]))
        .unwrap_err();
    assert!(err.to_string().contains("position"), "{err}");
    let err = buffer
        .update_policies(&ArrayRef::vector(&[1]), &ArrayRef::vector(&[0]), &ArrayRef::matrix(1, &[0.9, 0.5]))
        .unwrap_err();
    assert!(err.to_string().contains("policies"), "{err}");
    // an evicted game is skipped; the end of the truncated game 1 takes a value
    buffer
        .update_values(&ArrayRef::vector(&[0, 1]), &ArrayRef::vector(&[0, 4]), &ArrayRef::vector(&[7.0, 9.0]))
        .unwrap();
    assert_eq!(buffer.games[0].bootstrap_value, 9.0);
}

/// A snapshot of one game with `obs_shape = [1]` as an older `version` wrote it:
/// without the segment (versions 1, 2) and without the legal masks (version 1).
fn older_snapshot(bytes: &[u8], version: u32, legal_bytes: usize) -> Vec<u8> {
    // magic, version, 5 u64 and 3 f64 of config, two_player, ndim, one dimension,
    // dtype, next_game_id, next_index, max_priority, num_games, then the game's
    // id, first, T, terminated and bootstrap_value
    let segment_at = 8 + 4 + 5 * 8 + 3 * 8 + 1 + 4 + 8 + 1 + 8 + 8 + 4 + 8 + 3 * 8 + 1 + 4;
    let mut old = [&bytes[..segment_at], &bytes[segment_at + 16..bytes.len() - 4]].concat();
    if version == 1 {
        old.truncate(old.len() - legal_bytes);
    }
    old[8..12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&old);
    old.extend_from_slice(&crc.to_le_bytes());
    old
}

#[test]
fn older_files_load_with_every_action_legal_and_every_position_sampled() {
    let dir = temp_dir("version1");
    let mut buffer = ReplayBuffer::new(config(8, &[1], 2)).unwrap();
    let mut game = make_game(3, &[1], 2, 0);
    game.legal_masks = Some(vec![true, false, false, true, true, true]);
    buffer.add_game(&game.view()).unwrap();
    let path = dir.join("current.bin");
    buffer.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let options = SampleOptions { next_observations: false, reanalysis: true };
    for version in [1, 2] {
        let old = dir.join(format!("v{version}.bin"));
        std::fs::write(&old, older_snapshot(&bytes, version, 6)).unwrap();
        let loaded = ReplayBuffer::load(&old).unwrap();
        assert_eq!(loaded.positions(), 3);
        let batch = loaded.sample_with(16, 0, options).unwrap();
        let all_legal = batch.reanalysis.as_ref().unwrap().legal_mask.iter().all(|&l| l);
        assert_eq!(all_legal, version == 1, "version {version}");
        assert_eq!(batch.target_value, buffer.sample_with(16, 0, options).unwrap().target_value);
    }
    let batch = ReplayBuffer::load(&path).unwrap().sample_with(16, 0, options).unwrap();
    assert!(!batch.reanalysis.unwrap().legal_mask.iter().all(|&l| l));
    std::fs::remove_dir_all(&dir).unwrap();
}

// --------------------------------------------------------------------------- //
// Segments                                                                    //
// --------------------------------------------------------------------------- //

#[test]
fn only_the_positions_of_a_segment_are_sampled() {
    for alpha in [0.0, 1.0] {
        let mut config = ReplayConfig::new(100, vec![2], 3);
        config.alpha = alpha;
        let mut buffer = ReplayBuffer::new(config).unwrap();
        let mut segment = make_game(12, &[2], 3, 1);
        segment.segment = Some((2, 5));
        buffer.add_game(&make_game(4, &[2], 3, 2).view()).unwrap();
        buffer.add_game(&segment.view()).unwrap();
        assert_eq!((buffer.len(), buffer.positions()), (16, 7));
        let batch = buffer.sample(2000, 7).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for (&game, &t) in batch.game_id.iter().zip(&batch.position) {
            seen.insert((game, t));
        }
        let expected: std::collections::BTreeSet<(i64, i64)> =
            (0..4).map(|t| (0, t)).chain((2..5).map(|t| (1, t))).collect();
        assert_eq!(seen, expected, "alpha {alpha}");
        // the positions after the segment still give its targets
        let row = batch.position.iter().zip(&batch.game_id).position(|(&t, &g)| g == 1 && t == 4).unwrap();
        let k_steps = 5;
        for k in 0..=k_steps {
            let expected = reference_value(&segment, 4 + k, 0.997, 10) as f32;
            let got = batch.target_value[row * (k_steps + 1) + k];
            assert!((got - expected).abs() < 1e-4, "k {k}: {got} vs {expected}");
        }
    }
}

#[test]
fn positions_around_a_segment_take_no_priority() {
    let mut config = ReplayConfig::new(100, vec![1], 2);
    config.alpha = 1.0;
    let mut buffer = ReplayBuffer::new(config).unwrap();
    let mut game = make_game(6, &[1], 2, 0);
    game.segment = Some((1, 3));
    game.priorities = Some(vec![9.0, 1.0, 2.0, 9.0, 9.0, 9.0]);
    buffer.add_game(&game.view()).unwrap();
    assert_eq!(buffer.max_priority(), 2.0);
    // raising a carried position's priority stores it but never samples it
    let index = [5i64];
    buffer.update_priorities(&ArrayRef::vector(&index), &ArrayRef::vector(&[50.0f32])).unwrap();
    assert_eq!(buffer.max_priority(), 2.0);
    assert_eq!(buffer.priorities().1[5], 50.0);
    let batch = buffer.sample(500, 3).unwrap();
    assert!(batch.position.iter().all(|&t| t == 1 || t == 2));
}

#[test]
fn a_bad_segment_is_named() {
    let mut buffer = ReplayBuffer::new(ReplayConfig::new(100, vec![1], 2)).unwrap();
    for segment in [(2, 2), (3, 1), (0, 7)] {
        let mut game = make_game(6, &[1], 2, 0);
        game.segment = Some(segment);
        let err = buffer.add_game(&game.view()).unwrap_err();
        assert!(err.to_string().contains("segment"), "{err}");
    }
    assert!(buffer.is_empty());
}

#[test]
fn segments_survive_a_snapshot_and_their_eviction() {
    let dir = std::env::temp_dir().join(format!("mzero-segments-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut buffer = ReplayBuffer::new(ReplayConfig::new(20, vec![1], 2)).unwrap();
    for salt in 0..4 {
        let mut game = make_game(8, &[1], 2, salt);
        game.segment = Some((1, 1 + salt as usize + 1));
        buffer.add_game(&game.view()).unwrap();
    }
    // capacity 20: the two oldest games left, the two newest hold 3 + 4 positions
    assert_eq!((buffer.num_games(), buffer.len(), buffer.positions()), (2, 16, 7));
    let path = dir.join("replay.bin");
    buffer.save(&path).unwrap();
    let loaded = ReplayBuffer::load(&path).unwrap();
    assert_eq!(loaded.positions(), 7);
    assert_eq!(loaded.sample(64, 5).unwrap(), buffer.sample(64, 5).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

// --------------------------------------------------------------------------- //
// Snapshots whose header lies                                                 //
// --------------------------------------------------------------------------- //

/// Byte offsets of header fields in a snapshot with a 1-D `obs_shape`.
mod at {
    pub const CAPACITY: usize = 12;
    pub const OBS_SHAPE: usize = 81;
    pub const NEXT_GAME_ID: usize = 90;
    pub const NEXT_INDEX: usize = 98;
    /// The first game's id, first index and length.
    pub const GAME_ID: usize = 118;
    pub const GAME_FIRST: usize = 126;
}

/// `bytes` with the little-endian `u64` of each `(offset, value)` written in, and
/// a fresh checksum: parsing goes past the checksum to the lie.
fn patched(bytes: &[u8], patches: &[(usize, u64)]) -> Vec<u8> {
    let mut body = bytes[..bytes.len() - 4].to_vec();
    for &(offset, value) in patches {
        body[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    }
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// A snapshot of one game of one transition with `capacity` and `obs_shape = [1]`.
fn one_step_snapshot(dir: &std::path::Path, capacity: usize) -> Vec<u8> {
    let mut buffer = ReplayBuffer::new(config(capacity, &[1], 2)).unwrap();
    buffer.add_game(&make_game(1, &[1], 2, 0).view()).unwrap();
    let path = dir.join("one-step.bin");
    buffer.save(&path).unwrap();
    std::fs::read(&path).unwrap()
}

fn load_bytes(dir: &std::path::Path, bytes: &[u8]) -> Result<ReplayBuffer> {
    let path = dir.join("patched.bin");
    std::fs::write(&path, bytes).unwrap();
    ReplayBuffer::load(&path)
}

fn corrupt_reason(result: Result<ReplayBuffer>) -> String {
    match result {
        Err(Error::CorruptFile { reason, .. }) => reason,
        Err(other) => panic!("expected a corrupt file, got {other}"),
        Ok(_) => panic!("expected a corrupt file, got a buffer"),
    }
}

#[test]
fn a_header_that_lies_about_the_ring_is_refused_before_it_allocates() {
    let dir = temp_dir("lying-header");
    let capacity = 1u64 << 36;
    let bytes = one_step_snapshot(&dir, capacity as usize);
    // One transition at the end of a ring of 2^36 that never filled: the columns
    // would have grown to 2^36 rows (this file aborted the process before).
    let crafted = patched(&bytes, &[(at::GAME_FIRST, capacity - 1), (at::NEXT_INDEX, capacity)]);
    assert!(crafted.len() < 256, "{} bytes", crafted.len());
    let reason = corrupt_reason(load_bytes(&dir, &crafted));
    assert!(reason.contains("first index") && reason.contains("never filled"), "{reason}");

    let lies: [(&[(usize, u64)], &str); 6] = [
        // more live transitions than the capacity, or none
        (&[(at::NEXT_INDEX, capacity + 1)], "next_index"),
        (&[(at::GAME_FIRST, 5)], "next_index"),
        // a game id that more games came before than transitions
        (
            &[
                (at::GAME_ID, capacity + 2),
                (at::NEXT_GAME_ID, capacity + 3),
                (at::GAME_FIRST, capacity + 1),
                (at::NEXT_INDEX, capacity + 2),
            ],
            "game id",
        ),
        // more transitions than the file holds
        (&[(at::NEXT_INDEX, 1000)], "the stored transitions"),
        // ids past what int64 carries to Python
        (&[(at::NEXT_INDEX, 1 << 63)], "next_index"),
        (&[(at::NEXT_GAME_ID, u64::MAX)], "next_game_id"),
    ];
    for (patches, named) in lies {
        let reason = corrupt_reason(load_bytes(&dir, &patched(&bytes, patches)));
        assert!(reason.contains(named), "{patches:?}: {reason}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_header_whose_obs_shape_overflows_is_named() {
    let dir = temp_dir("obs-shape");
    let buffer = ReplayBuffer::new(config(4, &[1, 1], 2)).unwrap();
    let path = dir.join("empty.bin");
    buffer.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let huge = 1u64 << 32;
    let reason = corrupt_reason(load_bytes(
        &dir,
        &patched(&bytes, &[(at::OBS_SHAPE, huge), (at::OBS_SHAPE + 8, huge)]),
    ));
    assert!(reason.contains("obs_shape") && reason.contains("overflows"), "{reason}");
    // a frame that fits alone but not `capacity` times
    let reason =
        corrupt_reason(load_bytes(&dir, &patched(&bytes, &[(at::OBS_SHAPE, huge), (at::CAPACITY, huge)])));
    assert!(reason.contains("capacity"), "{reason}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_filled_ring_holding_few_transitions_loads_compact() {
    let dir = temp_dir("compact");
    let capacity = 1u64 << 36;
    let bytes = one_step_snapshot(&dir, capacity as usize);
    // A consistent history: the ring filled (2^37 - 1 transitions added), and one
    // transition is left at the end of the ring. It loads into one row.
    let first = (1u64 << 37) - 2;
    let loaded =
        load_bytes(&dir, &patched(&bytes, &[(at::GAME_FIRST, first), (at::NEXT_INDEX, first + 1)])).unwrap();
    assert!(loaded.nbytes() < 4096, "{} bytes", loaded.nbytes());
    assert_eq!((loaded.len(), loaded.oldest_index(), loaded.next_index()), (1, first, first + 1));
    let batch = loaded.sample(4, 0).unwrap();
    assert_eq!(batch.index, vec![first as i64; 4]);
    // it carries on: indices stay global, new games take the next rows
    let mut loaded = loaded;
    loaded.update_priorities(&ArrayRef::vector(&[first as i64]), &ArrayRef::vector(&[3.0])).unwrap();
    assert_eq!(loaded.priorities(), (vec![first as i64], vec![3.0]));
    loaded.add_game(&make_game(3, &[1], 2, 1).view()).unwrap();
    assert_eq!(loaded.priorities().0, (first as i64..first as i64 + 4).collect::<Vec<_>>());
    assert!(loaded.nbytes() < 4096, "{} bytes", loaded.nbytes());
    // A large capacity that never filled loads as small as the games it holds.
    let small = load_bytes(&dir, &bytes).unwrap();
    assert!(small.nbytes() < 4096, "{} bytes", small.nbytes());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sparse_ring_is_compacted_and_samples_the_same_transitions() {
    let dir = temp_dir("sparse");
    for alpha in [0.0, 0.7] {
        // capacity 40: a game of 35 steps, then one of 3 evicts it and wraps the ring
        let cfg = ReplayConfig { alpha, stack: 2, ..config(40, &[2], 3) };
        let mut buffer = ReplayBuffer::new(cfg).unwrap();
        let mut games = Vec::new();
        for (salt, steps) in [(0, 35), (1, 3), (2, 4)] {
            let game = make_game(steps, &[2], 3, salt);
            games.push((buffer.add_game(&game.view()).unwrap(), game));
        }
        assert_eq!((buffer.len(), buffer.oldest_index()), (7, 35));
        let path = dir.join("sparse.bin");
        buffer.save(&path).unwrap();
        let mut loaded = ReplayBuffer::load(&path).unwrap();
        assert!(loaded.nbytes() < buffer.nbytes(), "{} vs {}", loaded.nbytes(), buffer.nbytes());
        assert_eq!(loaded.priorities(), buffer.priorities());
        for seed in 0..4 {
            let batch =
                loaded.sample_with(64, seed, SampleOptions { next_observations: true, reanalysis: true });
            check_batch(&loaded, &games, &batch.unwrap(), 64);
            if alpha == 0.0 {
                assert_eq!(loaded.sample(64, seed).unwrap(), buffer.sample(64, seed).unwrap());
            }
        }
        // The sampled indices address the same transitions in both buffers.
        let index: Vec<i64> = (35..42).collect();
        let priorities: Vec<f32> = (1..8).map(|p| p as f32).collect();
        for b in [&mut buffer, &mut loaded] {
            b.update_priorities(&ArrayRef::vector(&index), &ArrayRef::vector(&priorities)).unwrap();
        }
        assert_eq!(loaded.priorities(), buffer.priorities());
        // Both carry on alike, through a wrap of the shifted ring and an eviction.
        for salt in 3..8 {
            let game = make_game(6 + salt as usize, &[2], 3, salt);
            let id = buffer.add_game(&game.view()).unwrap();
            assert_eq!(loaded.add_game(&game.view()).unwrap(), id);
            games.push((id, game));
        }
        assert_eq!(loaded.priorities(), buffer.priorities());
        assert_eq!((loaded.len(), loaded.num_games()), (buffer.len(), buffer.num_games()));
        let batch = loaded.sample(64, 9).unwrap();
        check_batch(&loaded, &games, &batch, 64);
        // A second snapshot, now of a full ring, takes the saved layout again: the
        // same transitions, the same uniform samples.
        loaded.save(&path).unwrap();
        let again = ReplayBuffer::load(&path).unwrap();
        assert_eq!(again.priorities(), loaded.priorities());
        let batch = again.sample(64, 3).unwrap();
        check_batch(&again, &games, &batch, 64);
        if alpha == 0.0 {
            assert_eq!(batch, loaded.sample(64, 3).unwrap());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
