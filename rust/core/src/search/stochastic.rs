//! Stochastic MuZero (Antonoglou et al., ICLR 2022): search over decision and chance
//! nodes, with the semantics of mctx's `stochastic_muzero_policy`.
//!
//! A decision node (a state) chooses an action `a`, which leads to an afterstate: a
//! chance node. The chance node chooses one of `C` chance codes `c`; the dynamics then
//! gives the next decision node, with a reward. So a path alternates
//! decision, chance, decision, ...; the root is a decision node.
//!
//! - Edges into a chance node carry reward 0 and discount 1: `Q(s, a) = V(afterstate)`.
//!   Edges into a decision node carry the dynamics' reward `r` and the effective
//!   discount `g` (`-discount` when two-player): `Q(as, c) = r + g * V(child)`.
//!   Afterstate values are from the view of the player who moved at the parent.
//! - Decision nodes select by PUCT as mctx's `muzero_action_selection` with its
//!   default `qtransform_by_parent_and_siblings`: `Q` is normalised per node, by the
//!   min and max over the node's own value `W(s) / N(s)` and its visited children's
//!   `Q`, denominator at least 1e-8; unvisited children score 0 for value. (mctx adds
//!   a 1e-7 uniform noise to break ties; here ties go to the lowest action.) The root
//!   considers the legal actions only (with Dirichlet noise when configured);
//!   interior decision nodes all `A`.
//! - Chance nodes select the code maximising `P(c) / (N(c) + 1)`, ties to the lowest
//!   code (mctx's `jnp.argmax`).
//! - Backup as everywhere: the new node gets `N += 1, W += v`, then up each edge
//!   `G = r + d * G` with `(r, d) = (0, 1)` into a chance node and `(r, g)` into a
//!   decision node.
//!
//! Node ids are as in the plain search: simulation `k` expands node `k + 1`, a
//! decision or a chance node. Each simulation's leaves split into two request lists:
//! games whose leaf hangs below a decision node need the afterstate model
//! `(state, action) -> (afterstate value, code logits [C])`, the others the dynamics
//! `(afterstate, code) -> (reward, value, action logits [A])`. The caller answers
//! both lists (either may be empty) and [`StochasticSearch::advance`] continues.

use rayon::prelude::*;

use super::noise;
use super::puct::Puct;
use super::tree::{masked_softmax_into, softmax_into, Tree, ROOT};
use super::{check_roots, parallel, Algorithm, LeafRequests, Roots, SearchConfig, SearchOutput};
use crate::error::ensure_finite;
use crate::{Error, Result};

/// mctx's `qtransform_by_parent_and_siblings` epsilon.
const EPSILON: f64 = 1e-8;

/// What kind of model call a game's current leaf needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum LeafKind {
    /// Below a decision node: the afterstate model.
    #[default]
    Afterstate,
    /// Below a chance node: the dynamics.
    Dynamics,
}

#[derive(Debug, Default, Clone)]
struct ChanceGame {
    /// Decision and chance nodes, `max(A, C)` edges a node (a decision node uses the
    /// first `A`, a chance node the first `C`).
    tree: Tree,
    legal: Vec<bool>,
    scratch: Vec<f64>,
    shifted: Vec<f64>,
    leaf: (usize, usize),
    kind: LeafKind,
    /// Row of this game in its kind's request list.
    slot: usize,
}

/// Constants of one stochastic search.
#[derive(Debug, Clone, Default)]
struct ChanceRules {
    puct: Puct,
    g: f64,
    num_actions: usize,
    num_codes: usize,
}

impl ChanceGame {
    fn begin(
        &mut self,
        config: &SearchConfig,
        rules: &ChanceRules,
        root_value: f32,
        logits: &[f32],
        legal: &[bool],
        mut rng: rand_chacha::ChaCha8Rng,
    ) -> Result<()> {
        let a = rules.num_actions;
        self.tree.reset(config.num_simulations + 1, a.max(rules.num_codes))?;
        self.legal.clear();
        self.legal.extend_from_slice(legal);
        self.scratch.resize(a.max(rules.num_codes), 0.0);
        self.shifted.resize(a, 0.0);
        let root = self.tree.add_node(None, 0.0, 0.0);
        self.tree.visits[root] = 1;
        self.tree.value_sum[root] = f64::from(root_value);
        masked_softmax_into(logits, legal, &mut self.tree.prior[..a], &mut self.shifted);
        self.tree.has_priors[root] = true;
        let f = config.dirichlet_fraction;
        if f > 0.0 {
            noise::dirichlet_into(&mut rng, config.dirichlet_alpha, legal, &mut self.scratch[..a])?;
            for ((p, &n), &l) in self.tree.prior[..a].iter_mut().zip(&self.scratch).zip(legal) {
                if l {
                    *p = (1.0 - f) * *p + f * n;
                }
            }
        }
        Ok(())
    }

