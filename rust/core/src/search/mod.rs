//! Batched Monte Carlo Tree Search: MuZero's PUCT and Gumbel MuZero over `B` games
//! at once, and Stochastic MuZero's decision and chance nodes ([`StochasticSearch`]).
//!
//! The caller owns the model. A search is a loop of one model call per simulation
//! for the whole batch:
//!
//! ```
//! use mzero_core::search::{BatchSearch, Roots, SearchConfig};
//!
//! let config = SearchConfig { num_simulations: 8, ..SearchConfig::default() };
//! let roots = Roots { value: &[0.0; 2], logits: &[0.0; 6], num_actions: 3, legal_mask: None };
//! let mut search = BatchSearch::new();
//! search.begin(&config, roots, 0)?;
//! while !search.is_done() {
//!     // The leaves to evaluate: (game, parent, action, node) for every game.
//!     let leaves = search.requests();
//!     assert_eq!(leaves.node, [leaves.node[0]; 2]);
//!     // A model maps (latent of `parent`, `action`) to (reward, value, logits) and
//!     // stores the new latent under `node`.
//!     search.advance(&[0.0; 2], &[0.5; 2], &[0.0; 6])?;
//! }
//! let out = search.output()?;
//! assert_eq!(out.visit_counts.iter().sum::<i32>(), 16);
//! # Ok::<(), mzero_core::Error>(())
//! ```
//!
//! Node ids: the root is 0 and the node expanded by simulation `k` is `k + 1`, in
//! every game. The per-game work (selection, expansion, backup) runs on rayon's
//! threads when the batch is large enough; each game has its own random stream
//! seeded from `(seed, game index)`, so results never depend on the thread count
//! or on the other games in the batch.

mod gumbel;
mod noise;
mod puct;
mod stochastic;
mod tree;

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;

use crate::error::ensure_finite;
use crate::{Error, Result};
pub use gumbel::considered_visits;
use gumbel::{Gumbel, RootNoise};
use puct::{MinMax, Puct};
pub use stochastic::{run_stochastic, AfterstateEvaluation, StochasticSearch};
use tree::{masked_softmax_into, Tree, ROOT};

/// Largest supported `num_simulations` (node ids are stored as `u32`).
pub const MAX_SIMULATIONS: usize = 1 << 24;

/// The largest `c_visit` and `c_scale`: `sigma = (c_visit + max N) * c_scale * q` of
/// Gumbel MuZero, with `q` rescaled to [0, 1], then stays finite for every
/// `num_simulations` (about 1e200 at most), so no policy can turn NaN. (mctx uses 50
/// and 0.1.)
pub const MAX_GUMBEL_CONSTANT: f64 = 1e100;

/// Batches at least this large spread the per-game work over rayon's threads.
/// Each simulation is one fork-join, and during a real model call (about 1 ms on a
/// CPU) the workers fall asleep: waking them costs more than it saves below about
/// 1,024 games (2-core development machine, `benches/bench_selfplay.py`; at 256 games
/// a search took 12 ms of tree work on two threads against 7 ms on one).
pub const PARALLEL_MIN_GAMES: usize = 1024;

/// The search algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// MuZero's PUCT (Schrittwieser et al. 2020).
    #[default]
    MuZero,
    /// Gumbel MuZero (Danihelka et al. 2022).
    Gumbel,
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "muzero" => Ok(Algorithm::MuZero),
            "gumbel" => Ok(Algorithm::Gumbel),
            other => Err(Error::invalid("algorithm", "\"muzero\" or \"gumbel\"", format!("{other:?}"))),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::MuZero => "muzero",
            Algorithm::Gumbel => "gumbel",
        })
    }
}

