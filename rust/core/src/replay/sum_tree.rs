//! A sum tree: sampling proportional to non-negative leaf masses in O(log n).
//!
//! Prioritized experience replay (Schaul et al. 2016, "Prioritized Experience
//! Replay", appendix B.2.1) stores `p_i^alpha` in the leaves; each inner node
//! holds the sum of its two children, so the root is the total mass and a
//! uniform draw in `[0, total)` walks down to leaf `i` with probability
//! `leaf_i / total`.

use super::segment_tree::{Combine, SegmentTree};

/// Inner nodes hold the sum of their children; leaves are finite masses `>= 0`.
#[derive(Debug, Clone)]
pub struct Sum;

impl Combine for Sum {
    type Leaf = f64;

    fn combine(left: f64, right: f64) -> f64 {
        left + right
    }

    fn is_valid(mass: f64) -> bool {
        mass.is_finite() && mass >= 0.0
    }
}

/// The total mass at the root.
pub type SumTree = SegmentTree<Sum>;

impl SumTree {
    /// The sum of all leaves.
    pub fn total(&self) -> f64 {
        self.root()
    }

    /// The leaf `i` whose cumulative range `[prefix_i, prefix_i + leaf_i)` holds `mass`.
    ///
    /// `mass` is clamped to `[0, total]`. The walk never enters a subtree of zero
    /// mass, so when `total > 0` the leaf returned always has positive mass, even
    /// when rounding puts `mass` at or past the total. Returns `None` when the
    /// tree is empty (`total == 0`).
    pub fn find(&self, mass: f64) -> Option<usize> {
        if self.total() <= 0.0 {
            return None;
        }
        let mut mass = mass.clamp(0.0, self.total());
        let mut node = 1;
        while node < self.width() {
            let (left, right) = self.children(node);
            if mass < left || right <= 0.0 {
                node *= 2;
            } else {
                mass -= left;
                node = 2 * node + 1;
            }
        }
        Some(node - self.width())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_empty_tree_finds_nothing() {
        let tree = SumTree::new(5);
        assert_eq!(tree.total(), 0.0);
        assert_eq!(tree.find(0.0), None);
    }

    #[test]
    fn find_walks_the_cumulative_ranges() {
        let mut tree = SumTree::new(5);
        for (i, m) in [1.0, 0.0, 2.0, 3.0, 0.5].into_iter().enumerate() {
            tree.set(i, m);
        }
        assert_eq!(tree.total(), 6.5);
        assert_eq!(tree.find(0.0), Some(0));
        assert_eq!(tree.find(0.999), Some(0));
        assert_eq!(tree.find(1.0), Some(2)); // leaf 1 has no mass
        assert_eq!(tree.find(2.999), Some(2));
        assert_eq!(tree.find(3.0), Some(3));
        assert_eq!(tree.find(6.0), Some(4));
        assert_eq!(tree.find(6.5), Some(4)); // at the total: the last leaf with mass
        assert_eq!(tree.find(100.0), Some(4));
        assert_eq!(tree.find(-1.0), Some(0));
    }

    #[test]
    fn growing_keeps_the_leaves_and_the_sums() {
        let mut tree = SumTree::new(3);
        for (i, m) in [1.0, 2.0, 4.0].into_iter().enumerate() {
            tree.set(i, m);
        }
        tree.grow(9);
        assert_eq!(tree.num_leaves(), 9);
        assert_eq!(tree.total(), 7.0);
        assert_eq!((tree.get(2), tree.get(8)), (4.0, 0.0));
        tree.set(8, 1.0);
        assert_eq!(tree.find(7.5), Some(8));
        tree.grow(5); // never shrinks
        assert_eq!(tree.num_leaves(), 9);
    }

    #[test]
    fn a_trailing_zero_leaf_is_never_found() {
        let mut tree = SumTree::new(4);
        tree.set(0, 1.0);
        tree.set(1, 1.0);
        assert_eq!(tree.find(2.0), Some(1));
        assert_eq!(tree.find(f64::MAX), Some(1));
    }

    proptest! {
        #[test]
        fn total_is_the_sum_and_find_inverts_the_prefix_sums(
            masses in prop::collection::vec(prop_oneof![Just(0.0), 0.001f64..100.0], 1..70),
            updates in prop::collection::vec((0usize..70, 0.0f64..10.0), 0..30),
            u in 0.0f64..1.0,
        ) {
            let mut tree = SumTree::new(masses.len());
            let mut reference = masses.clone();
            for (i, &m) in masses.iter().enumerate() {
                tree.set(i, m);
            }
            for (i, m) in updates {
                let i = i % masses.len();
                tree.set(i, m);
                reference[i] = m;
            }
            let total: f64 = reference.iter().sum();
            prop_assert!((tree.total() - total).abs() <= 1e-9 * total.max(1.0));
            for (i, &m) in reference.iter().enumerate() {
                prop_assert_eq!(tree.get(i), m);
            }
            match tree.find(u * tree.total()) {
                None => prop_assert_eq!(total, 0.0),
                Some(leaf) => {
                    prop_assert!(reference[leaf] > 0.0);
                    let before: f64 = reference[..leaf].iter().sum();
                    let target = u * tree.total();
                    prop_assert!(before <= target + 1e-9 * total);
                    prop_assert!(target < before + reference[leaf] + 1e-9 * total);
                }
            }
        }
    }
}
