//! The replay buffer of MuZero: whole games in, unrolled training batches out.
//!
//! Games are stored in contiguous per-field columns used as a ring
//! ([`storage`]); the capacity counts transitions and the oldest whole games
//! leave first. Every transition gets a global id, its `index`, issued in
//! order and never reused. A batch draws positions `t` uniformly (`alpha = 0`)
//! or in proportion to `p^alpha` with a [`SumTree`](sum_tree::SumTree)
//! (Schaul et al. 2016), then assembles for `k = 0..K` the targets of
//! Schrittwieser et al. 2020 (appendix G) with absorbing steps past the end:
//!
//! * `target_value[k] = z_{t+k}` if `t+k < T` else 0 (`z` from [`targets`]);
//! * `target_reward[0] = 0`, `target_reward[k] = u_{t+k}` if `t+k <= T` else 0;
//! * `target_policy[k] = pi_{t+k}` if `t+k < T` else 0; `mask[k] = [t+k < T]`;
//! * `actions[k] = a_{t+k}` for `k < K`, uniformly random past the end;
//! * the observation stacks `o_{t-stack+1} .. o_t`, repeating `o_0` before the start;
//! * on request ([`ReplayBuffer::sample_with_next_observations`]), the stacks ending
//!   at `o_{t+k}` for `k = 1..K`, with `o_T` (the game's last observation) standing in
//!   for every position past the end: the targets of a latent consistency loss
//!   (EfficientZero, Ye et al. 2021).

mod game;
mod persist;
mod storage;
pub mod sum_tree;
pub mod targets;

use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use game::{ArrayRef, GameView, ObsArray, ReplayConfig, POLICY_SUM_TOLERANCE};
pub use storage::{ObsDtype, ObsSlice, ObsVec};

use crate::error::{Error, Result};
use game::{ensure_positive, shape, validate_game};
use storage::{Columns, GameRows};
use sum_tree::SumTree;

/// The priority of a new game's transitions before any priority was given.
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
}

impl StoredGame {
    fn end(&self) -> u64 {
        self.first + self.len as u64
    }
}

