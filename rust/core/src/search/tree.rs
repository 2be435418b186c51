//! One game's search tree, stored as struct-of-arrays.
//!
//! Node ids follow mctx and the Search contract: [`ROOT`] = 0 is the root and the
//! node expanded by simulation `k` has id `k + 1`, so a search of `n` simulations
//! needs exactly `n + 1` nodes. The arrays are sized once and reused by every later
//! search of the same (or a smaller) size; nothing is allocated per simulation.

use crate::{Error, Result};

/// Id of the root node.
pub const ROOT: usize = 0;
/// Child id of an action that has not been expanded yet.
pub const UNVISITED: u32 = u32::MAX;

/// Statistics of one game's tree. Per node `s`: visit count `N(s)`, value sum `W(s)`,
/// the reward `r` received on the edge into `s`, the network's raw value, its parent
/// and the action from that parent, and whether it is a chance node (Stochastic
/// MuZero's afterstate; the edge into one carries reward 0 and discount 1). Per edge `(s, a)`, contiguous over `a` so that
/// selection reads flat rows: the child id, the prior, `N(s, a)` (the child's visit
/// count) and `Q(s, a)` (kept up to date by the backup).
#[derive(Debug, Default, Clone)]
pub(crate) struct Tree {
    /// Edges per node: the actions (a stochastic search: the larger of actions and codes).
    pub num_actions: usize,
    pub num_nodes: usize,
    pub visits: Vec<u32>,
    pub value_sum: Vec<f64>,
    pub reward: Vec<f64>,
    pub raw_value: Vec<f64>,
    pub parent: Vec<u32>,
    pub action_from_parent: Vec<u32>,
    /// Per node: a chance node (see [`Tree::add_chance_node`]).
    pub is_chance: Vec<bool>,
    /// `[node * A + a]`: child id or [`UNVISITED`].
    pub children: Vec<u32>,
    /// `[node * A + a]`: prior probability `P(s, a)`.
    pub prior: Vec<f64>,
    /// `[node * A + a]`: the model's logits, turned into `prior` on first use.
    pub logits: Vec<f32>,
    /// Per node: whether `prior` holds `softmax(logits)` yet.
    pub has_priors: Vec<bool>,
    /// `[node * A + a]`: `N(s, a)`, the child's visit count (0 if unexpanded).
    pub edge_visits: Vec<u32>,
    /// `[node * A + a]`: `Q(s, a) = r(s, a) + g * W(child) / N(child)` (0 if unvisited).
    pub edge_q: Vec<f64>,
}

impl Tree {
    /// Sizes the arrays for `num_nodes` nodes of `num_actions` actions (growing only)
    /// and empties the tree. Fails, rather than aborting, when memory runs out.
    pub fn reset(&mut self, num_nodes: usize, num_actions: usize) -> Result<()> {
        fn grow<T: Clone + Default>(v: &mut Vec<T>, len: usize) -> Result<()> {
            if v.len() < len {
                v.try_reserve_exact(len - v.len())
                    .map_err(|e| Error::invalid("num_simulations", "a search tree that fits in memory", e))?;
                v.resize(len, T::default());
            }
            Ok(())
        }
        let num_edges = num_nodes.checked_mul(num_actions).ok_or_else(|| {
            Error::invalid("num_simulations", "a search tree that fits in memory", "an overflowing size")
        })?;
        grow(&mut self.visits, num_nodes)?;
        grow(&mut self.value_sum, num_nodes)?;
        grow(&mut self.reward, num_nodes)?;
        grow(&mut self.raw_value, num_nodes)?;
        grow(&mut self.parent, num_nodes)?;
        grow(&mut self.action_from_parent, num_nodes)?;
        grow(&mut self.has_priors, num_nodes)?;
        grow(&mut self.is_chance, num_nodes)?;
        grow(&mut self.children, num_edges)?;
        grow(&mut self.prior, num_edges)?;
        grow(&mut self.edge_visits, num_edges)?;
        grow(&mut self.logits, num_edges)?;
        grow(&mut self.edge_q, num_edges)?;
        self.num_actions = num_actions;
        self.num_nodes = 0;
        Ok(())
    }