    /// PUCT at a decision node with mctx's per-node Q normalisation.
    fn select_decision(&self, rules: &ChanceRules, node: usize, legal: Option<&[bool]>) -> usize {
        let t = &self.tree;
        let a = rules.num_actions;
        let row = node * t.num_actions..node * t.num_actions + a;
        let (priors, visits, qs) = (&t.prior[row.clone()], &t.edge_visits[row.clone()], &t.edge_q[row]);
        let node_value = t.value_sum[node] / f64::from(t.visits[node]);
        let (mut lo, mut hi) = (node_value, node_value);
        for (&n, &q) in visits.iter().zip(qs) {
            if n > 0 {
                lo = lo.min(q);
                hi = hi.max(q);
            }
        }
        let scale = (hi - lo).max(EPSILON);
        let (sqrt_n, pb_c) = rules.puct.factors(t.visits[node] as usize);
        let mut best = usize::MAX;
        let mut best_score = f64::NEG_INFINITY;
        for (i, ((&p, &n), &q)) in priors.iter().zip(visits).zip(qs).enumerate() {
            if legal.is_some_and(|m| !m[i]) {
                continue;
            }
            let value_score = if n > 0 { (q - lo) / scale } else { 0.0 };
            let score = value_score + sqrt_n * pb_c * p / (f64::from(n) + 1.0);
            if best == usize::MAX || score > best_score {
                best = i;
                best_score = score;
            }
        }
        best
    }

    /// The code maximising `P(c) / (N(c) + 1)`, ties to the lowest.
    fn select_chance(&self, rules: &ChanceRules, node: usize) -> usize {
        let t = &self.tree;
        let row = node * t.num_actions..node * t.num_actions + rules.num_codes;
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for (i, (&p, &n)) in t.prior[row.clone()].iter().zip(&t.edge_visits[row]).enumerate() {
            let score = p / (f64::from(n) + 1.0);
            if score > best_score {
                best = i;
                best_score = score;
            }
        }
        best
    }

    fn ensure_priors(&mut self, rules: &ChanceRules, node: usize) {
        let t = &mut self.tree;
        if !t.has_priors[node] {
            let k = if t.is_chance[node] { rules.num_codes } else { rules.num_actions };
            let row = node * t.num_actions..node * t.num_actions + k;
            softmax_into(&t.logits[row.clone()], &mut t.prior[row]);
            t.has_priors[node] = true;
        }
    }

    fn select(&mut self, rules: &ChanceRules) {
        let mut node = ROOT;
        let mut i = self.select_decision(rules, ROOT, Some(&self.legal));
        while let Some(child) = self.tree.child(node, i) {
            node = child;
            self.ensure_priors(rules, node);
            i = if self.tree.is_chance[node] {
                self.select_chance(rules, node)
            } else {
                self.select_decision(rules, node, None)
            };
        }
        self.leaf = (node, i);
        self.kind = if self.tree.is_chance[node] { LeafKind::Dynamics } else { LeafKind::Afterstate };
    }

    /// Expands the leaf with `(reward, value, logits)` and backs up.
    fn expand_and_backup(&mut self, rules: &ChanceRules, reward: f32, value: f32, logits: &[f32]) {
        let is_chance = self.kind == LeafKind::Afterstate;
        let t = &mut self.tree;
        let node = if is_chance {
            t.add_chance_node(self.leaf)
        } else {
            t.add_node(Some(self.leaf), f64::from(reward), 0.0)
        };
        let w = t.num_actions;
        t.logits[node * w..node * w + logits.len()].copy_from_slice(logits);
        t.backup(node, f64::from(value), rules.g, |_| {});
    }