/// Search settings; the fields and defaults of Python's `mzero.SearchConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchConfig {
    /// Simulations per search (one model call each), `1..=MAX_SIMULATIONS`.
    pub num_simulations: usize,
    /// Discount gamma in `[0, 1]`.
    pub discount: f64,
    /// PUCT's c1.
    pub pb_c_init: f64,
    /// PUCT's c2.
    pub pb_c_base: f64,
    /// Concentration of the root Dirichlet noise (MuZero only).
    pub dirichlet_alpha: f64,
    /// Weight of the root Dirichlet noise in `[0, 1]`; 0 disables it (MuZero only).
    pub dirichlet_fraction: f64,
    /// Values are from the view of the player to move; the effective discount is `-discount`.
    pub two_player: bool,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Gumbel: actions sampled at the root (k of Gumbel-top-k).
    pub max_considered_actions: usize,
    /// Gumbel: scale of the root Gumbel noise; 0 makes the search deterministic.
    pub gumbel_scale: f64,
    /// Gumbel: `c_visit` of `sigma` (mctx's `maxvisit_init`).
    pub c_visit: f64,
    /// Gumbel: `c_scale` of `sigma` (mctx's `value_scale`).
    pub c_scale: f64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            num_simulations: 50,
            discount: 0.997,
            pb_c_init: 1.25,
            pb_c_base: 19652.0,
            dirichlet_alpha: 0.3,
            dirichlet_fraction: 0.0,
            two_player: false,
            algorithm: Algorithm::MuZero,
            max_considered_actions: 16,
            gumbel_scale: 1.0,
            c_visit: 50.0,
            c_scale: 0.1,
        }
    }
}

impl SearchConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        fn check(name: &str, value: f64, ok: bool, expected: &str) -> Result<()> {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(Error::invalid(name, expected, value))
            }
        }
        if !(1..=MAX_SIMULATIONS).contains(&self.num_simulations) {
            return Err(Error::invalid(
                "num_simulations",
                format!("an integer in [1, {MAX_SIMULATIONS}]"),
                self.num_simulations,
            ));
        }
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        check("discount", self.discount, unit(self.discount), "a number in [0, 1]")?;
        check("pb_c_init", self.pb_c_init, self.pb_c_init >= 0.0, "a finite number >= 0")?;
        check("pb_c_base", self.pb_c_base, self.pb_c_base > 0.0, "a finite number > 0")?;
        check("dirichlet_alpha", self.dirichlet_alpha, self.dirichlet_alpha > 0.0, "a finite number > 0")?;
        check(
            "dirichlet_fraction",
            self.dirichlet_fraction,
            unit(self.dirichlet_fraction),
            "a number in [0, 1]",
        )?;
        if self.max_considered_actions < 1 {
            return Err(Error::invalid(
                "max_considered_actions",
                "an integer >= 1",
                self.max_considered_actions,
            ));
        }
        check("gumbel_scale", self.gumbel_scale, self.gumbel_scale >= 0.0, "a finite number >= 0")?;
        let gumbel_constant = |x: f64| (0.0..=MAX_GUMBEL_CONSTANT).contains(&x);
        let expected = format!("a number in [0, {MAX_GUMBEL_CONSTANT:e}]");
        check("c_visit", self.c_visit, gumbel_constant(self.c_visit), &expected)?;
        check("c_scale", self.c_scale, gumbel_constant(self.c_scale), &expected)?;
        Ok(())
    }

    /// The effective discount g: `discount`, or `-discount` in two-player games.
    pub fn effective_discount(&self) -> f64 {
        if self.two_player {
            -self.discount
        } else {
            self.discount
        }
    }
}

/// The roots of a batch of games.
#[derive(Debug, Clone, Copy)]
pub struct Roots<'a> {
    /// `[B]` the network's value of each root.
    pub value: &'a [f32],
    /// `[B, A]` row-major prior logits of each root.
    pub logits: &'a [f32],
    /// `A`.
    pub num_actions: usize,
    /// `[B, A]` legal actions at the root (all legal when `None`); every row needs one.
    pub legal_mask: Option<&'a [bool]>,
}

