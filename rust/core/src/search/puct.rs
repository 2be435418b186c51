//! MuZero's PUCT rule (Schrittwieser et al. 2020, appendix B), made exact by the
//! Search contract in docs/design.md.

use super::tree::Tree;

/// Tree-global bounds of every `Q(s, a)` recorded during backups, used to
/// normalise Q into [0, 1] (MuZero's `MinMaxStats`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MinMax {
    min: f64,
    max: f64,
}

impl Default for MinMax {
    fn default() -> Self {
        MinMax { min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

impl MinMax {
    pub fn update(&mut self, q: f64) {
        self.min = self.min.min(q);
        self.max = self.max.max(q);
    }

    /// `(q - min) / (max - min)` when `max > min`, else 0.
    #[inline]
    pub fn normalize(&self, q: f64) -> f64 {
        if self.max > self.min {
            (q - self.min) / (self.max - self.min)
        } else {
            0.0
        }
    }
}

/// Largest visit count whose PUCT factors are tabulated; above it they are computed.
const TABLE_MAX_VISITS: usize = 1 << 14;

/// PUCT's exploration factors by visit count `N(s)`: `sqrt(N)` and
/// `pb_c(N) = pb_c_init + ln((N + pb_c_base + 1) / pb_c_base)`, tabulated once per
/// search for `N <= min(num_simulations + 1, 2^14)` (the same values either way).
#[derive(Debug, Clone, Default)]
pub(crate) struct Puct {
    pb_c_init: f64,
    pb_c_base: f64,
    sqrt_n: Vec<f64>,
    pb_c: Vec<f64>,
}

impl Puct {
    pub fn reset(&mut self, pb_c_init: f64, pb_c_base: f64, max_visits: usize) {
        self.pb_c_init = pb_c_init;
        self.pb_c_base = pb_c_base;
        self.sqrt_n.clear();
        self.pb_c.clear();
        for n in 0..=max_visits.min(TABLE_MAX_VISITS) {
            let (sqrt_n, pb_c) = self.compute(n);
            self.sqrt_n.push(sqrt_n);
            self.pb_c.push(pb_c);
        }
    }

    fn compute(&self, n: usize) -> (f64, f64) {
        let n = n as f64;
        (n.sqrt(), self.pb_c_init + ((n + self.pb_c_base + 1.0) / self.pb_c_base).ln())
    }

    #[inline]
    pub(crate) fn factors(&self, n: usize) -> (f64, f64) {
        match (self.sqrt_n.get(n), self.pb_c.get(n)) {
            (Some(&s), Some(&p)) => (s, p),
            _ => self.compute(n),
        }
    }

    /// The action maximising
    /// `Qn(s,a) + P(s,a) * sqrt(N(s)) / (1 + N(s,a)) * (pb_c_init + ln((N(s) + pb_c_base + 1) / pb_c_base))`
    /// over the candidates (`legal` at the root, all actions inside), ties to the
    /// lowest index. `Qn` is 0 for an unvisited child.
    pub fn select(
        &self,
        tree: &Tree,
        node: usize,
        min_max: &MinMax,
        legal: Option<&[bool]>,
        scores: &mut [f64],
    ) -> usize {
        let n = tree.visits[node] as usize;
        let (sqrt_n, pb_c) = self.factors(n);
        let priors = tree.edges(&tree.prior, node);
        let visits = tree.edges(&tree.edge_visits, node);
        let qs = tree.edges(&tree.edge_q, node);
        // The literal formula (no reciprocals), so that scores match a plain
        // transcription of the contract bit for bit and ties stay ties.
        for (((score, &p), &n_sa), &q) in scores.iter_mut().zip(priors).zip(visits).zip(qs) {
            let qn = if n_sa > 0 { min_max.normalize(q) } else { 0.0 };
            *score = qn + p * sqrt_n / (1.0 + f64::from(n_sa)) * pb_c;
        }
        let mut best = usize::MAX;
        let mut best_score = f64::NEG_INFINITY;
        for (a, &s) in scores.iter().enumerate() {
            if legal.is_some_and(|m| !m[a]) {
                continue;
            }
            if best == usize::MAX || s > best_score {
                best = a;
                best_score = s;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_is_zero_until_two_distinct_values() {
        let mut m = MinMax::default();
        assert_eq!(m.normalize(3.0), 0.0);
        m.update(1.0);
        assert_eq!(m.normalize(1.0), 0.0);
        m.update(3.0);
        assert_eq!(m.normalize(2.0), 0.5);
    }

    #[test]
    fn unvisited_children_are_ranked_by_prior_with_ties_to_the_lowest_index() {
        let mut t = Tree::default();
        t.reset(1, 4).unwrap();
        t.add_node(None, 0.0, 0.0);
        t.visits[0] = 1;
        t.prior[..4].copy_from_slice(&[0.1, 0.4, 0.4, 0.1]);
        let mut puct = Puct::default();
        puct.reset(1.25, 19652.0, 2);
        let mut scratch = [0.0; 4];
        assert_eq!(puct.select(&t, 0, &MinMax::default(), None, &mut scratch), 1);
        assert_eq!(puct.select(&t, 0, &MinMax::default(), Some(&[true, false, true, true]), &mut scratch), 2);
    }
}
