//! A max tree: the largest of the leaves in O(1), updates in O(log n).
//!
//! The replay buffer keeps one over the raw priorities of its ring slots (evicted
//! slots hold 0), so that a new game's transitions enter with the largest priority
//! *currently stored*, as EfficientZero's buffer does, not the largest ever given.

use super::segment_tree::{Combine, SegmentTree};

/// Inner nodes hold the larger of their children; leaves are finite and `>= 0`.
#[derive(Debug, Clone)]
pub struct Max;

impl Combine for Max {
    type Leaf = f32;

    fn combine(left: f32, right: f32) -> f32 {
        left.max(right)
    }

    fn is_valid(value: f32) -> bool {
        value.is_finite() && value >= 0.0
    }
}

/// The largest of the leaves at the root.
pub type MaxTree = SegmentTree<Max>;

impl MaxTree {
    /// The largest leaf (0 when every leaf is 0).
    pub fn max(&self) -> f32 {
        self.root()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_max_falls_when_the_largest_leaf_is_cleared() {
        let mut tree = MaxTree::new(3);
        assert_eq!(tree.max(), 0.0);
        tree.set(0, 2.0);
        tree.set(2, 5.0);
        assert_eq!(tree.max(), 5.0);
        tree.set(2, 0.0);
        assert_eq!(tree.max(), 2.0);
        tree.grow(9);
        assert_eq!((tree.num_leaves(), tree.max()), (9, 2.0));
        tree.set(8, 3.0);
        assert_eq!(tree.max(), 3.0);
    }

    proptest! {
        #[test]
        fn max_is_the_largest_leaf_after_any_updates(
            values in prop::collection::vec(0.0f32..100.0, 1..70),
            updates in prop::collection::vec((0usize..70, 0.0f32..10.0), 0..40),
        ) {
            let mut tree = MaxTree::new(values.len());
            let mut reference = values.clone();
            for (i, &v) in values.iter().enumerate() {
                tree.set(i, v);
            }
            for (i, v) in updates {
                let i = i % values.len();
                tree.set(i, v);
                reference[i] = v;
            }
            prop_assert_eq!(tree.max(), reference.iter().copied().fold(0.0, f32::max));
        }
    }
}