/// The leaves of one simulation, one per game (length `B` each), as the model's
/// `(game, parent, action, node)` arguments.
#[derive(Debug, Default, Clone)]
pub struct LeafRequests {
    /// `0..B`.
    pub game: Vec<i64>,
    /// The node whose latent state the model steps from.
    pub parent: Vec<i64>,
    /// The action taken from `parent`.
    pub action: Vec<i64>,
    /// Id of the new node (`simulation index + 1`), under which the model stores the new latent.
    pub node: Vec<i64>,
}

/// The result of a search, flattened row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutput {
    /// `B`.
    pub batch: usize,
    /// `A`.
    pub num_actions: usize,
    /// `[B, A]` visits of each root child (sums to `num_simulations` per game).
    pub visit_counts: Vec<i32>,
    /// `[B, A]` policy target: visit distribution (MuZero) or improved policy (Gumbel).
    pub policy: Vec<f32>,
    /// `[B]` `W(root) / N(root)`.
    pub root_value: Vec<f32>,
    /// `[B, A]` `Q(root, a)`, 0 where unvisited.
    pub q_values: Vec<f32>,
    /// `[B]` the chosen action.
    pub action: Vec<i64>,
}

/// One game's tree plus its root data and scratch space.
#[derive(Debug, Default, Clone)]
struct Game {
    tree: Tree,
    min_max: MinMax,
    /// `[A]` root legal mask.
    legal: Vec<bool>,
    /// `[A]` root Gumbel noise (Gumbel MuZero).
    gumbel: Vec<f64>,
    /// `[A]` root logits shifted so that the largest legal one is 0 (`-inf` if illegal).
    root_logits: Vec<f64>,
    /// `[n]` sequential halving's visit schedule (Gumbel MuZero).
    schedule: Vec<u32>,
    /// `[A]` scratch for noise and completed Q values.
    scratch: Vec<f64>,
    /// The (parent, action) pair this simulation expands.
    leaf: (usize, usize),
}

/// Constants of one search shared by every game.
#[derive(Debug, Clone, Default)]
struct Rules {
    algorithm: Algorithm,
    puct: Puct,
    gumbel: Gumbel,
    g: f64,
}

impl Rules {
    fn reset(&mut self, config: &SearchConfig) {
        let g = config.effective_discount();
        self.algorithm = config.algorithm;
        self.puct.reset(config.pb_c_init, config.pb_c_base, config.num_simulations + 1);
        self.gumbel = Gumbel { c_visit: config.c_visit, c_scale: config.c_scale };
        self.g = g;
    }
}

impl Game {
    /// Empties the tree and adds the root: `N = 1`, `W = root_value`, priors from the
    /// legal logits (with Dirichlet noise for MuZero), Gumbel noise and the
    /// sequential halving schedule for Gumbel MuZero.
    fn begin(
        &mut self,
        config: &SearchConfig,
        root_value: f32,
        logits: &[f32],
        legal: &[bool],
        mut rng: rand_chacha::ChaCha8Rng,
    ) -> Result<()> {
        let a = logits.len();
        self.tree.reset(config.num_simulations + 1, a)?;
        self.min_max = MinMax::default();
        self.legal.clear();
        self.legal.extend_from_slice(legal);
        self.scratch.resize(a, 0.0);
        self.gumbel.resize(a, 0.0);
        self.root_logits.resize(a, 0.0);
        let v = f64::from(root_value);
        let root = self.tree.add_node(None, 0.0, v);
        self.tree.visits[root] = 1;
        self.tree.value_sum[root] = v;
        masked_softmax_into(logits, legal, &mut self.tree.prior[..a], &mut self.root_logits);
        self.tree.has_priors[root] = true;
        match config.algorithm {
            Algorithm::MuZero => {
                let f = config.dirichlet_fraction;
                if f > 0.0 {
                    noise::dirichlet_into(&mut rng, config.dirichlet_alpha, legal, &mut self.scratch)?;
                    for ((p, &n), &l) in self.tree.prior[..a].iter_mut().zip(&self.scratch).zip(legal) {
                        if l {
                            *p = (1.0 - f) * *p + f * n;
                        }
                    }
                }
            }
            Algorithm::Gumbel => {
                noise::gumbel_into(&mut rng, config.gumbel_scale, legal, &mut self.gumbel);
                let num_legal = legal.iter().filter(|&&l| l).count();
                let m = config.max_considered_actions.min(num_legal);
                considered_visits(m, config.num_simulations, &mut self.schedule);
            }
        }
        Ok(())
    }

