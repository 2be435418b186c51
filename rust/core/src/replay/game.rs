//! The buffer's configuration and one game as the caller hands it over, with
//! the checks that every game passes before the buffer changes.

use super::storage::{ObsDtype, ObsSlice};
use crate::error::{ensure_finite, Error, Result};

/// How far a policy row may sum from 1.
pub const POLICY_SUM_TOLERANCE: f64 = 1e-3;

/// The largest priority exponent: `p^alpha` of every positive `float32` priority
/// (`2^-149 <= p < 2^128`) is then a positive, normal `f64` (`2^-596 .. 2^512`), and
/// so is the sum of any number of them, which the sum tree needs. (Prioritized
/// replay uses `alpha` of 0.4 to 1.)
pub const MAX_ALPHA: f64 = 4.0;

/// The most unroll steps `K`: a batch row holds `K + 1` targets and, on request,
/// `K` observation stacks, so this caps what one row of a sample costs whatever a
/// snapshot's header says. (MuZero unrolls 5 steps.)
pub const MAX_UNROLL_STEPS: usize = 1024;

/// The most frames in a stack, for the same reason. (MuZero's Atari network sees 32.)
pub const MAX_STACK: usize = 1024;

/// The configuration of a [`ReplayBuffer`](super::ReplayBuffer). Fields and
/// defaults follow the Replay contract of `docs/design.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayConfig {
    /// Transitions kept; the oldest whole games leave first.
    pub capacity: usize,
    /// The shape of one observation `o_t` (without the stack axis).
    pub obs_shape: Vec<usize>,
    /// `A`, the size of the action space.
    pub num_actions: usize,
    /// `K`, the number of unroll steps of the dynamics network.
    pub unroll_steps: usize,
    /// `n`, the bootstrap horizon of the value target.
    pub td_steps: usize,
    /// The discount in `[0, 1]`.
    pub discount: f64,
    /// Two players alternate: the effective discount is `-discount`.
    pub two_player: bool,
    /// Priority exponent: positions are sampled with probability `p^alpha / sum p^alpha`.
    pub alpha: f64,
    /// Importance-sampling exponent of the weights `(N P(i))^-beta`.
    pub beta: f64,
    /// Frames per sampled observation: `o_{t-stack+1} .. o_t`.
    pub stack: usize,
    /// The observation dtype; `None` until the first game fixes it.
    pub obs_dtype: Option<ObsDtype>,
}

impl ReplayConfig {
    /// The contract's defaults: `unroll_steps=5, td_steps=10, discount=0.997,
    /// two_player=false, alpha=0, beta=1, stack=1`, dtype fixed by the first game.
    pub fn new(capacity: usize, obs_shape: Vec<usize>, num_actions: usize) -> Self {
        Self {
            capacity,
            obs_shape,
            num_actions,
            unroll_steps: 5,
            td_steps: 10,
            discount: 0.997,
            two_player: false,
            alpha: 0.0,
            beta: 1.0,
            stack: 1,
            obs_dtype: None,
        }
    }

    /// Elements in one observation (the product of `obs_shape`; 1 for a scalar).
    pub fn frame_len(&self) -> usize {
        self.obs_shape.iter().product()
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.capacity == 0 {
            return Err(Error::invalid("capacity", "at least 1 transition", 0));
        }
        if let Some(i) = self.obs_shape.iter().position(|&d| d == 0) {
            return Err(Error::invalid(
                "obs_shape",
                "positive dimensions",
                format!("{} (dimension {i} is 0)", shape(&self.obs_shape)),
            ));
        }
        let Some(frame_len) = self.obs_shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
            return Err(Error::invalid(
                "obs_shape",
                "dimensions whose product fits in memory",
                format!("{} (the product overflows)", shape(&self.obs_shape)),
            ));
        };
        let row_len = frame_len.max(self.num_actions).max(8);
        if row_len.checked_mul(self.capacity).is_none_or(|n| n > isize::MAX as usize) {
            return Err(Error::invalid(
                "capacity",
                "a buffer that fits in memory",
                format!("capacity {} x obs_shape {}", self.capacity, shape(&self.obs_shape)),
            ));
        }
        if self.num_actions == 0 {
            return Err(Error::invalid("num_actions", "at least 1", 0));
        }
        if !(self.discount.is_finite() && (0.0..=1.0).contains(&self.discount)) {
            return Err(Error::invalid("discount", "a value in [0, 1]", self.discount));
        }
        if !(0.0..=MAX_ALPHA).contains(&self.alpha) {
            return Err(Error::invalid("alpha", format!("a value in [0, {MAX_ALPHA}]"), self.alpha));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(Error::invalid("beta", "a finite value >= 0", self.beta));
        }
        if !(1..=MAX_STACK).contains(&self.stack) {
            return Err(Error::invalid("stack", format!("1 to {MAX_STACK} frames"), self.stack));
        }
        if self.unroll_steps > MAX_UNROLL_STEPS {
            return Err(Error::invalid(
                "unroll_steps",
                format!("at most {MAX_UNROLL_STEPS} steps"),
                self.unroll_steps,
            ));
        }
        Ok(())
    }
}

