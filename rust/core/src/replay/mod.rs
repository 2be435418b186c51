//! The replay buffer of MuZero: whole games in, unrolled training batches out.
//!
//! Games are stored in contiguous per-field columns used as a ring
//! ([`storage`]); the capacity counts transitions and the oldest whole games
//! leave first. A segment of a longer game ([`GameView::segment`]) is stored with
//! the positions its targets and stacks reach beyond it, and only its own
//! positions are sampled. Every transition gets a global id, its `index`, issued in
//! order and never reused. A batch draws positions `t` uniformly (`alpha = 0`)
//! or in proportion to `p^alpha` with a [`SumTree`](sum_tree::SumTree)
//! (Schaul et al. 2016), then assembles for `k = 0..K` the targets of
//! Schrittwieser et al. 2020 (appendix G), computed when the batch is sampled from
//! the stored, possibly reanalysed, root values:
//!
//! * `target_value[k] = z_{t+k}` if `t+k < T` else 0 (`z` from [`targets`]: the
//!   bootstrap lies `min(n, T - t - k)` steps ahead);
//! * `target_reward[0] = 0`, `target_reward[k] = u_{t+k}` if `t+k <= T` else 0;
//! * `target_policy[k] = pi_{t+k}` if `t+k < T` else 0; `mask[k] = [t+k < T]`;
//! * `terminated[b]`: the row's game ended in a terminal state. Past the end of a
//!   terminated game the states are absorbing (value and reward 0 are real
//!   targets); past the end of a truncated game nothing is known;
//! * `actions[k] = a_{t+k}` for `k < K`, uniformly random past the end;
//! * the observation stacks `o_{t-stack+1} .. o_t`, repeating `o_0` before the start;
//! * on request ([`SampleOptions::next_observations`]), the stacks ending
//!   at `o_{t+k}` for `k = 1..K`, with `o_T` (the game's last observation) standing in
//!   for every position past the end: the targets of a latent consistency loss
//!   (EfficientZero, Ye et al. 2021);
//! * on request ([`SampleOptions::reanalysis`]), a [`Reanalysis`]: what MuZero
//!   Reanalyze and EfficientZero need to refresh the value and policy targets with a
//!   newer network. Fresh values and policies are written back by (game id,
//!   position) with [`ReplayBuffer::update_values`] and
//!   [`ReplayBuffer::update_policies`], so later samples use them.

mod game;
pub mod max_tree;
mod persist;
pub mod segment_tree;
mod storage;
pub mod sum_tree;
pub mod targets;

use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use game::{
    ArrayRef, GameView, ObsArray, ReplayConfig, MAX_ALPHA, MAX_STACK, MAX_UNROLL_STEPS, POLICY_SUM_TOLERANCE,
};
pub use storage::{ObsDtype, ObsSlice, ObsVec};

use crate::error::{Error, Result};
use game::{ensure_policies, ensure_positive, ensure_shape, shape, validate_game};
use max_tree::MaxTree;
use storage::{Columns, GameRows, Ring};
use sum_tree::SumTree;

/// The priority of a new game's transitions when none is stored.
const INITIAL_MAX_PRIORITY: f32 = 1.0;

/// Per-game bookkeeping; the transitions themselves live in the columns.
#[derive(Debug, Clone)]
struct StoredGame {
    /// The id `add_game` returned.
    id: u64,
    /// The index of transition `t = 0`; the game holds `first .. first + len`.
    first: u64,
    /// `T`.
    len: usize,
    terminated: bool,
    bootstrap_value: f32,
    /// `o_T`, never sampled (positions are `t < T`) but kept with the game.
    last_observation: ObsVec,
    /// The positions `start..stop` that are sampled ([`GameView::segment`]).
    segment: (usize, usize),
    /// Sampled positions of the games added before this one: positions are drawn
    /// uniformly by rank, the way transitions are numbered by index.
    rank: u64,
}

impl StoredGame {
    fn end(&self) -> u64 {
        self.first + self.len as u64
    }

    /// The rank after this game's last sampled position.
    fn end_rank(&self) -> u64 {
        self.rank + (self.segment.1 - self.segment.0) as u64
    }

    /// Whether position `t` is sampled.
    fn samples(&self, t: usize) -> bool {
        (self.segment.0..self.segment.1).contains(&t)
    }
}

/// What [`ReplayBuffer::sample_with`] adds to a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleOptions {
    /// Add [`Batch::next_observation`].
    pub next_observations: bool,
    /// Add [`Batch::reanalysis`] (and [`Batch::next_observation`]: the stacks at `t+k`
    /// a re-search starts from are `observation` for `k = 0` and `next_observation`
    /// for `k >= 1`).
    pub reanalysis: bool,
}