    /// Bytes held by the arrays (to bound what a pool of trees keeps alive).
    pub fn capacity_bytes(&self) -> usize {
        let per_node = self.visits.capacity() * 4
            + self.has_priors.capacity()
            + self.is_chance.capacity()
            + self.logits.capacity() * 4
            + (self.value_sum.capacity() + self.reward.capacity() + self.raw_value.capacity()) * 8
            + (self.parent.capacity() + self.action_from_parent.capacity()) * 4;
        let per_edge = (self.children.capacity() + self.edge_visits.capacity()) * 4
            + (self.prior.capacity() + self.edge_q.capacity()) * 8;
        per_node + per_edge
    }

    /// Adds node `self.num_nodes` below `(parent, action)` with reward `reward` and
    /// raw value `value`, its edges unexpanded; returns its id. The caller fills the
    /// priors. The root is added with `parent = None`.
    pub fn add_node(&mut self, parent: Option<(usize, usize)>, reward: f64, value: f64) -> usize {
        let node = self.num_nodes;
        self.num_nodes += 1;
        self.visits[node] = 0;
        self.value_sum[node] = 0.0;
        self.reward[node] = reward;
        self.raw_value[node] = value;
        self.has_priors[node] = false;
        self.is_chance[node] = false;
        let a = self.num_actions;
        self.children[node * a..(node + 1) * a].fill(UNVISITED);
        self.edge_visits[node * a..(node + 1) * a].fill(0);
        self.edge_q[node * a..(node + 1) * a].fill(0.0);
        match parent {
            Some((p, action)) => {
                self.parent[node] = p as u32;
                self.action_from_parent[node] = action as u32;
                self.children[p * a + action] = node as u32;
            }
            None => {
                self.parent[node] = UNVISITED;
                self.action_from_parent[node] = UNVISITED;
            }
        }
        node
    }

    /// Adds a chance node (an afterstate) below `(parent, action)` like
    /// [`Tree::add_node`]; the edge into it carries reward 0 and discount 1.
    pub fn add_chance_node(&mut self, parent: (usize, usize)) -> usize {
        let node = self.add_node(Some(parent), 0.0, 0.0);
        self.is_chance[node] = true;
        node
    }

    /// `(r, d)` of the edge into `child`: `(0, 1)` into a chance node, else
    /// `(reward, g)`.
    #[inline]
    pub fn edge_return(&self, child: usize, g: f64) -> (f64, f64) {
        if self.is_chance[child] {
            (0.0, 1.0)
        } else {
            (self.reward[child], g)
        }
    }

    /// Makes `prior` of `node` hold `softmax(logits)` (computed once per node).
    #[inline]
    pub fn ensure_priors(&mut self, node: usize) {
        if !self.has_priors[node] {
            let a = self.num_actions;
            softmax_into(&self.logits[node * a..(node + 1) * a], &mut self.prior[node * a..(node + 1) * a]);
            self.has_priors[node] = true;
        }
    }

    /// The child of `(node, action)`, if expanded.
    #[inline]
    pub fn child(&self, node: usize, action: usize) -> Option<usize> {
        let c = self.children[node * self.num_actions + action];
        (c != UNVISITED).then_some(c as usize)
    }

    /// `N(s, a)`, 0 if unexpanded.
    #[inline]
    pub fn child_visits(&self, node: usize, action: usize) -> u32 {
        self.edge_visits[node * self.num_actions + action]
    }

    /// `Q(s, a) = r + d * W(child) / N(child)` of a visited child, `(r, d)` as
    /// [`Tree::edge_return`] gives them.
    #[inline]
    pub fn q_of_child(&self, child: usize, g: f64) -> f64 {
        let (r, d) = self.edge_return(child, g);
        r + d * (self.value_sum[child] / f64::from(self.visits[child]))
    }

    /// `Q(s, a)` if the child of `(node, action)` has been visited.
    #[inline]
    pub fn q(&self, node: usize, action: usize) -> Option<f64> {
        let e = node * self.num_actions + action;
        (self.edge_visits[e] > 0).then_some(self.edge_q[e])
    }

    /// Adds one visit with return `value` to `node` and refreshes the statistics of
    /// the edge into it; returns the edge's new `Q` (None for the root).
    #[inline]
    pub fn visit(&mut self, node: usize, value: f64, g: f64) -> Option<f64> {
        self.visits[node] += 1;
        self.value_sum[node] += value;
        if node == ROOT {
            return None;
        }
        let e = self.parent[node] as usize * self.num_actions + self.action_from_parent[node] as usize;
        let q = self.q_of_child(node, g);
        self.edge_visits[e] = self.visits[node];
        self.edge_q[e] = q;
        Some(q)
    }