    fn output(&self, num_simulations: usize, row: super::OutputRow<'_>) {
        let t = &self.tree;
        let mut best = 0;
        for (a, ((n, q), p)) in
            row.visit_counts.iter_mut().zip(row.q_values.iter_mut()).zip(row.policy.iter_mut()).enumerate()
        {
            let visits = t.edge_visits[a];
            *n = visits as i32;
            *q = if visits > 0 { t.edge_q[a] as f32 } else { 0.0 };
            *p = (f64::from(visits) / num_simulations as f64) as f32;
            if visits > t.edge_visits[best] {
                best = a;
            }
        }
        *row.root_value = (t.value_sum[ROOT] / f64::from(t.visits[ROOT])) as f32;
        *row.action = best as i64;
    }
}

/// `B` Stochastic MuZero trees searched together, reusable across searches.
///
/// ```
/// use mzero_core::search::{Roots, SearchConfig, StochasticSearch};
///
/// let config = SearchConfig { num_simulations: 4, ..SearchConfig::default() };
/// let roots = Roots { value: &[0.0; 2], logits: &[0.0; 6], num_actions: 3, legal_mask: None };
/// let mut search = StochasticSearch::new();
/// search.begin(&config, roots, 2, 0)?;
/// while !search.is_done() {
///     let (na, nd) = (search.afterstate_requests().game.len(), search.dynamics_requests().game.len());
///     // afterstate model: value [Na], code logits [Na, C]; dynamics: reward, value [Nd], logits [Nd, A].
///     search.advance(&vec![0.5; na], &vec![0.0; na * 2], &vec![0.0; nd], &vec![0.5; nd], &vec![0.0; nd * 3])?;
/// }
/// assert_eq!(search.output()?.visit_counts.iter().sum::<i32>(), 8);
/// # Ok::<(), mzero_core::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct StochasticSearch {
    num_simulations: usize,
    rules: ChanceRules,
    started: bool,
    batch: usize,
    games: Vec<ChanceGame>,
    afterstate: LeafRequests,
    dynamics: LeafRequests,
    simulation: usize,
}

impl StochasticSearch {
    /// An empty search.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a search of the games of `roots` with `num_chance_outcomes` codes.
    pub fn begin(
        &mut self,
        config: &SearchConfig,
        roots: Roots<'_>,
        num_chance_outcomes: usize,
        seed: u64,
    ) -> Result<()> {
        self.begin_at(config, roots, num_chance_outcomes, seed, 0)
    }

    /// [`StochasticSearch::begin`] for games `first_game..first_game + B` of a larger
    /// population (root Dirichlet noise from the stream of `(seed, first_game + i)`).
    /// Every input is checked before anything changes.
    pub fn begin_at(
        &mut self,
        config: &SearchConfig,
        roots: Roots<'_>,
        num_chance_outcomes: usize,
        seed: u64,
        first_game: usize,
    ) -> Result<()> {
        let batch = check_roots(config, &roots, first_game)?;
        if config.algorithm != Algorithm::MuZero {
            return Err(Error::invalid(
                "algorithm",
                "\"muzero\" (a stochastic search selects by PUCT)",
                format!("\"{}\"", config.algorithm),
            ));
        }
        if num_chance_outcomes == 0 {
            return Err(Error::invalid("num_chance_outcomes", "an integer >= 1", 0));
        }
        let a = roots.num_actions;
        let width = a.max(num_chance_outcomes);
        (config.num_simulations + 1).checked_mul(width).ok_or_else(|| {
            Error::invalid("num_chance_outcomes", "a tree that fits in memory", num_chance_outcomes)
        })?;
        self.started = false;
        self.num_simulations = config.num_simulations;
        self.rules.puct.reset(config.pb_c_init, config.pb_c_base, config.num_simulations + 1);
        self.rules.g = config.effective_discount();
        self.rules.num_actions = a;
        self.rules.num_codes = num_chance_outcomes;
        self.batch = batch;
        self.simulation = 0;
        if self.games.len() < batch {
            self.games.resize_with(batch, ChanceGame::default);
        }
        let rules = &self.rules;
        let all_legal = vec![true; a];
        let Roots { value, logits, legal_mask, .. } = roots;
        let begin_one = |(i, game): (usize, &mut ChanceGame)| {
            let row = i * a..(i + 1) * a;
            let legal = legal_mask.map_or(&all_legal[..], |m| &m[row.clone()]);
            game.begin(config, rules, value[i], &logits[row], legal, noise::game_rng(seed, first_game + i))?;
            game.select(rules);
            Ok(())
        };
        let games = &mut self.games[..batch];
        if parallel(batch) {
            games.par_iter_mut().enumerate().try_for_each(begin_one)?;
        } else {
            games.iter_mut().enumerate().try_for_each(begin_one)?;
        }
        self.collect_leaves();
        self.started = true;
        Ok(())
    }