    /// Descends from the root to the first unexpanded edge; stores it in `self.leaf`.
    fn select(&mut self, rules: &Rules) {
        let tree = &self.tree;
        let mut node = ROOT;
        let mut action = match rules.algorithm {
            Algorithm::MuZero => {
                rules.puct.select(tree, ROOT, &self.min_max, Some(&self.legal), &mut self.scratch)
            }
            Algorithm::Gumbel => {
                // The root's visit count is 1 + the simulations done so far.
                let simulation = tree.visits[ROOT] - 1;
                let considered = self.schedule.get(simulation as usize).copied().unwrap_or(simulation);
                let root = RootNoise { legal: &self.legal, logits: &self.root_logits, gumbel: &self.gumbel };
                rules.gumbel.select_root(tree, &root, considered, &mut self.scratch)
            }
        };
        while let Some(child) = self.tree.child(node, action) {
            node = child;
            // Priors are computed the first time a simulation passes through a node:
            // most leaves of a search are never passed through.
            self.tree.ensure_priors(node);
            let tree = &self.tree;
            action = match rules.algorithm {
                Algorithm::MuZero => rules.puct.select(tree, node, &self.min_max, None, &mut self.scratch),
                Algorithm::Gumbel => rules.gumbel.select_interior(tree, node, &mut self.scratch),
            };
        }
        self.leaf = (node, action);
    }

    /// Expands `self.leaf` with the model's output and backs the value up to the root.
    fn expand_and_backup(&mut self, rules: &Rules, reward: f32, value: f32, logits: &[f32]) {
        let tree = &mut self.tree;
        let a = tree.num_actions;
        let node = tree.add_node(Some(self.leaf), f64::from(reward), f64::from(value));
        tree.logits[node * a..(node + 1) * a].copy_from_slice(logits);
        // every edge's new Q(parent, child) goes into the tree-global min-max
        let min_max = &mut self.min_max;
        tree.backup(node, f64::from(value), rules.g, |q| min_max.update(q));
    }

    /// Writes this game's row of the output.
    fn output(&mut self, rules: &Rules, num_simulations: usize, row: OutputRow<'_>) {
        let tree = &self.tree;
        for (a, (n, q)) in row.visit_counts.iter_mut().zip(row.q_values.iter_mut()).enumerate() {
            *n = tree.child_visits(ROOT, a) as i32;
            *q = tree.q(ROOT, a).unwrap_or(0.0) as f32;
        }
        *row.root_value = tree.value(ROOT) as f32;
        match rules.algorithm {
            Algorithm::MuZero => {
                let mut best = 0;
                for (a, (&n, p)) in row.visit_counts.iter().zip(row.policy.iter_mut()).enumerate() {
                    *p = (f64::from(n) / num_simulations as f64) as f32;
                    if n > row.visit_counts[best] {
                        best = a;
                    }
                }
                *row.action = best as i64;
            }
            Algorithm::Gumbel => {
                let sigma = &mut self.scratch;
                rules.gumbel.transformed_q(tree, ROOT, sigma);
                let max_visits = row.visit_counts.iter().copied().max().unwrap_or(0) as u32;
                let root = RootNoise { legal: &self.legal, logits: &self.root_logits, gumbel: &self.gumbel };
                *row.action = gumbel::score_considered(tree, &root, max_visits, sigma) as i64;
                gumbel::improved_policy(tree.edges(&tree.prior, ROOT), &self.legal, sigma);
                for (p, &s) in row.policy.iter_mut().zip(sigma.iter()) {
                    *p = s as f32;
                }
            }
        }
    }
}

