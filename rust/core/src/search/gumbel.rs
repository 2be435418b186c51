//! Gumbel MuZero (Danihelka et al. 2022, "Policy improvement by planning with
//! Gumbel"), with the semantics of the authors' mctx `gumbel_muzero_policy` and its
//! default `qtransform_completed_by_mix_value`:
//!
//! - root: Gumbel-top-k by sequential halving; the action with the largest
//!   `g(a) + logits(a) + sigma(q(a))` among the actions whose visit count equals the
//!   schedule's current count ([`considered_visits`], [`Gumbel::select_root`]);
//! - inside: deterministic selection that makes visit frequencies track the
//!   improved policy `softmax(logits + sigma(q))` ([`Gumbel::select_interior`]);
//! - completed Q: visited actions keep `Q(s, a)`, unvisited ones take the mixed value
//!   of Appendix D, computed with the node's raw network value; rescaled to [0, 1]
//!   by their own min and max; `sigma(q) = (c_visit + max_b N(b)) * c_scale * q`.

use super::tree::Tree;

/// mctx's floor on prior probabilities inside the mixed value (`finfo.tiny`).
const TINY: f64 = f64::MIN_POSITIVE;
/// Smallest denominator when rescaling completed Q values.
const EPSILON: f64 = 1e-8;
/// Floor of the root score of a considered action.
const LOW_LOGIT: f64 = -1e9;

/// The visit count that sequential halving (Karnin et al. 2013) gives the action to
/// visit at each simulation: entry `k` is the count that the next visited action has
/// before simulation `k`. With `m` considered actions it gives each of them
/// `max(1, floor(n / (ceil(log2 m) * m)))` visits, then halves `m` (never below 2)
/// and repeats until `n` simulations are planned. Written into `out` (length `n`).
pub fn considered_visits(max_considered: usize, num_simulations: usize, out: &mut Vec<u32>) {
    out.clear();
    if max_considered <= 1 {
        out.extend(0..num_simulations as u32);
        return;
    }
    // ceil(log2(m)) for m >= 2.
    let log2max = (usize::BITS - (max_considered - 1).leading_zeros()) as usize;
    let mut considered = max_considered;
    let mut visits = 0u32;
    while out.len() < num_simulations {
        let extra = (num_simulations / (log2max * considered)).max(1);
        for _ in 0..extra {
            // The first `considered` actions all have `visits` visits at this point.
            out.extend(std::iter::repeat_n(visits, considered));
            visits += 1;
        }
        considered = (considered / 2).max(2);
    }
    out.truncate(num_simulations);
}

/// Gumbel MuZero's constants.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Gumbel {
    pub c_visit: f64,
    pub c_scale: f64,
}

impl Gumbel {
    /// Writes `sigma(completed Q)` of every action of `node` into `sigma` (`[A]`) and
    /// returns the `sigma` that every unvisited action shares (that of the mixed value).
    pub fn transformed_q(&self, tree: &Tree, node: usize, sigma: &mut [f64]) -> f64 {
        let priors = tree.edges(&tree.prior, node);
        let visits = tree.edges(&tree.edge_visits, node);
        let qs = tree.edges(&tree.edge_q, node);
        let mut sum_n = 0u64;
        let mut max_n = 0u32;
        let mut sum_p = 0.0;
        let mut sum_pq = 0.0;
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        for ((&n, &p), (s, &q)) in visits.iter().zip(priors).zip(sigma.iter_mut().zip(qs)) {
            if n > 0 {
                *s = q;
                sum_n += u64::from(n);
                max_n = max_n.max(n);
                let p = p.max(TINY);
                sum_p += p;
                sum_pq += p * q;
                min = min.min(q);
                max = max.max(q);
            }
        }
        // The mixed value (Appendix D): the raw value mixed with the prior-weighted
        // mean Q of the visited actions, counted as many times as they were visited.
        let raw = tree.raw_value[node];
        let mixed = if sum_n == 0 {
            raw
        } else {
            let n = sum_n as f64;
            (raw + n * (sum_pq / sum_p)) / (n + 1.0)
        };
        if visits.contains(&0) {
            min = min.min(mixed);
            max = max.max(mixed);
        }
        let scale = (self.c_visit + f64::from(max_n)) * self.c_scale / (max - min).max(EPSILON);
        for (s, &n) in sigma.iter_mut().zip(visits) {
            *s = if n > 0 { (*s - min) * scale } else { (mixed - min) * scale };
        }
        (mixed - min) * scale
    }

    /// The root action of the next simulation: among the legal actions whose visit
    /// count equals `considered_visit`, the one with the largest
    /// `max(-1e9, gumbel + logits + sigma)`, ties to the lowest index.
    pub fn select_root(
        &self,
        tree: &Tree,
        root: &RootNoise<'_>,
        considered_visit: u32,
        sigma: &mut [f64],
    ) -> usize {
        self.transformed_q(tree, super::tree::ROOT, sigma);
        score_considered(tree, root, considered_visit, sigma)
    }