/// A sampled batch: `B` rows, each unrolled `K` steps. Arrays are flat, C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `[B, stack, *obs_shape]`, the buffer's dtype: `o_{t-stack+1} .. o_t`.
    pub observation: ObsVec,
    /// `[B, K, stack, *obs_shape]` when requested: row `k - 1` is the stack ending at
    /// `o_{min(t+k, T)}`.
    pub next_observation: Option<ObsVec>,
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
    next_game_id: u64,
    /// The index the next transition will get.
    next_index: u64,
    /// The largest priority given so far; new games default to it.
    max_priority: f32,
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
            next_game_id: 0,
            next_index: 0,
            max_priority: INITIAL_MAX_PRIORITY,
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

    /// The largest priority given so far (1 before any); new games default to it.
    pub fn max_priority(&self) -> f32 {
        self.max_priority
    }

    /// Bytes held: every column, the sum tree, the game records and their last frames.
    pub fn nbytes(&self) -> usize {
        self.columns.as_ref().map_or(0, Columns::nbytes)
            + self.tree.as_ref().map_or(0, SumTree::nbytes)
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
    /// Without `priorities`, every transition gets the maximum priority seen.
    pub fn add_game(&mut self, game: &GameView<'_>) -> Result<u64> {
        let steps = validate_game(&self.config, game)?;
        let game_id = self.next_game_id;
        self.insert(game_id, self.next_index, game, steps);
        Ok(game_id)
    }

    /// Stores a validated game of `steps` transitions as game `game_id` with
    /// first index `first` (`>= next_index`). Cannot fail.
    fn insert(&mut self, game_id: u64, first: u64, game: &GameView<'_>, steps: usize) {
        let capacity = self.config.capacity;
        let g = targets::signed_discount(self.config.discount, self.config.two_player);
        let value_targets = targets::n_step_values(
            game.rewards.data,
            game.root_values.data,
            game.terminated,
            game.bootstrap_value,
            g,
            self.config.td_steps,
        );
        let default_priorities;
        let priorities = match &game.priorities {
            Some(p) => p.data,
            None => {
                default_priorities = vec![self.max_priority; steps];
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

        while self.len + steps > capacity {
            self.evict_oldest();
        }
        self.config.obs_dtype = Some(dtype);
        let num_actions = self.config.num_actions;
        let columns =
            self.columns.get_or_insert_with(|| Columns::new(capacity, num_actions, frame_len, dtype));
        columns.write(
            first,
            GameRows {
                actions: game.actions.data,
                rewards: game.rewards.data,
                root_values: game.root_values.data,
                value_targets: &value_targets,
                policies: game.policies.data,
                priorities,
                frames,
            },
        );
        if let Some(tree) = &mut self.tree {
            let slots_used = usize::try_from(first + steps as u64).map_or(capacity, |n| n.min(capacity));
            if slots_used > tree.num_leaves() {
                tree.grow(slots_used.max(2 * tree.num_leaves()).min(capacity));
            }
            for (t, &p) in priorities.iter().enumerate() {
                tree.set(columns.slot(first + t as u64), f64::from(p).powf(self.config.alpha));
            }
        }
        self.max_priority = priorities.iter().copied().fold(self.max_priority, f32::max);
        self.games.push_back(StoredGame {
            id: game_id,
            first,
            len: steps,
            terminated: game.terminated,
            bootstrap_value: game.bootstrap_value,
            last_observation,
        });
        self.len += steps;
        self.next_game_id = game_id + 1;
        self.next_index = first + steps as u64;
    }

    /// Drops the oldest game (its ring slots are reused by later games).
    fn evict_oldest(&mut self) {
        let Some(game) = self.games.pop_front() else { return };
        self.len -= game.len;
        if let (Some(tree), Some(columns)) = (&mut self.tree, &self.columns) {
            for index in game.first..game.end() {
                tree.set(columns.slot(index), 0.0);
            }
        }
    }

    /// The stored index whose ring slot is `slot`.
    fn index_of_slot(&self, slot: usize) -> u64 {
        let capacity = self.config.capacity as u64;
        let oldest = self.oldest_index();
        oldest + (slot as u64 + capacity - oldest % capacity) % capacity
    }

    /// Samples `batch_size` positions and assembles their unrolled targets.
    ///
    /// The same buffer state and `seed` give the same batch. Positions are drawn
    /// independently (with replacement): uniformly when `alpha = 0`, else with
    /// probability `P(i) = p_i^alpha / sum_j p_j^alpha`.
    pub fn sample(&self, batch_size: usize, seed: u64) -> Result<Batch> {
        self.sample_rows(batch_size, seed, false)
    }

    /// [`sample`](Self::sample) plus `next_observation`: the same rows and targets
    /// for the same buffer state and `seed`.
    pub fn sample_with_next_observations(&self, batch_size: usize, seed: u64) -> Result<Batch> {
        self.sample_rows(batch_size, seed, true)
    }

    fn sample_rows(&self, batch_size: usize, seed: u64, with_next: bool) -> Result<Batch> {
        if batch_size == 0 {
            return Err(Error::invalid("batch_size", "at least 1", 0));
        }
        let Some(columns) = self.columns.as_ref().filter(|_| self.len > 0) else {
            return Err(Error::invalid("buffer", "at least one stored transition to sample", "none"));
        };
        let (k_steps, num_actions, stack) =
            (self.config.unroll_steps, self.config.num_actions, self.config.stack);
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

        let mut rng = ChaCha8Rng::seed_from_u64(seed);

        // 1. Draw the transitions and their importance weights.
        let mut index = try_with_capacity(Some(batch_size), too_big)?;
        let mut weight = try_with_capacity(Some(batch_size), too_big)?;
        match &self.tree {
            None => {
                for _ in 0..batch_size {
                    index.push(self.oldest_index() + rng.random_range(0..self.len as u64));
                }
                weight.resize(batch_size, 1.0f32);
            }
            Some(tree) => {
                let mut masses: Vec<f64> = try_with_capacity(Some(batch_size), too_big)?;
                for _ in 0..batch_size {
                    let slot = tree.find(rng.random::<f64>() * tree.total()).ok_or_else(|| {
                        Error::invalid("priorities", "p^alpha > 0 for some stored transition", "all 0")
                    })?;
                    index.push(self.index_of_slot(slot));
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
            next_observation: None,
            actions: try_with_capacity(batch_size.checked_mul(k_steps), too_big)?,
            target_value: try_zeros(steps, too_big)?,
            target_reward: try_zeros(steps, too_big)?,
            target_policy: try_zeros(policy_len, too_big)?,
            mask: try_zeros(steps, too_big)?,
            weight,
            game_id: try_with_capacity(Some(batch_size), too_big)?,
            position: try_with_capacity(Some(batch_size), too_big)?,
            index: index.iter().map(|&i| to_i64(i)).collect(),
        };
        let mut frame_sources: Vec<FrameSource<'_>> = try_with_capacity(frames, too_big)?;
        let mut next_sources: Vec<FrameSource<'_>> = try_with_capacity(next_frames, too_big)?;
        for (b, &i) in index.iter().enumerate() {
            let game = &self.games[self.games.partition_point(|g| g.end() <= i)];
            let t = (i - game.first) as usize;
            let slot_at = |position: usize| columns.slot(game.first + position as u64);
            batch.game_id.push(to_i64(game.id));
            batch.position.push(t as i64);
            for k in 0..=k_steps {
                let (row, position) = (b * (k_steps + 1) + k, t + k);
                if position < game.len {
                    let slot = slot_at(position);
                    batch.target_value[row] = columns.value_targets[slot];
                    batch.target_policy[row * num_actions..(row + 1) * num_actions]
                        .copy_from_slice(columns.policy(slot));
                    batch.mask[row] = 1.0;
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
            // o_{t-stack+1} .. o_t, clamped to o_0 before the start.
            frame_sources
                .extend((0..stack).map(|s| FrameSource::Slot(slot_at((t + s + 1).saturating_sub(stack)))));
            if with_next {
                for k in 1..=k_steps {
                    let end = (t + k).min(game.len);
                    next_sources.extend((0..stack).map(|s| {
                        let q = (end + s + 1).saturating_sub(stack);
                        if q < game.len {
                            FrameSource::Slot(slot_at(q))
                        } else {
                            FrameSource::Last(&game.last_observation)
                        }
                    }));
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
        }
        batch.observation =
            gather_frames(&columns.frames, frame_len, &frame_sources, observation_len, too_big)?;
        Ok(batch)
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
            if let Some(tree) = &mut self.tree {
                tree.set(slot, f64::from(p).powf(self.config.alpha));
            }
            self.max_priority = self.max_priority.max(p);
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