/// Checks a search's config and roots (shapes, finiteness, legal rows, sizes); returns `B`.
fn check_roots(config: &SearchConfig, roots: &Roots<'_>, first_game: usize) -> Result<usize> {
    let Roots { value: root_value, logits: root_logits, num_actions, legal_mask } = *roots;
    config.validate()?;
    let batch = root_value.len();
    if batch == 0 {
        return Err(Error::invalid("root_value", "at least one game (B >= 1)", "B = 0"));
    }
    if num_actions == 0 {
        return Err(Error::invalid("root_logits", "at least one action (A >= 1)", "A = 0"));
    }
    let expected = batch.checked_mul(num_actions).ok_or_else(|| {
        Error::invalid("root_logits", "a size that fits in memory", format!("[{batch}, {num_actions}]"))
    })?;
    if root_logits.len() != expected {
        return Err(Error::invalid(
            "root_logits",
            format!("{expected} values ([B, A] = [{batch}, {num_actions}])"),
            root_logits.len(),
        ));
    }
    ensure_finite("root_value", root_value)?;
    ensure_finite("root_logits", root_logits)?;
    if let Some(mask) = legal_mask {
        if mask.len() != expected {
            return Err(Error::invalid(
                "legal_mask",
                format!("{expected} values ([B, A] = [{batch}, {num_actions}])"),
                mask.len(),
            ));
        }
        if let Some(row) = mask.chunks_exact(num_actions).position(|r| !r.contains(&true)) {
            return Err(Error::invalid(
                "legal_mask",
                "at least one legal action in every row",
                format!("none in row {row}"),
            ));
        }
    }
    (config.num_simulations + 1).checked_mul(num_actions).ok_or_else(|| {
        Error::invalid("num_simulations", "a tree that fits in memory", config.num_simulations)
    })?;
    first_game.checked_add(batch).ok_or_else(|| {
        Error::invalid("first_game", format!("at most {} for B = {batch}", usize::MAX - batch), first_game)
    })?;
    Ok(batch)
}

/// Whether to spread `batch` games over rayon's threads.
fn parallel(batch: usize) -> bool {
    batch >= PARALLEL_MIN_GAMES && rayon::current_num_threads() > 1
}

/// Mutable views of one game's row in a [`SearchOutput`].
struct OutputRow<'a> {
    visit_counts: &'a mut [i32],
    policy: &'a mut [f32],
    q_values: &'a mut [f32],
    root_value: &'a mut f32,
    action: &'a mut i64,
}

impl SearchOutput {
    /// The output of `games` (one row each) over `num_actions` actions, each row
    /// written by `write(game, row)`.
    fn collect<G>(games: &mut [G], num_actions: usize, mut write: impl FnMut(&mut G, OutputRow<'_>)) -> Self {
        let (b, a) = (games.len(), num_actions);
        let mut out = SearchOutput {
            batch: b,
            num_actions: a,
            visit_counts: vec![0; b * a],
            policy: vec![0.0; b * a],
            root_value: vec![0.0; b],
            q_values: vec![0.0; b * a],
            action: vec![0; b],
        };
        let rows = out
            .visit_counts
            .chunks_exact_mut(a)
            .zip(out.policy.chunks_exact_mut(a))
            .zip(out.q_values.chunks_exact_mut(a))
            .zip(out.root_value.iter_mut().zip(out.action.iter_mut()));
        for (game, (((visit_counts, policy), q_values), (root_value, action))) in games.iter_mut().zip(rows) {
            write(game, OutputRow { visit_counts, policy, q_values, root_value, action });
        }
        out
    }
}

/// `B` trees searched together, reusable across searches: a second search of the
/// same (or a smaller) size allocates nothing.
#[derive(Debug, Default, Clone)]
pub struct BatchSearch {
    config: SearchConfig,
    rules: Rules,
    started: bool,
    batch: usize,
    num_actions: usize,
    games: Vec<Game>,
    requests: LeafRequests,
    /// Simulations expanded so far.
    simulation: usize,
}

impl BatchSearch {
    /// An empty search; [`BatchSearch::begin`] sizes it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a search of the `B` games of `roots` and selects the leaves of
    /// simulation 0. Every input is checked before anything changes.
    pub fn begin(&mut self, config: &SearchConfig, roots: Roots<'_>, seed: u64) -> Result<()> {
        self.begin_at(config, roots, seed, 0)
    }