    /// The action of an interior node: `argmax_a pi'(a) - N(a) / (1 + sum_b N(b))`
    /// with `pi' = softmax(logits + sigma)` (section 5 of the paper), ties to the
    /// lowest index. `pi'(a)` is computed as `P(a) exp(sigma(a)) / Z`: unvisited
    /// actions share one `sigma`, so one `exp` serves them all.
    pub fn select_interior(&self, tree: &Tree, node: usize, sigma: &mut [f64]) -> usize {
        let sigma_unvisited = self.transformed_q(tree, node, sigma);
        let priors = tree.edges(&tree.prior, node);
        let visits = tree.edges(&tree.edge_visits, node);
        let top = sigma.iter().fold(f64::NEG_INFINITY, |m, &s| m.max(s));
        let shared = (sigma_unvisited - top).exp();
        let mut z = 0.0;
        let mut total = 0u32;
        for ((s, &p), &n) in sigma.iter_mut().zip(priors).zip(visits) {
            *s = p * if n > 0 { (*s - top).exp() } else { shared };
            z += *s;
            total += n;
        }
        let (inv_z, inv_n) = (1.0 / z, 1.0 / (1.0 + f64::from(total)));
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for (a, (&e, &n)) in sigma.iter().zip(visits).enumerate() {
            let score = e * inv_z - f64::from(n) * inv_n;
            if score > best_score {
                best = a;
                best_score = score;
            }
        }
        best
    }
}

/// The root's legal mask, shifted prior logits and Gumbel noise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RootNoise<'a> {
    pub legal: &'a [bool],
    pub logits: &'a [f64],
    pub gumbel: &'a [f64],
}

/// Sequential halving's score at the root: `max(-1e9, gumbel + logits + sigma)` for
/// legal actions visited exactly `considered_visit` times, `-inf` for the others;
/// returns its argmax (the first legal action if every score is `-inf`).
pub(crate) fn score_considered(
    tree: &Tree,
    root: &RootNoise<'_>,
    considered_visit: u32,
    sigma: &[f64],
) -> usize {
    let visits = tree.edges(&tree.edge_visits, super::tree::ROOT);
    let mut best = usize::MAX;
    let mut best_score = f64::NEG_INFINITY;
    for a in 0..tree.num_actions {
        if !root.legal[a] {
            continue;
        }
        let score = if visits[a] == considered_visit {
            (root.gumbel[a] + root.logits[a] + sigma[a]).max(LOW_LOGIT)
        } else {
            f64::NEG_INFINITY
        };
        if best == usize::MAX || score > best_score {
            best = a;
            best_score = score;
        }
    }
    best
}

/// Overwrites `sigma` with the improved policy `softmax(logits + sigma)` over the
/// legal actions (0 elsewhere), computed as `P(a) exp(sigma(a)) / Z` from the priors
/// `P = softmax(logits)`. `sigma` is shifted by its largest value over the actions of
/// positive prior, so `Z >= P(top) > 0` even where logits far apart leave priors
/// of exactly 0 (which then keep probability 0).
pub(crate) fn improved_policy(priors: &[f64], legal: &[bool], sigma: &mut [f64]) {
    let supported = |p: f64, l: bool| l && p > 0.0;
    let top = sigma
        .iter()
        .zip(priors)
        .zip(legal)
        .filter(|((_, &p), &l)| supported(p, l))
        .fold(f64::NEG_INFINITY, |m, ((&s, _), _)| m.max(s));
    let mut z = 0.0;
    for ((s, &p), &l) in sigma.iter_mut().zip(priors).zip(legal) {
        *s = if supported(p, l) { p * (*s - top).exp() } else { 0.0 };
        z += *s;
    }
    let inv = 1.0 / z;
    for s in sigma.iter_mut() {
        *s *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(m: usize, n: usize) -> Vec<u32> {
        let mut v = Vec::new();
        considered_visits(m, n, &mut v);
        v
    }

    #[test]
    fn sequential_halving_schedule_matches_the_paper_example() {
        // m = 4, n = 20: ceil(log2 4) = 2, 20 / 8 = 2 rounds of 4, then 20 / 4 = 5 rounds of 2.
        assert_eq!(schedule(4, 20), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
        assert_eq!(schedule(1, 4), [0, 1, 2, 3]);
        assert_eq!(schedule(16, 3), [0, 0, 0]);
        // Every budget is filled exactly.
        for m in 0..20 {
            for n in 1..70 {
                assert_eq!(schedule(m, n).len(), n);
            }
        }
    }

    #[test]
    fn improved_policy_is_a_masked_softmax() {
        // logits (0, 0, masked) -> priors (1/2, 1/2, 0); sigma (0, 1, 5).
        let mut s = [0.0, 1.0, 5.0];
        improved_policy(&[0.5, 0.5, 0.0], &[true, true, false], &mut s);
        let e = std::f64::consts::E;
        assert!((s[0] - 1.0 / (1.0 + e)).abs() < 1e-12 && s[2] == 0.0, "{s:?}");
    }

    #[test]
    fn an_action_of_prior_zero_cannot_make_the_improved_policy_nan() {
        // logits far apart underflow a prior to exactly 0; its sigma is the largest
        let mut s = [0.0, 1000.0];
        improved_policy(&[1.0, 0.0], &[true, true], &mut s);
        assert_eq!(s, [1.0, 0.0]);
    }
}