/// A borrowed n-dimensional array: its shape and its elements in C order.
#[derive(Debug, Clone)]
pub struct ArrayRef<'a, T> {
    /// The shape.
    pub shape: Vec<usize>,
    /// The elements, `product(shape)` of them.
    pub data: &'a [T],
}

impl<'a, T> ArrayRef<'a, T> {
    /// An array of `shape` over `data`.
    pub fn new(shape: Vec<usize>, data: &'a [T]) -> Self {
        Self { shape, data }
    }

    /// A 1-D array over `data`.
    pub fn vector(data: &'a [T]) -> Self {
        Self { shape: vec![data.len()], data }
    }

    /// A 2-D array of `rows` rows over `data`.
    pub fn matrix(rows: usize, data: &'a [T]) -> Self {
        let cols = data.len().checked_div(rows).unwrap_or(0);
        Self { shape: vec![rows, cols], data }
    }
}

/// Observations `[T+1, *obs_shape]` of either dtype.
#[derive(Debug, Clone)]
pub struct ObsArray<'a> {
    /// The shape, `[T+1, *obs_shape]`.
    pub shape: Vec<usize>,
    /// The elements in C order.
    pub data: ObsSlice<'a>,
}

/// One finished (or truncated) game, as `add_game` receives it.
#[derive(Debug, Clone)]
pub struct GameView<'a> {
    /// `[T+1, *obs_shape]`: `o_0 .. o_T`.
    pub observations: ObsArray<'a>,
    /// `[T]`: `a_0 .. a_{T-1}`, each in `[0, A)`.
    pub actions: ArrayRef<'a, i64>,
    /// `[T]`: `u_1 .. u_T` (`u_{t+1}` follows `a_t`).
    pub rewards: ArrayRef<'a, f32>,
    /// `[T]`: the search value at each position.
    pub root_values: ArrayRef<'a, f32>,
    /// `[T, A]`: the search policy at each position; rows sum to 1.
    pub policies: ArrayRef<'a, f32>,
    /// The game ended in a terminal state (else it was truncated).
    pub terminated: bool,
    /// The value of `o_T` used to bootstrap a truncated game.
    pub bootstrap_value: f32,
    /// `[T]` positive priorities, or `None` for the largest priority stored.
    pub priorities: Option<ArrayRef<'a, f32>>,
    /// `[T, A]`: the legal actions at each position (a reanalysis searches them), or
    /// `None` when every action is always legal.
    pub legal_masks: Option<ArrayRef<'a, bool>>,
    /// The positions `start..stop` that may be sampled, or `None` for all of `0..T`.
    ///
    /// A segment of a longer game (EfficientZero's game segments) is stored with the
    /// positions around it: the frames before `start` that its stacks need, and the
    /// next `td_steps + K` steps after `stop`, so that the targets of every sampled
    /// position are the whole game's. Only `start..stop` is sampled.
    pub segment: Option<(usize, usize)>,
}

impl GameView<'_> {
    /// The positions that may be sampled: `segment`, or `0..steps`.
    pub fn sampled_positions(&self, steps: usize) -> (usize, usize) {
        self.segment.unwrap_or((0, steps))
    }
}

