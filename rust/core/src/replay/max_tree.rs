//! A max tree: the largest of the leaves in O(1), updates in O(log n).
//!
//! The replay buffer keeps one over the raw priorities of its ring slots (evicted
//! slots hold 0), so that a new game's transitions enter with the largest priority
//! *currently stored*, as EfficientZero's buffer does, not the largest ever given.

/// A complete binary tree over `num_leaves` leaves (padded to a power of two).
///
/// Node 1 is the root, node `j` has children `2j` and `2j + 1`, and leaf `i` is
/// node `width + i`; each inner node holds the larger of its two children.
#[derive(Debug, Clone)]
pub struct MaxTree {
    num_leaves: usize,
    /// Leaves in the tree, a power of two `>= num_leaves`.
    width: usize,
    /// `nodes[0]` is unused; `nodes[1]` is the root.
    nodes: Vec<f32>,
}

impl MaxTree {
    /// A tree of `num_leaves` leaves, all zero.
    pub fn new(num_leaves: usize) -> Self {
        let width = num_leaves.max(1).next_power_of_two();
        Self { num_leaves, width, nodes: vec![0.0; 2 * width] }
    }

    /// Grows the tree to `num_leaves` leaves (new leaves are zero); never shrinks.
    pub fn grow(&mut self, num_leaves: usize) {
        if num_leaves <= self.num_leaves {
            return;
        }
        let width = num_leaves.next_power_of_two();
        if width != self.width {
            let mut nodes = vec![0.0; 2 * width];
            nodes[width..width + self.num_leaves]
                .copy_from_slice(&self.nodes[self.width..self.width + self.num_leaves]);
            for node in (1..width).rev() {
                nodes[node] = nodes[2 * node].max(nodes[2 * node + 1]);
            }
            self.nodes = nodes;
            self.width = width;
        }
        self.num_leaves = num_leaves;
    }

    /// The number of leaves.
    pub fn num_leaves(&self) -> usize {
        self.num_leaves
    }

    /// The largest leaf (0 when every leaf is 0).
    pub fn max(&self) -> f32 {
        self.nodes[1]
    }

    /// Sets leaf `leaf` to `value` (finite, `>= 0`) and refreshes its ancestors.
    ///
    /// # Panics
    /// If `leaf >= num_leaves` (callers pass slots they own).
    pub fn set(&mut self, leaf: usize, value: f32) {
        assert!(leaf < self.num_leaves, "leaf {leaf} out of {}", self.num_leaves);
        debug_assert!(value.is_finite() && value >= 0.0, "value {value}");
        let mut node = self.width + leaf;
        self.nodes[node] = value;
        while node > 1 {
            node /= 2;
            self.nodes[node] = self.nodes[2 * node].max(self.nodes[2 * node + 1]);
        }
    }

    /// Bytes held by the tree.
    pub fn nbytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<f32>()
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