/// What a reanalysis needs to refresh the targets of a batch (MuZero Reanalyze,
/// Schrittwieser et al. 2021; EfficientZero, Ye et al. 2021). Row `(b, k)`, flat
/// in C order like the targets, is position `t+k` of row `b`'s game; `m =
/// min(n, T - t - k)`. For the stored values,
/// `target_value = reward_sum + bootstrap_discount * v(bootstrap_position)` exactly
/// (up to float32 rounding): put fresh values in place of `v` for fresh targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Reanalysis {
    /// `[B, K+1, stack, *obs_shape]`: the stack ending at `o_{t+k+m}` (`o_T` when the
    /// bootstrap is the end of a truncated game, and past the end).
    pub bootstrap_observation: ObsVec,
    /// `[B, K+1, stack]`: the action that led to each frame of `bootstrap_observation`
    /// (see [`Batch::observation_actions`]).
    pub bootstrap_observation_actions: Vec<i64>,
    /// `[B, K+1]`: `t+k+m`, the position whose value bootstraps `z_{t+k}` (`T`: a
    /// truncated game's `bootstrap_value`); -1 where none does (the game terminated
    /// within the horizon, or `t+k >= T`).
    pub bootstrap_position: Vec<i64>,
    /// `[B, K+1]`: `sum_{i<m} g^i u_{t+k+i+1}`; 0 past the end.
    pub reward_sum: Vec<f32>,
    /// `[B, K+1]`: `g^m` where a value bootstraps, else 0.
    pub bootstrap_discount: Vec<f32>,
    /// `[B, K+1, A]`: the legal actions at `t+k` (every action past the end).
    pub legal_mask: Vec<bool>,
}

/// A sampled batch: `B` rows, each unrolled `K` steps. Arrays are flat, C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `[B, stack, *obs_shape]`, the buffer's dtype: `o_{t-stack+1} .. o_t`.
    pub observation: ObsVec,
    /// `[B, stack]`: the action that led to each frame of `observation`, `a_{q-1}` for
    /// frame `o_q` and -1 for `o_0` (and the copies of `o_0` before the start): the
    /// action planes MuZero's Atari network sees beside its frames.
    pub observation_actions: Vec<i64>,
    /// `[B, K, stack, *obs_shape]` when requested: row `k - 1` is the stack ending at
    /// `o_{min(t+k, T)}`.
    pub next_observation: Option<ObsVec>,
    /// `[B, K, stack]` with `next_observation`: the actions that led to its frames.
    pub next_observation_actions: Option<Vec<i64>>,
    /// When requested: what a reanalysis needs.
    pub reanalysis: Option<Reanalysis>,
    /// `[B, K]`: `a_t .. a_{t+K-1}`, uniformly random past the end of the game.
    pub actions: Vec<i64>,
    /// `[B, K+1]`: `z_{t+k}`, 0 past the end.
    pub target_value: Vec<f32>,
    /// `[B, K+1]`: 0, then `u_{t+k}`; 0 past the end.
    pub target_reward: Vec<f32>,
    /// `[B, K+1, A]`: `pi_{t+k}`, 0 past the end.
    pub target_policy: Vec<f32>,
    /// `[B, K+1]`: 1 where `t+k < T`, else 0.
    pub mask: Vec<f32>,
    /// `[B]`: the row's game ended in a terminal state (past its end the states are
    /// absorbing); false for a truncated game, past whose end nothing is known.
    pub terminated: Vec<bool>,
    /// `[B]`: importance weights `(N P(i))^-beta / max_j (N P(j))^-beta`; all 1 when `alpha = 0`.
    pub weight: Vec<f32>,
    /// `[B]`: the game each row comes from (as returned by `add_game`).
    pub game_id: Vec<i64>,
    /// `[B]`: the position `t` within the game.
    pub position: Vec<i64>,
    /// `[B]`: the global transition id, for [`ReplayBuffer::update_priorities`].
    pub index: Vec<i64>,
}

/// The replay buffer. See the module documentation for the target rules.
#[derive(Debug, Clone)]
pub struct ReplayBuffer {
    config: ReplayConfig,
    /// Created by the first game, when the observation dtype is known.
    columns: Option<Columns>,
    /// `p^alpha` per ring slot; only when `alpha > 0`.
    tree: Option<SumTree>,
    games: VecDeque<StoredGame>,
    /// Transitions stored.
    len: usize,
    /// The rank the next game's first sampled position will get.
    next_rank: u64,
    next_game_id: u64,
    /// The index the next transition will get.
    next_index: u64,
    /// The raw priority of every ring slot (0 when free or never sampled): new games
    /// default to the largest stored one.
    max_tree: MaxTree,
}