    fn collect_leaves(&mut self) {
        let node = self.simulation as i64 + 1;
        for r in [&mut self.afterstate, &mut self.dynamics] {
            for v in [&mut r.game, &mut r.parent, &mut r.action, &mut r.node] {
                v.clear();
            }
        }
        for (i, game) in self.games[..self.batch].iter_mut().enumerate() {
            let r = match game.kind {
                LeafKind::Afterstate => &mut self.afterstate,
                LeafKind::Dynamics => &mut self.dynamics,
            };
            game.slot = r.game.len();
            r.game.push(i as i64);
            r.parent.push(game.leaf.0 as i64);
            r.action.push(game.leaf.1 as i64);
            r.node.push(node);
        }
    }

    /// `B`.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// `A`.
    pub fn num_actions(&self) -> usize {
        self.rules.num_actions
    }

    /// `C`.
    pub fn num_chance_outcomes(&self) -> usize {
        self.rules.num_codes
    }

    /// Whether every simulation has been expanded (or no search has begun).
    pub fn is_done(&self) -> bool {
        !self.started || self.simulation >= self.num_simulations
    }

    /// This simulation's leaves below decision nodes, `Na <= B` of them, in game
    /// order: `(game, parent state, action, new afterstate node)` for the afterstate model.
    pub fn afterstate_requests(&self) -> &LeafRequests {
        &self.afterstate
    }

    /// This simulation's leaves below chance nodes, `Nd = B - Na` of them, in game
    /// order: `(game, parent afterstate, code, new state node)` for the dynamics.
    pub fn dynamics_requests(&self) -> &LeafRequests {
        &self.dynamics
    }

    /// Expands the leaves with the afterstate model's `afterstate_value` `[Na]` and
    /// `code_logits` `[Na, C]` and the dynamics' `reward` `[Nd]`, `value` `[Nd]` and
    /// `logits` `[Nd, A]`, backs up and selects the next leaves. Inputs are checked
    /// before anything changes.
    pub fn advance(
        &mut self,
        afterstate_value: &[f32],
        code_logits: &[f32],
        reward: &[f32],
        value: &[f32],
        logits: &[f32],
    ) -> Result<()> {
        if self.is_done() {
            return Err(Error::invalid("advance", "a search in progress", "a finished search"));
        }
        let (a, c) = (self.rules.num_actions, self.rules.num_codes);
        let (na, nd) = (self.afterstate.game.len(), self.dynamics.game.len());
        let check = |name: &str, v: &[f32], n: usize, shape: String| {
            if v.len() != n {
                return Err(Error::invalid(name, format!("{n} values ({shape})"), v.len()));
            }
            ensure_finite(name, v)
        };
        check("afterstate_value", afterstate_value, na, format!("[N] = [{na}]"))?;
        check("code_logits", code_logits, na * c, format!("[N, C] = [{na}, {c}]"))?;
        check("reward", reward, nd, format!("[N] = [{nd}]"))?;
        check("value", value, nd, format!("[N] = [{nd}]"))?;
        check("logits", logits, nd * a, format!("[N, A] = [{nd}, {a}]"))?;
        let more = self.simulation + 1 < self.num_simulations;
        let rules = &self.rules;
        let step = |game: &mut ChanceGame| {
            let s = game.slot;
            match game.kind {
                LeafKind::Afterstate => {
                    game.expand_and_backup(rules, 0.0, afterstate_value[s], &code_logits[s * c..(s + 1) * c])
                }
                LeafKind::Dynamics => {
                    game.expand_and_backup(rules, reward[s], value[s], &logits[s * a..(s + 1) * a])
                }
            }
            if more {
                game.select(rules);
            }
        };
        let games = &mut self.games[..self.batch];
        if parallel(games.len()) {
            games.par_iter_mut().for_each(step);
        } else {
            games.iter_mut().for_each(step);
        }
        self.simulation += 1;
        if more {
            self.collect_leaves();
        }
        Ok(())
    }