    /// [`BatchSearch::begin`] for games `first_game..first_game + B` of a larger
    /// population: game `i` of `roots` draws its root noise from the stream of
    /// `(seed, first_game + i)`, so searching a population in several parts gives each
    /// game exactly what one search of the whole population gives it. The leaf
    /// requests still number the games `0..B`.
    pub fn begin_at(
        &mut self,
        config: &SearchConfig,
        roots: Roots<'_>,
        seed: u64,
        first_game: usize,
    ) -> Result<()> {
        let Roots { value: root_value, logits: root_logits, num_actions, legal_mask } = roots;
        let batch = check_roots(config, &roots, first_game)?;

        // Until every game has begun, this is no search (a failed begin leaves none).
        self.started = false;
        self.config = config.clone();
        self.rules.reset(config);
        let rules = &self.rules;
        self.batch = batch;
        self.num_actions = num_actions;
        self.simulation = 0;
        if self.games.len() < batch {
            self.games.resize_with(batch, Game::default);
        }
        let all_legal = vec![true; num_actions];
        let games = &mut self.games[..batch];
        let begin_one = |(i, game): (usize, &mut Game)| {
            let row = i * num_actions..(i + 1) * num_actions;
            let legal = legal_mask.map_or(&all_legal[..], |m| &m[row.clone()]);
            game.begin(
                config,
                root_value[i],
                &root_logits[row],
                legal,
                noise::game_rng(seed, first_game + i),
            )?;
            game.select(rules);
            Ok(())
        };
        if parallel(batch) {
            games.par_iter_mut().enumerate().try_for_each(begin_one)?;
        } else {
            games.iter_mut().enumerate().try_for_each(begin_one)?;
        }
        let r = &mut self.requests;
        for v in [&mut r.game, &mut r.parent, &mut r.action, &mut r.node] {
            v.clear();
            v.resize(batch, 0);
        }
        for (i, g) in r.game.iter_mut().enumerate() {
            *g = i as i64;
        }
        self.collect_leaves();
        self.started = true;
        Ok(())
    }

    fn collect_leaves(&mut self) {
        let node = self.simulation as i64 + 1;
        let r = &mut self.requests;
        for (i, game) in self.games[..self.batch].iter().enumerate() {
            r.parent[i] = game.leaf.0 as i64;
            r.action[i] = game.leaf.1 as i64;
            r.node[i] = node;
        }
    }

    /// `B` of the current search.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// `A` of the current search.
    pub fn num_actions(&self) -> usize {
        self.num_actions
    }

    /// Whether every simulation has been expanded (or no search has begun).
    pub fn is_done(&self) -> bool {
        !self.started || self.simulation >= self.config.num_simulations
    }

    /// The leaves the model must evaluate for the current simulation.
    pub fn requests(&self) -> &LeafRequests {
        &self.requests
    }