fn to_i64(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

impl ReplayBuffer {
    /// An empty buffer. Fails if a field of `config` is out of range.
    pub fn new(config: ReplayConfig) -> Result<Self> {
        config.validate()?;
        let tree = (config.alpha > 0.0).then(|| SumTree::new(0));
        Ok(Self {
            config,
            columns: None,
            tree,
            games: VecDeque::new(),
            len: 0,
            next_rank: 0,
            next_game_id: 0,
            next_index: 0,
            max_tree: MaxTree::new(0),
        })
    }

    /// The configuration (with `obs_dtype` set once the first game arrived).
    pub fn config(&self) -> &ReplayConfig {
        &self.config
    }

    /// The observation dtype, once known.
    pub fn obs_dtype(&self) -> Option<ObsDtype> {
        self.config.obs_dtype
    }

    /// Transitions stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Positions that may be sampled: `len` less the positions stored around
    /// segments ([`GameView::segment`]).
    pub fn positions(&self) -> usize {
        let oldest_rank = self.games.front().map_or(self.next_rank, |g| g.rank);
        (self.next_rank - oldest_rank) as usize
    }

    /// Whether no transition is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Games stored.
    pub fn num_games(&self) -> usize {
        self.games.len()
    }

    /// The id the next game will get (= games ever added).
    pub fn next_game_id(&self) -> u64 {
        self.next_game_id
    }

    /// The index the next transition will get (= transitions ever added).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The index of the oldest stored transition (`next_index` when empty).
    pub fn oldest_index(&self) -> u64 {
        self.games.front().map_or(self.next_index, |g| g.first)
    }

    /// The largest priority stored at a sampled position (1 when empty); new games
    /// default to it.
    ///
    /// EfficientZero's buffer gives new transitions the maximum over the priorities it
    /// holds, so after the errors drop a new game no longer enters with a priority
    /// that only an evicted transition had.
    pub fn max_priority(&self) -> f32 {
        if self.len == 0 {
            INITIAL_MAX_PRIORITY
        } else {
            self.max_tree.max()
        }
    }

    /// Bytes held: every column, the sum tree, the game records and their last frames.
    pub fn nbytes(&self) -> usize {
        self.columns.as_ref().map_or(0, Columns::nbytes)
            + self.tree.as_ref().map_or(0, SumTree::nbytes)
            + self.max_tree.nbytes()
            + self.games.capacity() * std::mem::size_of::<StoredGame>()
            + self.games.iter().map(|g| g.last_observation.nbytes()).sum::<usize>()
    }

    /// The stored transitions' indices (oldest first) and priorities.
    pub fn priorities(&self) -> (Vec<i64>, Vec<f32>) {
        let Some(columns) = &self.columns else { return (Vec::new(), Vec::new()) };
        (self.oldest_index()..self.next_index)
            .map(|i| (to_i64(i), columns.priorities[columns.slot(i)]))
            .unzip()
    }

    /// Adds one game and returns its id (0, 1, 2, ... in order of arrival).
    ///
    /// Validates everything first: on error the buffer is unchanged. Evicts the
    /// oldest whole games until the new one fits in `capacity` transitions.
    /// Without `priorities`, every transition gets the maximum priority stored once
    /// the oldest games made room. Only the positions of `game.segment` are sampled.
    pub fn add_game(&mut self, game: &GameView<'_>) -> Result<u64> {
        let steps = validate_game(&self.config, game)?;
        self.ensure_ids_left(steps)?;
        let game_id = self.next_game_id;
        self.insert(game_id, self.next_index, game, steps);
        Ok(game_id)
    }

    /// Checks that a game of `steps` transitions leaves its ids and indices within
    /// `i64` (they reach Python as `int64`); only a loaded snapshot can come near.
    fn ensure_ids_left(&self, steps: usize) -> Result<()> {
        let last = i64::MAX as u64;
        if self.next_game_id >= last || self.next_index.saturating_add(steps as u64) > last {
            return Err(Error::invalid(
                "buffer",
                "game ids and transition indices left below 2^63",
                format!("next_game_id {}, next_index {}", self.next_game_id, self.next_index),
            ));
        }
        Ok(())
    }

    /// Creates the columns for observations of `dtype` on `ring`, with `rows` rows
    /// (and tree leaves) ready: how a snapshot lays out its games before they go in.
    fn lay_out_ring(&mut self, dtype: ObsDtype, ring: Ring, rows: usize) {
        let mut columns = Columns::new(ring, self.config.num_actions, self.config.frame_len(), dtype);
        columns.reserve_rows(rows);
        self.columns = Some(columns);
        self.config.obs_dtype = Some(dtype);
        self.max_tree.grow(rows);
        if let Some(tree) = &mut self.tree {
            tree.grow(rows);
        }
    }

    /// Stores a validated game of `steps` transitions as game `game_id` with
    /// first index `first` (`>= next_index`). Cannot fail.
    fn insert(&mut self, game_id: u64, first: u64, game: &GameView<'_>, steps: usize) {
        let capacity = self.config.capacity;
        let legal: Vec<u8> = match &game.legal_masks {
            Some(masks) => masks.data.iter().map(|&l| u8::from(l)).collect(),
            None => vec![1; game.policies.data.len()],
        };
        while self.len + steps > capacity {
            self.evict_oldest();
        }
        let default_priorities;
        let priorities = match &game.priorities {
            Some(p) => p.data,
            None => {
                default_priorities = vec![self.max_priority(); steps];
                &default_priorities
            }
        };
        let frame_len = self.config.frame_len();
        let dtype = game.observations.data.dtype();
        let (frames, last_observation) = match game.observations.data {
            ObsSlice::Float32(x) => {
                let (head, last) = x.split_at(steps * frame_len);
                (ObsSlice::Float32(head), ObsVec::Float32(last.to_vec()))
            }
            ObsSlice::Uint8(x) => {
                let (head, last) = x.split_at(steps * frame_len);
                (ObsSlice::Uint8(head), ObsVec::Uint8(last.to_vec()))
            }
        };

        self.config.obs_dtype = Some(dtype);
        let num_actions = self.config.num_actions;
        let columns = self
            .columns
            .get_or_insert_with(|| Columns::new(Ring::new(capacity), num_actions, frame_len, dtype));
        columns.write(
            first,
            GameRows {
                actions: game.actions.data,
                rewards: game.rewards.data,
                root_values: game.root_values.data,
                policies: game.policies.data,
                priorities,
                legal: &legal,
                frames,
            },
        );
        let slots_used = columns.ring().rows_to_hold(first, steps);
        self.max_tree.grow_to_hold(slots_used, capacity);
        let segment = game.sampled_positions(steps);
        // positions outside the segment are stored for its targets but never sampled
        let sampled = |t: usize, p: f32| if (segment.0..segment.1).contains(&t) { p } else { 0.0 };
        for (t, &p) in priorities.iter().enumerate() {
            self.max_tree.set(columns.slot(first + t as u64), sampled(t, p));
        }
        if let Some(tree) = &mut self.tree {
            tree.grow_to_hold(slots_used, capacity);
            for (t, &p) in priorities.iter().enumerate() {
                tree.set(columns.slot(first + t as u64), f64::from(sampled(t, p)).powf(self.config.alpha));
            }
        }
        self.games.push_back(StoredGame {
            id: game_id,
            first,
            len: steps,
            terminated: game.terminated,
            bootstrap_value: game.bootstrap_value,
            last_observation,
            segment,
            rank: self.next_rank,
        });
        self.len += steps;
        self.next_rank += (segment.1 - segment.0) as u64;
        self.next_game_id = game_id + 1;
        self.next_index = first + steps as u64;
    }

    /// Drops the oldest game (its ring slots are reused by later games).
    fn evict_oldest(&mut self) {
        let Some(game) = self.games.pop_front() else { return };
        self.len -= game.len;
        let Some(columns) = &self.columns else { return };
        for index in game.first..game.end() {
            let slot = columns.slot(index);
            self.max_tree.set(slot, 0.0);
            if let Some(tree) = &mut self.tree {
                tree.set(slot, 0.0);
            }
        }
    }

    /// Samples `batch_size` positions and assembles their unrolled targets.
    ///
    /// The same buffer state and `seed` give the same batch. Positions are drawn
    /// independently (with replacement): uniformly when `alpha = 0`, else with
    /// probability `P(i) = p_i^alpha / sum_j p_j^alpha`.
    pub fn sample(&self, batch_size: usize, seed: u64) -> Result<Batch> {
        self.sample_with(batch_size, seed, SampleOptions::default())
    }

    /// [`sample`](Self::sample) plus `next_observation`: the same rows and targets
    /// for the same buffer state and `seed`.
    pub fn sample_with_next_observations(&self, batch_size: usize, seed: u64) -> Result<Batch> {
        self.sample_with(batch_size, seed, SampleOptions { next_observations: true, reanalysis: false })
    }

    /// [`sample`](Self::sample) plus what `options` asks for: the same rows and
    /// targets for the same buffer state and `seed`.
    pub fn sample_with(&self, batch_size: usize, seed: u64, options: SampleOptions) -> Result<Batch> {
        if batch_size == 0 {
            return Err(Error::invalid("batch_size", "at least 1", 0));
        }
        let Some(columns) = self.columns.as_ref().filter(|_| self.len > 0) else {
            return Err(Error::invalid("buffer", "at least one stored transition to sample", "none"));
        };
        let with_next = options.next_observations || options.reanalysis;
        let with_reanalysis = options.reanalysis;
        let (k_steps, num_actions, stack) =
            (self.config.unroll_steps, self.config.num_actions, self.config.stack);
        let (td_steps, g) =
            (self.config.td_steps, targets::signed_discount(self.config.discount, self.config.two_player));
        let frame_len = self.config.frame_len();
        // Sizes of the outputs, checked so that a huge request is an error, not an abort.
        let too_big = || {
            Error::invalid(
                "batch_size",
                "a batch that fits in memory",
                format!("{batch_size} rows x {stack} frames x {} unroll steps", k_steps.saturating_add(1)),
            )
        };
        let steps = k_steps.checked_add(1).and_then(|k1| batch_size.checked_mul(k1));
        let frames = batch_size.checked_mul(stack);
        let observation_len = frames.and_then(|f| f.checked_mul(frame_len));
        let next_frames = if with_next { frames.and_then(|f| f.checked_mul(k_steps)) } else { Some(0) };
        let next_observation_len = next_frames.and_then(|f| f.checked_mul(frame_len));
        let policy_len = steps.and_then(|s| s.checked_mul(num_actions));
        let on_request = |wanted: bool, len: Option<usize>| if wanted { len } else { Some(0) };
        let bootstrap_frames = on_request(with_reanalysis, steps.and_then(|s| s.checked_mul(stack)));
        let bootstrap_observation_len = bootstrap_frames.and_then(|f| f.checked_mul(frame_len));

        let mut rng = ChaCha8Rng::seed_from_u64(seed);

        // 1. Draw the transitions and their importance weights.
        let mut index = try_with_capacity(Some(batch_size), too_big)?;
        let mut weight = try_with_capacity(Some(batch_size), too_big)?;
        match &self.tree {
            None => {
                // uniform over the sampled positions, numbered by rank
                let oldest_rank = self.games.front().map_or(0, |g| g.rank);
                let positions = self.next_rank - oldest_rank;
                for _ in 0..batch_size {
                    let rank = oldest_rank + rng.random_range(0..positions);
                    let game = &self.games[self.games.partition_point(|g| g.end_rank() <= rank)];
                    index.push(game.first + (game.segment.0 as u64 + rank - game.rank));
                }
                weight.resize(batch_size, 1.0f32);
            }
            Some(tree) => {
                let mut masses: Vec<f64> = try_with_capacity(Some(batch_size), too_big)?;
                let (ring, oldest) = (columns.ring(), self.oldest_index());
                for _ in 0..batch_size {
                    let slot = tree.find(rng.random::<f64>() * tree.total()).ok_or_else(|| {
                        Error::invalid("priorities", "p^alpha > 0 for some stored transition", "all 0")
                    })?;
                    index.push(ring.index_of_slot(slot, oldest));
                    masses.push(tree.get(slot));
                }
                // w_i = (N P(i))^-beta / max_j (N P(j))^-beta = (m_min / m_i)^beta with
                // m = p^alpha the sampled masses: N and the total cancel, nothing overflows.
                let m_min = masses.iter().copied().fold(f64::INFINITY, f64::min);
                weight.extend(masses.iter().map(|m| (m_min / m).powf(self.config.beta) as f32));
            }
        }

        // 2. Assemble the unrolled targets of each row.
        let mut batch = Batch {
            observation: ObsVec::new(columns.frames.dtype()),
            observation_actions: try_with_capacity(frames, too_big)?,
            next_observation: None,
            next_observation_actions: None,
            reanalysis: None,
            actions: try_with_capacity(batch_size.checked_mul(k_steps), too_big)?,
            target_value: try_zeros(steps, too_big)?,
            target_reward: try_zeros(steps, too_big)?,
            target_policy: try_zeros(policy_len, too_big)?,
            mask: try_zeros(steps, too_big)?,
            terminated: try_with_capacity(Some(batch_size), too_big)?,
            weight,
            game_id: try_with_capacity(Some(batch_size), too_big)?,
            position: try_with_capacity(Some(batch_size), too_big)?,
            index: index.iter().map(|&i| to_i64(i)).collect(),
        };
        let mut reanalysis = Reanalysis {
            bootstrap_observation: ObsVec::new(columns.frames.dtype()),
            bootstrap_observation_actions: try_with_capacity(bootstrap_frames, too_big)?,
            bootstrap_position: try_zeros(on_request(with_reanalysis, steps), too_big)?,
            reward_sum: try_zeros(on_request(with_reanalysis, steps), too_big)?,
            bootstrap_discount: try_zeros(on_request(with_reanalysis, steps), too_big)?,
            legal_mask: try_zeros(on_request(with_reanalysis, policy_len), too_big)?,
        };
        let mut frame_sources: Vec<FrameSource<'_>> = try_with_capacity(frames, too_big)?;
        let mut next_sources: Vec<FrameSource<'_>> = try_with_capacity(next_frames, too_big)?;
        let mut bootstrap_sources: Vec<FrameSource<'_>> = try_with_capacity(bootstrap_frames, too_big)?;
        let mut next_actions: Vec<i64> = try_with_capacity(next_frames, too_big)?;
        for (b, &i) in index.iter().enumerate() {
            let game = &self.games[self.games.partition_point(|g| g.end() <= i)];
            let t = (i - game.first) as usize;
            let slot_at = |position: usize| columns.slot(game.first + position as u64);
            // the positions of the stack ending at o_end: end-stack+1 .. end, clamped to 0
            let stack_ending_at = |end: usize| (0..stack).map(move |s| (end + s + 1).saturating_sub(stack));
            // frame o_q (o_T at the end) and the action a_{q-1} that led to it (-1 for o_0)
            let frame = |q: usize| {
                if q < game.len {
                    FrameSource::Slot(slot_at(q))
                } else {
                    FrameSource::Last(&game.last_observation)
                }
            };
            let action_before = |q: usize| if q == 0 { -1 } else { columns.actions[slot_at(q - 1)] };
            batch.game_id.push(to_i64(game.id));
            batch.position.push(t as i64);
            batch.terminated.push(game.terminated);
            for k in 0..=k_steps {
                let (row, position) = (b * (k_steps + 1) + k, t + k);
                if position < game.len {
                    let slot = slot_at(position);
                    let parts = targets::n_step(
                        game.len,
                        |j| columns.rewards[slot_at(j)],
                        position,
                        game.terminated,
                        g,
                        td_steps,
                    );
                    batch.target_value[row] = parts.target(|p| {
                        if p < game.len {
                            columns.root_values[slot_at(p)]
                        } else {
                            game.bootstrap_value
                        }
                    }) as f32;
                    batch.target_policy[row * num_actions..(row + 1) * num_actions]
                        .copy_from_slice(columns.policy(slot));
                    batch.mask[row] = 1.0;
                    if with_reanalysis {
                        reanalysis.bootstrap_position[row] =
                            parts.bootstrap_position.map_or(-1, |p| p as i64);
                        reanalysis.reward_sum[row] = parts.reward_sum as f32;
                        reanalysis.bootstrap_discount[row] = parts.discount as f32;
                        for (l, &legal) in reanalysis.legal_mask[row * num_actions..(row + 1) * num_actions]
                            .iter_mut()
                            .zip(columns.legal(slot))
                        {
                            *l = legal != 0;
                        }
                        let end = parts.bootstrap_position.unwrap_or(game.len);
                        bootstrap_sources.extend(stack_ending_at(end).map(frame));
                        reanalysis
                            .bootstrap_observation_actions
                            .extend(stack_ending_at(end).map(action_before));
                    }
                } else if with_reanalysis {
                    reanalysis.bootstrap_position[row] = -1;
                    reanalysis.legal_mask[row * num_actions..(row + 1) * num_actions].fill(true);
                    bootstrap_sources.extend(stack_ending_at(game.len).map(frame));
                    reanalysis
                        .bootstrap_observation_actions
                        .extend(stack_ending_at(game.len).map(action_before));
                }
                if k > 0 && position <= game.len {
                    batch.target_reward[row] = columns.rewards[slot_at(position - 1)];
                }
            }
            for k in 0..k_steps {
                batch.actions.push(if t + k < game.len {
                    columns.actions[slot_at(t + k)]
                } else {
                    rng.random_range(0..num_actions as i64)
                });
            }
            frame_sources.extend(stack_ending_at(t).map(frame));
            batch.observation_actions.extend(stack_ending_at(t).map(action_before));
            if with_next {
                for k in 1..=k_steps {
                    let end = (t + k).min(game.len);
                    next_sources.extend(stack_ending_at(end).map(frame));
                    next_actions.extend(stack_ending_at(end).map(action_before));
                }
            }
        }
        if with_next {
            batch.next_observation = Some(gather_frames(
                &columns.frames,
                frame_len,
                &next_sources,
                next_observation_len,
                too_big,
            )?);
            batch.next_observation_actions = Some(next_actions);
        }
        if with_reanalysis {
            reanalysis.bootstrap_observation = gather_frames(
                &columns.frames,
                frame_len,
                &bootstrap_sources,
                bootstrap_observation_len,
                too_big,
            )?;
            batch.reanalysis = Some(reanalysis);
        }
        batch.observation =
            gather_frames(&columns.frames, frame_len, &frame_sources, observation_len, too_big)?;
        Ok(batch)
    }

    /// The stored game `game_id` and `position` in it, for a write-back: `Ok(None)`
    /// if the game was evicted; an error naming `what` if the id was never issued or
    /// the position is outside `0..T` (`0..=T` when `end_ok`).
    fn locate(
        &self,
        game_id: i64,
        position: i64,
        end_ok: bool,
        row: usize,
    ) -> Result<Option<(usize, usize)>> {
        let issued = to_i64(self.next_game_id);
        if !(0..issued).contains(&game_id) {
            return Err(Error::invalid(
                "game_id",
                format!("game ids issued so far, in [0, {issued})"),
                format!("{game_id} at position {row}"),
            ));
        }
        let Some(front) = self.games.front() else { return Ok(None) };
        let Some(g) = (game_id as u64).checked_sub(front.id) else { return Ok(None) };
        let g = g as usize; // ids of stored games are consecutive
        let steps = self.games[g].len;
        let last = if end_ok { steps } else { steps - 1 };
        match usize::try_from(position) {
            Ok(p) if p <= last => Ok(Some((g, p))),
            _ => Err(Error::invalid(
                "position",
                format!("a position in [0, {last}] of game {game_id} (T = {steps})"),
                format!("{position} at row {row}"),
            )),
        }
    }

    /// Checks `game_id [N]`, `position [N]` and `values` (`[N, *row]`) of a write-back.
    fn check_write_back<T>(
        game_id: &ArrayRef<'_, i64>,
        position: &ArrayRef<'_, i64>,
        values: &ArrayRef<'_, T>,
        name: &str,
        row: &[usize],
    ) -> Result<usize> {
        let [n] = game_id.shape.as_slice() else {
            return Err(Error::invalid("game_id", "a 1-D array", shape(&game_id.shape)));
        };
        ensure_shape("game_id", game_id, &[*n], "[N]")?;
        ensure_shape("position", position, &[*n], "[N] (the shape of game_id)")?;
        let expected = [&[*n], row].concat();
        ensure_shape(name, values, &expected, &shape(&expected))?;
        Ok(*n)
    }

    /// Writes reanalysed values back: `v` of game `game_id[i]` at `position[i]`
    /// becomes `values[i]`, so that later samples bootstrap from it. Position `T`
    /// of a truncated game sets its `bootstrap_value`; a terminated game has no
    /// value at `T`. Rows of evicted games are skipped; a repeated row takes its
    /// last value. Validates everything first: on error the buffer is unchanged.
    pub fn update_values(
        &mut self,
        game_id: &ArrayRef<'_, i64>,
        position: &ArrayRef<'_, i64>,
        values: &ArrayRef<'_, f32>,
    ) -> Result<()> {
        let n = Self::check_write_back(game_id, position, values, "values", &[])?;
        crate::error::ensure_finite("values", values.data)?;
        let mut writes = Vec::with_capacity(n);
        for row in 0..n {
            if let Some((g, p)) = self.locate(game_id.data[row], position.data[row], true, row)? {
                let game = &self.games[g];
                if p == game.len && game.terminated {
                    return Err(Error::invalid(
                        "position",
                        format!("a position in [0, {}) of terminated game {}", game.len, game.id),
                        format!("{p} (its end, whose value is 0) at row {row}"),
                    ));
                }
                writes.push((g, p, values.data[row]));
            }
        }
        let Some(columns) = &mut self.columns else { return Ok(()) };
        for (g, p, v) in writes {
            let game = &mut self.games[g];
            if p == game.len {
                game.bootstrap_value = v;
            } else {
                let slot = columns.slot(game.first + p as u64);
                columns.root_values[slot] = v;
            }
        }
        Ok(())
    }

    /// Writes reanalysed policies back: the policy target of game `game_id[i]` at
    /// `position[i]` (`< T`) becomes `policies[i]` (`[N, A]`, rows non-negative and
    /// summing to 1). Rows of evicted games are skipped; a repeated row takes its
    /// last policy. Validates everything first: on error the buffer is unchanged.
    pub fn update_policies(
        &mut self,
        game_id: &ArrayRef<'_, i64>,
        position: &ArrayRef<'_, i64>,
        policies: &ArrayRef<'_, f32>,
    ) -> Result<()> {
        let num_actions = self.config.num_actions;
        let n = Self::check_write_back(game_id, position, policies, "policies", &[num_actions])?;
        crate::error::ensure_finite("policies", policies.data)?;
        ensure_policies("policies", policies.data, num_actions)?;
        let mut writes = Vec::with_capacity(n);
        for row in 0..n {
            if let Some((g, p)) = self.locate(game_id.data[row], position.data[row], false, row)? {
                writes.push((self.games[g].first + p as u64, row));
            }
        }
        let Some(columns) = &mut self.columns else { return Ok(()) };
        for (index, row) in writes {
            let slot = columns.slot(index);
            columns
                .policy_mut(slot)
                .copy_from_slice(&policies.data[row * num_actions..(row + 1) * num_actions]);
        }
        Ok(())
    }

    /// Sets the priority of each transition `index[i]` to `priorities[i]`.
    ///
    /// Both are 1-D of equal length; priorities are finite and `> 0`; every
    /// index was issued (`0 <= index < next_index`). Indices of evicted
    /// transitions are skipped; a repeated index takes its last priority.
    /// Validates everything first: on error the buffer is unchanged.
    pub fn update_priorities(
        &mut self,
        index: &ArrayRef<'_, i64>,
        priorities: &ArrayRef<'_, f32>,
    ) -> Result<()> {
        let [n] = index.shape.as_slice() else {
            return Err(Error::invalid("index", "a 1-D array", shape(&index.shape)));
        };
        if priorities.shape != [*n] {
            return Err(Error::invalid(
                "priorities",
                format!("shape {} (the shape of index)", shape(&[*n])),
                shape(&priorities.shape),
            ));
        }
        if index.data.len() != *n || priorities.data.len() != *n {
            return Err(Error::invalid("index", format!("{n} elements"), index.data.len()));
        }
        let issued = to_i64(self.next_index);
        if let Some(i) = index.data.iter().position(|x| !(0..issued).contains(x)) {
            return Err(Error::invalid(
                "index",
                format!("transition indices issued so far, in [0, {issued})"),
                format!("{} at position {i}", index.data[i]),
            ));
        }
        ensure_positive("priorities", priorities.data)?;

        let oldest = self.oldest_index();
        let Some(columns) = &mut self.columns else { return Ok(()) };
        for (&i, &p) in index.data.iter().zip(priorities.data) {
            let i = i as u64; // in [0, next_index)
            if i < oldest {
                continue;
            }
            let slot = columns.slot(i);
            columns.priorities[slot] = p;
            let game = &self.games[self.games.partition_point(|g| g.end() <= i)];
            if !game.samples((i - game.first) as usize) {
                continue; // stored around a segment, never sampled
            }
            if let Some(tree) = &mut self.tree {
                tree.set(slot, f64::from(p).powf(self.config.alpha));
            }
            self.max_tree.set(slot, p);
        }
        Ok(())
    }
}

/// Where one frame of a sampled stack comes from.
enum FrameSource<'a> {
    /// A ring slot of the frames column (`o_t` for `t < T`).
    Slot(usize),
    /// A game's last observation `o_T`.
    Last(&'a ObsVec),
}

/// The frames `sources` in order, from the frames column or the games' `o_T`;
/// `len` elements in all, or `too_big()` (see [`try_with_capacity`]).
fn gather_frames<'a>(
    frames: &'a ObsVec,
    frame_len: usize,
    sources: &[FrameSource<'a>],
    len: Option<usize>,
    too_big: impl Fn() -> Error,
) -> Result<ObsVec> {
    fn gather_typed<'a, T: Copy>(
        mut out: Vec<T>,
        frames: &'a [T],
        frame_len: usize,
        sources: &[FrameSource<'a>],
        last: impl Fn(&'a ObsVec) -> Option<&'a [T]>,
    ) -> Result<Vec<T>> {
        for source in sources {
            match source {
                FrameSource::Slot(slot) => {
                    out.extend_from_slice(&frames[slot * frame_len..(slot + 1) * frame_len]);
                }
                FrameSource::Last(observation) => {
                    let frame = last(observation).ok_or_else(|| {
                        Error::invalid("observations", "one dtype in the whole buffer", "two")
                    })?;
                    out.extend_from_slice(frame);
                }
            }
        }
        Ok(out)
    }
    Ok(match frames {
        ObsVec::Float32(frames) => {
            let out = try_with_capacity(len, too_big)?;
            ObsVec::Float32(gather_typed(out, frames, frame_len, sources, |o| match o {
                ObsVec::Float32(x) => Some(x.as_slice()),
                ObsVec::Uint8(_) => None,
            })?)
        }
        ObsVec::Uint8(frames) => {
            let out = try_with_capacity(len, too_big)?;
            ObsVec::Uint8(gather_typed(out, frames, frame_len, sources, |o| match o {
                ObsVec::Uint8(x) => Some(x.as_slice()),
                ObsVec::Float32(_) => None,
            })?)
        }
    })
}

/// The `frame_len`-element rows `slots` of `frames`, in order.
fn gather<T: Copy>(frames: &[T], frame_len: usize, slots: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(slots.len() * frame_len);
    for &slot in slots {
        out.extend_from_slice(&frames[slot * frame_len..(slot + 1) * frame_len]);
    }
    out
}

/// An empty vector with room for `len` elements, or `too_big()` if `len`
/// overflowed (`None`) or cannot be allocated.
fn try_with_capacity<T>(len: Option<usize>, too_big: impl Fn() -> Error) -> Result<Vec<T>> {
    let len = len.ok_or_else(&too_big)?;
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| too_big())?;
    Ok(out)
}

/// `len` zeros, or `too_big()` (see [`try_with_capacity`]).
fn try_zeros<T: Clone + Default>(len: Option<usize>, too_big: impl Fn() -> Error) -> Result<Vec<T>> {
    let mut out = try_with_capacity(len, too_big)?;
    out.resize(len.unwrap_or(0), T::default());
    Ok(out)
}

#[cfg(test)]
mod tests;