    /// The result of the finished search: visit counts, visit policy, root value,
    /// `Q(root, a)` (the afterstates' values) and the most visited action.
    pub fn output(&mut self) -> Result<SearchOutput> {
        if !self.started || !self.is_done() {
            return Err(Error::invalid("output", "a finished search", "a search in progress or none"));
        }
        let n = self.num_simulations;
        Ok(SearchOutput::collect(&mut self.games[..self.batch], self.rules.num_actions, |game, row| {
            game.output(n, row)
        }))
    }

    /// Bytes held by the trees.
    pub fn capacity_bytes(&self) -> usize {
        self.games.iter().map(|g| g.tree.capacity_bytes()).sum()
    }
}

/// The afterstate model's outputs for one simulation: `value` `[Na]`, `code_logits` `[Na, C]`.
#[derive(Debug, Default, Clone)]
pub struct AfterstateEvaluation {
    /// `[Na]`.
    pub value: Vec<f32>,
    /// `[Na, C]`.
    pub code_logits: Vec<f32>,
}

/// Runs a whole stochastic search: `afterstate` answers the afterstate requests
/// (filling an [`AfterstateEvaluation`] sized `[Na]`, `[Na, C]`), `dynamics` the
/// dynamics requests (an [`super::Evaluation`] sized `[Nd]`, `[Nd]`, `[Nd, A]`).
/// Either is skipped in a simulation with no request of its kind.
pub fn run_stochastic<F, G>(
    search: &mut StochasticSearch,
    config: &SearchConfig,
    roots: Roots<'_>,
    num_chance_outcomes: usize,
    seed: u64,
    mut afterstate: F,
    mut dynamics: G,
) -> Result<SearchOutput>
where
    F: FnMut(&LeafRequests, &mut AfterstateEvaluation) -> Result<()>,
    G: FnMut(&LeafRequests, &mut super::Evaluation) -> Result<()>,
{
    search.begin(config, roots, num_chance_outcomes, seed)?;
    let (a, c) = (search.num_actions(), num_chance_outcomes);
    let mut ae = AfterstateEvaluation::default();
    let mut de = super::Evaluation::default();
    while !search.is_done() {
        let na = search.afterstate_requests().game.len();
        ae.value.resize(na, 0.0);
        ae.code_logits.resize(na * c, 0.0);
        if na > 0 {
            afterstate(search.afterstate_requests(), &mut ae)?;
        }
        let nd = search.dynamics_requests().game.len();
        de.reward.resize(nd, 0.0);
        de.value.resize(nd, 0.0);
        de.logits.resize(nd * a, 0.0);
        if nd > 0 {
            dynamics(search.dynamics_requests(), &mut de)?;
        }
        search.advance(&ae.value, &ae.code_logits, &de.reward, &de.value, &de.logits)?;
    }
    search.output()
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::super::Evaluation;
    use super::*;

    /// A random chance MDP: afterstate `s * A + a`; `next[(s * A + a) * C + c]`.
    struct Model {
        a: usize,
        c: usize,
        as_value: Vec<f32>,
        code_logits: Vec<f32>,
        next: Vec<usize>,
        reward: Vec<f32>,
        value: Vec<f32>,
        logits: Vec<f32>,
    }

    impl Model {
        fn random(s: usize, a: usize, c: usize, seed: u64) -> Self {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut f =
                |n: usize, lo: f32, hi: f32| (0..n).map(|_| rng.random_range(lo..hi)).collect::<Vec<_>>();
            let (as_value, code_logits, reward) =
                (f(s * a, -1.0, 1.0), f(s * a * c, -2.0, 2.0), f(s * a * c, -1.0, 1.0));
            let (value, logits) = (f(s, -1.0, 1.0), f(s * a, -2.0, 2.0));
            let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
            let next = (0..s * a * c).map(|_| rng.random_range(0..s)).collect();
            Model { a, c, as_value, code_logits, next, reward, value, logits }
        }

        /// Searches from `roots`; returns the output and the number of simulations
        /// that called both models.
        fn search(&self, config: &SearchConfig, roots: &[usize]) -> (SearchOutput, usize) {
            let (a, c) = (self.a, self.c);
            let value: Vec<f32> = roots.iter().map(|&s| self.value[s]).collect();
            let logits: Vec<f32> =
                roots.iter().flat_map(|&s| self.logits[s * a..(s + 1) * a].to_vec()).collect();
            // latent[game][node]: a state, or an afterstate s * A + a.
            let latent = std::cell::RefCell::new(roots.iter().map(|&s| vec![s]).collect::<Vec<Vec<usize>>>());
            let calls = std::cell::RefCell::new(Vec::new());
            let mut search = StochasticSearch::new();
            let roots = Roots { value: &value, logits: &logits, num_actions: a, legal_mask: None };
            let out = run_stochastic(
                &mut search,
                config,
                roots,
                c,
                0,
                |r, e| {
                    let mut latent = latent.borrow_mut();
                    calls.borrow_mut().push(r.node[0]);
                    for i in 0..r.game.len() {
                        let l = &mut latent[r.game[i] as usize];
                        let x = l[r.parent[i] as usize] * a + r.action[i] as usize;
                        assert_eq!(l.len(), r.node[i] as usize);
                        l.push(x);
                        e.value[i] = self.as_value[x];
                        e.code_logits[i * c..(i + 1) * c]
                            .copy_from_slice(&self.code_logits[x * c..(x + 1) * c]);
                    }
                    Ok(())
                },
                |r, e: &mut Evaluation| {
                    let mut latent = latent.borrow_mut();
                    calls.borrow_mut().push(r.node[0]);
                    assert!(r.node.iter().all(|&n| n == r.node[0]));
                    for i in 0..r.game.len() {
                        let l = &mut latent[r.game[i] as usize];
                        let x = l[r.parent[i] as usize] * c + r.action[i] as usize;
                        let s = self.next[x];
                        assert_eq!(l.len(), r.node[i] as usize);
                        l.push(s);
                        e.reward[i] = self.reward[x];
                        e.value[i] = self.value[s];
                        e.logits[i * a..(i + 1) * a].copy_from_slice(&self.logits[s * a..(s + 1) * a]);
                    }
                    Ok(())
                },
            )
            .unwrap();
            let calls = calls.into_inner();
            let both = calls.windows(2).filter(|w| w[0] == w[1]).count();
            (out, both)
        }
    }

    fn tree_with(width: usize, n: usize) -> Tree {
        let mut t = Tree::default();
        t.reset(n, width).unwrap();
        t
    }

    #[test]
    fn chance_nodes_pick_the_largest_prior_over_visits_plus_one() {
        let mut game = ChanceGame { tree: tree_with(3, 2), ..ChanceGame::default() };
        let rules = ChanceRules { num_actions: 1, num_codes: 3, ..ChanceRules::default() };
        game.tree.add_node(None, 0.0, 0.0);
        game.tree.is_chance[0] = true;
        game.tree.prior[..3].copy_from_slice(&[0.2, 0.5, 0.3]);
        assert_eq!(game.select_chance(&rules, 0), 1);
        game.tree.edge_visits[..3].copy_from_slice(&[0, 2, 0]);
        // 0.2 / 1, 0.5 / 3, 0.3 / 1
        assert_eq!(game.select_chance(&rules, 0), 2);
        // Ties go to the lowest code: 0.5 / 3 < 0.2 = 0.2.
        game.tree.prior[..3].copy_from_slice(&[0.2, 0.6, 0.2]);
        game.tree.edge_visits[..3].copy_from_slice(&[0, 2, 0]);
        assert_eq!(game.select_chance(&rules, 0), 0);
    }

    #[test]
    fn decision_nodes_normalise_q_by_the_node_value_and_siblings() {
        // Root N = 3, W = 0.6 (value 0.2); child 0 visited once with Q = 1.0, child 1
        // with Q = -0.2; child 2 unvisited. min = -0.2, max = 1.0.
        let mut game = ChanceGame { tree: tree_with(3, 1), ..ChanceGame::default() };
        let mut rules = ChanceRules { num_actions: 3, num_codes: 1, ..ChanceRules::default() };
        rules.puct.reset(1.25, 19652.0, 8);
        let t = &mut game.tree;
        t.add_node(None, 0.0, 0.0);
        t.visits[0] = 3;
        t.value_sum[0] = 0.6;
        t.prior[..3].copy_from_slice(&[0.2, 0.3, 0.5]);
        t.edge_visits[..3].copy_from_slice(&[1, 1, 0]);
        t.edge_q[..3].copy_from_slice(&[1.0, -0.2, 0.0]);
        let pb_c = 1.25 + ((3.0 + 19652.0 + 1.0) / 19652.0f64).ln();
        let u = |p: f64, n: f64| 3.0f64.sqrt() * pb_c * p / (n + 1.0);
        let scores = [1.0 + u(0.2, 1.0), 0.0 + u(0.3, 1.0), 0.0 + u(0.5, 0.0)];
        let best = (0..3).fold(0, |b, i| if scores[i] > scores[b] { i } else { b });
        assert_eq!(game.select_decision(&rules, 0, None), best);
        assert_eq!(best, 0);
        assert_eq!(game.select_decision(&rules, 0, Some(&[false, true, true])), 2);
    }

    #[test]
    fn values_back_up_through_both_kinds_with_rewards_on_chance_edges() {
        for (two_player, g) in [(false, 0.5), (true, -0.5)] {
            let config =
                SearchConfig { num_simulations: 2, discount: 0.5, two_player, ..SearchConfig::default() };
            let mut s = StochasticSearch::new();
            let roots = Roots { value: &[0.1], logits: &[0.0], num_actions: 1, legal_mask: None };
            s.begin(&config, roots, 1, 0).unwrap();
            // Simulation 0: the afterstate of action 0 (value 0.4).
            assert_eq!(s.afterstate_requests().parent, [0]);
            assert!(s.dynamics_requests().game.is_empty());
            s.advance(&[0.4], &[0.0], &[], &[], &[]).unwrap();
            // Simulation 1: code 0 of afterstate node 1: reward 1, value 2.
            assert_eq!(
                (s.dynamics_requests().parent.clone(), s.dynamics_requests().node.clone()),
                (vec![1], vec![2])
            );
            assert!(s.afterstate_requests().game.is_empty());
            s.advance(&[], &[], &[1.0], &[2.0], &[0.0]).unwrap();
            let out = s.output().unwrap();
            let chance_return = 1.0 + g * 2.0;
            let q = (0.4 + chance_return) / 2.0;
            assert_eq!(out.visit_counts, [2]);
            assert!((f64::from(out.q_values[0]) - q).abs() < 1e-6);
            let root = (0.1 + 0.4 + chance_return) / 3.0;
            assert!((f64::from(out.root_value[0]) - root).abs() < 1e-6, "{} vs {root}", out.root_value[0]);
        }
    }

    #[test]
    fn mixed_batches_split_and_games_do_not_depend_on_each_other() {
        let config = SearchConfig { num_simulations: 24, discount: 0.9, ..SearchConfig::default() };
        let mut mixed = 0;
        for seed in 0..6 {
            let model = Model::random(7, 3, 2, seed);
            let roots = [0, 3, 5, 6, 2];
            let (out, both) = model.search(&config, &roots);
            mixed += both;
            for (i, &r) in roots.iter().enumerate() {
                let (alone, _) = model.search(&config, &[r]);
                assert_eq!(alone.visit_counts, out.visit_counts[i * 3..(i + 1) * 3]);
                assert_eq!(alone.root_value[0], out.root_value[i]);
            }
            assert!(out.visit_counts.chunks(3).all(|r| r.iter().sum::<i32>() == 24));
        }
        assert!(mixed > 0);
    }

    #[test]
    fn bad_inputs_are_named() {
        let mut s = StochasticSearch::new();
        let roots = Roots { value: &[0.0], logits: &[0.0, 0.0], num_actions: 2, legal_mask: None };
        let gumbel = SearchConfig { algorithm: Algorithm::Gumbel, ..SearchConfig::default() };
        let err = s.begin(&gumbel, roots, 2, 0).unwrap_err().to_string();
        assert!(err.contains("algorithm"), "{err}");
        let err = s.begin(&SearchConfig::default(), roots, 0, 0).unwrap_err().to_string();
        assert!(err.contains("num_chance_outcomes"), "{err}");
        s.begin(&SearchConfig::default(), roots, 2, 0).unwrap();
        let err = s.advance(&[0.0], &[0.0], &[], &[], &[]).unwrap_err().to_string();
        assert!(err.contains("code_logits"), "{err}");
        let err = s.advance(&[f32::NAN], &[0.0, 0.0], &[], &[], &[]).unwrap_err().to_string();
        assert!(err.contains("afterstate_value"), "{err}");
    }
}