/// `[3, 4]`.
pub(crate) fn shape(dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// Checks that `array` has shape `expected` (`what` spells it out) and as many elements.
pub(crate) fn ensure_shape<T>(
    name: &str,
    array: &ArrayRef<'_, T>,
    expected: &[usize],
    what: &str,
) -> Result<()> {
    if array.shape != expected {
        return Err(Error::invalid(name, format!("shape {what} = {}", shape(expected)), shape(&array.shape)));
    }
    ensure_len(name, array.data.len(), &array.shape)
}

/// Checks that a buffer of `len` elements fills `dims`.
fn ensure_len(name: &str, len: usize, dims: &[usize]) -> Result<()> {
    let elements: usize = dims.iter().product();
    if len != elements {
        return Err(Error::invalid(
            name,
            format!("{elements} elements for shape {}", shape(dims)),
            format!("{len} elements"),
        ));
    }
    Ok(())
}

/// Checks `game` against `config` (and the buffer's dtype, `config.obs_dtype`)
/// and returns its length `T`. Nothing is mutated: callers validate first.
pub(crate) fn validate_game(config: &ReplayConfig, game: &GameView<'_>) -> Result<usize> {
    let steps = match game.actions.shape.as_slice() {
        [steps] => *steps,
        other => return Err(Error::invalid("actions", "a 1-D array [T]", shape(other))),
    };
    if steps == 0 {
        return Err(Error::invalid("actions", "T >= 1 steps", "T = 0 (an empty game)"));
    }
    if steps > config.capacity {
        return Err(Error::invalid(
            "actions",
            format!("T <= capacity = {} steps", config.capacity),
            format!("T = {steps}"),
        ));
    }
    ensure_len("actions", game.actions.data.len(), &game.actions.shape)?;

    let mut obs_shape = vec![steps + 1];
    obs_shape.extend_from_slice(&config.obs_shape);
    if game.observations.shape != obs_shape {
        return Err(Error::invalid(
            "observations",
            format!("shape [T+1, *obs_shape] = {} (T = {steps} from actions)", shape(&obs_shape)),
            shape(&game.observations.shape),
        ));
    }
    ensure_len("observations", game.observations.data.len(), &obs_shape)?;
    if let Some(dtype) = config.obs_dtype {
        if game.observations.data.dtype() != dtype {
            return Err(Error::invalid(
                "observations",
                format!("dtype {dtype}, the dtype of this buffer"),
                game.observations.data.dtype(),
            ));
        }
    }
    ensure_shape("rewards", &game.rewards, &[steps], "[T]")?;
    ensure_shape("root_values", &game.root_values, &[steps], "[T]")?;
    ensure_shape("policies", &game.policies, &[steps, config.num_actions], "[T, A]")?;
    if let Some(priorities) = &game.priorities {
        ensure_shape("priorities", priorities, &[steps], "[T]")?;
    }
    if let Some((start, stop)) = game.segment {
        if !(start < stop && stop <= steps) {
            return Err(Error::invalid(
                "segment",
                format!("positions (start, stop) with 0 <= start < stop <= T = {steps}"),
                format!("({start}, {stop})"),
            ));
        }
    }
    if let Some(legal) = &game.legal_masks {
        ensure_shape("legal_masks", legal, &[steps, config.num_actions], "[T, A]")?;
        if let Some(t) = legal.data.chunks_exact(config.num_actions).position(|row| !row.contains(&true)) {
            return Err(Error::invalid(
                "legal_masks",
                "at least one legal action per row",
                format!("none at row {t}"),
            ));
        }
    }

    let num_actions = i64::try_from(config.num_actions).unwrap_or(i64::MAX);
    if let Some(i) = game.actions.data.iter().position(|a| !(0..num_actions).contains(a)) {
        return Err(Error::invalid(
            "actions",
            format!("actions in [0, {num_actions})"),
            format!("{} at position {i}", game.actions.data[i]),
        ));
    }
    if let ObsSlice::Float32(observations) = game.observations.data {
        ensure_finite("observations", observations)?;
    }
    ensure_finite("rewards", game.rewards.data)?;
    ensure_finite("root_values", game.root_values.data)?;
    ensure_finite("policies", game.policies.data)?;
    ensure_finite("bootstrap_value", &[game.bootstrap_value])?;
    ensure_policies("policies", game.policies.data, config.num_actions)?;
    if let Some(priorities) = &game.priorities {
        ensure_positive("priorities", priorities.data)?;
    }
    Ok(steps)
}

/// Checks that every row of `num_actions` probabilities is non-negative and sums to 1
/// (within [`POLICY_SUM_TOLERANCE`]); the values are finite (checked before).
pub(crate) fn ensure_policies(name: &str, policies: &[f32], num_actions: usize) -> Result<()> {
    for (t, row) in policies.chunks_exact(num_actions).enumerate() {
        if let Some(a) = row.iter().position(|&p| p < 0.0) {
            return Err(Error::invalid(
                name,
                "non-negative probabilities",
                format!("{} at row {t}, action {a}", row[a]),
            ));
        }
        let sum: f64 = row.iter().map(|&p| f64::from(p)).sum();
        if (sum - 1.0).abs() > POLICY_SUM_TOLERANCE {
            return Err(Error::invalid(
                name,
                format!("rows summing to 1 (within {POLICY_SUM_TOLERANCE})"),
                format!("row {t} sums to {sum}"),
            ));
        }
    }
    Ok(())
}

/// Checks that every priority is finite and `> 0`.
pub(crate) fn ensure_positive(name: &str, values: &[f32]) -> Result<()> {
    match values.iter().position(|p| !(p.is_finite() && *p > 0.0)) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(name, "finite values > 0", format!("{} at position {i}", values[i]))),
    }
}
