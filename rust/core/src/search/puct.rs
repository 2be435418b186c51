//! MuZero's PUCT rule (Schrittwieser et al. 2020, appendix B), made exact by the
//! Search contract in DESIGN.md.

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

/// PUCT's constants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Puct {
    pub pb_c_init: f64,
    pub pb_c_base: f64,
    /// Effective discount g (negative in two-player games).
    pub g: f64,
}

impl Puct {
    /// The action maximising
    /// `Qn(s,a) + P(s,a) * sqrt(N(s)) / (1 + N(s,a)) * (pb_c_init + ln((N(s) + pb_c_base + 1) / pb_c_base))`
    /// over the candidates (`legal` at the root, all actions inside), ties to the
    /// lowest index. `Qn` is 0 for an unvisited child.
    pub fn select(&self, tree: &Tree, node: usize, min_max: &MinMax, legal: Option<&[bool]>) -> usize {
        let n = f64::from(tree.visits[node]);
        let sqrt_n = n.sqrt();
        let pb_c = self.pb_c_init + ((n + self.pb_c_base + 1.0) / self.pb_c_base).ln();
        let priors = tree.edges(&tree.prior, node);
        let mut best = usize::MAX;
        let mut best_score = f64::NEG_INFINITY;
        for (a, &p) in priors.iter().enumerate() {
            if legal.is_some_and(|m| !m[a]) {
                continue;
            }
            let (n_sa, qn) = match tree.child(node, a) {
                Some(c) if tree.visits[c] > 0 => {
                    (f64::from(tree.visits[c]), min_max.normalize(tree.q_of_child(c, self.g)))
                }
                _ => (0.0, 0.0),
            };
            let score = qn + p * sqrt_n / (1.0 + n_sa) * pb_c;
            if best == usize::MAX || score > best_score {
                best = a;
                best_score = score;
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
        t.reset(1, 4);
        t.add_node(None, 0.0, 0.0);
        t.visits[0] = 1;
        t.prior[..4].copy_from_slice(&[0.1, 0.4, 0.4, 0.1]);
        let puct = Puct { pb_c_init: 1.25, pb_c_base: 19652.0, g: 0.997 };
        assert_eq!(puct.select(&t, 0, &MinMax::default(), None), 1);
        assert_eq!(puct.select(&t, 0, &MinMax::default(), Some(&[true, false, true, true])), 2);
    }
}