    /// Expands the current simulation's leaves with the model's `reward` `[B]`,
    /// `value` `[B]` and `logits` `[B, A]`, backs the values up, and selects the next
    /// simulation's leaves. Inputs are checked (lengths, finiteness) before anything changes.
    pub fn advance(&mut self, reward: &[f32], value: &[f32], logits: &[f32]) -> Result<()> {
        if self.is_done() {
            return Err(Error::invalid("advance", "a search in progress", "a finished search"));
        }
        let rules = &self.rules;
        let (b, a) = (self.batch, self.num_actions);
        let check_len = |name: &str, v: &[f32], n: usize, shape: String| {
            if v.len() == n {
                Ok(())
            } else {
                Err(Error::invalid(name, format!("{n} values ({shape})"), v.len()))
            }
        };
        check_len("reward", reward, b, format!("[N] = [{b}]"))?;
        check_len("value", value, b, format!("[N] = [{b}]"))?;
        check_len("logits", logits, b * a, format!("[N, A] = [{b}, {a}]"))?;
        ensure_finite("reward", reward)?;
        ensure_finite("value", value)?;
        ensure_finite("logits", logits)?;

        let more = self.simulation + 1 < self.config.num_simulations;
        let step = |(i, game): (usize, &mut Game)| {
            game.expand_and_backup(rules, reward[i], value[i], &logits[i * a..(i + 1) * a]);
            if more {
                game.select(rules);
            }
        };
        let games = &mut self.games[..b];
        if parallel(b) {
            games.par_iter_mut().enumerate().for_each(step);
        } else {
            games.iter_mut().enumerate().for_each(step);
        }
        self.simulation += 1;
        if more {
            self.collect_leaves();
        }
        Ok(())
    }

    /// The result of the finished search: fresh vectors.
    pub fn output(&mut self) -> Result<SearchOutput> {
        if !self.started || !self.is_done() {
            return Err(Error::invalid("output", "a finished search", "a search in progress or none"));
        }
        let (rules, n) = (&self.rules, self.config.num_simulations);
        Ok(SearchOutput::collect(&mut self.games[..self.batch], self.num_actions, |game, row| {
            game.output(rules, n, row)
        }))
    }

    /// Bytes held by the trees (to bound what a cache of searches keeps alive).
    pub fn capacity_bytes(&self) -> usize {
        self.games.iter().map(|g| g.tree.capacity_bytes()).sum()
    }
}

/// The model's outputs for one simulation, reused across simulations:
/// `reward` `[B]`, `value` `[B]`, `logits` `[B, A]`.
#[derive(Debug, Default, Clone)]
pub struct Evaluation {
    /// `[B]`.
    pub reward: Vec<f32>,
    /// `[B]`.
    pub value: Vec<f32>,
    /// `[B, A]`.
    pub logits: Vec<f32>,
}

/// Runs a whole search with `recurrent` as the model: it reads the leaves and fills
/// the [`Evaluation`] (already sized `[B]`, `[B]`, `[B, A]`).
pub fn run<F>(
    search: &mut BatchSearch,
    config: &SearchConfig,
    roots: Roots<'_>,
    seed: u64,
    recurrent: F,
) -> Result<SearchOutput>
where
    F: FnMut(&LeafRequests, &mut Evaluation) -> Result<()>,
{
    run_at(search, config, roots, seed, 0, recurrent)
}

/// [`run`] for games `first_game..first_game + B` of a larger population (see
/// [`BatchSearch::begin_at`]).
pub fn run_at<F>(
    search: &mut BatchSearch,
    config: &SearchConfig,
    roots: Roots<'_>,
    seed: u64,
    first_game: usize,
    mut recurrent: F,
) -> Result<SearchOutput>
where
    F: FnMut(&LeafRequests, &mut Evaluation) -> Result<()>,
{
    search.begin_at(config, roots, seed, first_game)?;
    let (b, a) = (search.batch(), search.num_actions());
    let mut eval = Evaluation { reward: vec![0.0; b], value: vec![0.0; b], logits: vec![0.0; b * a] };
    while !search.is_done() {
        recurrent(search.requests(), &mut eval)?;
        search.advance(&eval.reward, &eval.value, &eval.logits)?;
    }
    search.output()
}

#[cfg(test)]
mod tests;