    /// Backs `value` up from the new `node` to the root: `G = value`, then at each
    /// edge `G = r + d * G` ([`Tree::edge_return`]); `on_q` sees every edge's new `Q`.
    pub fn backup(&mut self, node: usize, value: f64, g: f64, mut on_q: impl FnMut(f64)) {
        let mut ret = value;
        let mut child = node;
        while let Some(q) = self.visit(child, ret, g) {
            on_q(q);
            let (r, d) = self.edge_return(child, g);
            ret = r + d * ret;
            child = self.parent[child] as usize;
        }
    }

    /// The mean value `W(s) / N(s)`.
    pub fn value(&self, node: usize) -> f64 {
        self.value_sum[node] / f64::from(self.visits[node].max(1))
    }

    /// Edge slice `[node * A, (node + 1) * A)` of a per-edge array.
    #[inline]
    pub fn edges<'a, T>(&self, v: &'a [T], node: usize) -> &'a [T] {
        &v[node * self.num_actions..(node + 1) * self.num_actions]
    }
}

/// Writes `softmax(logits)` over all entries into `probs` (`exp(l - max)`, summed in
/// index order, times `1 / sum`).
pub(crate) fn softmax_into(logits: &[f32], probs: &mut [f64]) {
    let max = logits.iter().fold(f64::NEG_INFINITY, |m, &l| m.max(f64::from(l)));
    let mut sum = 0.0;
    for (p, &l) in probs.iter_mut().zip(logits) {
        *p = (f64::from(l) - max).exp();
        sum += *p;
    }
    let inv = 1.0 / sum;
    for p in probs.iter_mut() {
        *p *= inv;
    }
}

/// [`softmax_into`] over the entries where `mask` is true (the others get
/// probability 0), also writing the logits shifted by their maximum into `shifted`
/// (`-inf` where masked).
pub(crate) fn masked_softmax_into(logits: &[f32], mask: &[bool], probs: &mut [f64], shifted: &mut [f64]) {
    let max =
        logits.iter().zip(mask).filter(|(_, &m)| m).fold(f64::NEG_INFINITY, |m, (&l, _)| m.max(f64::from(l)));
    let mut sum = 0.0;
    for (((p, s), &l), &legal) in probs.iter_mut().zip(shifted.iter_mut()).zip(logits).zip(mask) {
        if legal {
            *s = f64::from(l) - max;
            *p = s.exp();
            sum += *p;
        } else {
            *s = f64::NEG_INFINITY;
            *p = 0.0;
        }
    }
    let inv = 1.0 / sum;
    for p in probs.iter_mut() {
        *p *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_masks_and_normalises() {
        let mut p = [0.0; 3];
        let mut s = [0.0; 3];
        masked_softmax_into(&[1.0, 5.0, 1.0], &[true, false, true], &mut p, &mut s);
        assert_eq!(p, [0.5, 0.0, 0.5]);
        assert_eq!(s, [0.0, f64::NEG_INFINITY, 0.0]);
        softmax_into(&[0.0, (2.0f32).ln(), 0.0], &mut p);
        assert!((p[1] - 0.5).abs() < 1e-7 && (p[0] - 0.25).abs() < 1e-7);
    }

    #[test]
    fn nodes_link_to_their_parents() {
        let mut t = Tree::default();
        t.reset(3, 2).unwrap();
        let root = t.add_node(None, 0.0, 1.0);
        assert_eq!(root, ROOT);
        assert_eq!(t.child(ROOT, 1), None);
        let c = t.add_node(Some((ROOT, 1)), 0.5, 2.0);
        assert_eq!((c, t.child(ROOT, 1), t.parent[c], t.action_from_parent[c]), (1, Some(1), 0, 1));
        assert_eq!(t.visit(c, 1.0, 0.5), Some(0.5 + 0.5 * 1.0));
        assert_eq!(t.visit(c, 2.0, 0.5), Some(0.5 + 0.5 * 1.5));
        assert_eq!((t.child_visits(ROOT, 1), t.q(ROOT, 1)), (2, Some(0.5 + 0.5 * 1.5)));
        assert_eq!(t.q(ROOT, 0), None);
        // Reuse: a reset empties the tree without shrinking it.
        t.reset(2, 2).unwrap();
        assert_eq!(t.num_nodes, 0);
        assert!(t.children.len() >= 6);
    }
}
