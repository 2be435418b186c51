//! A segment tree: a complete binary tree over leaves whose inner nodes combine their
//! two children, so the root combines every leaf and an update costs O(log n).
//!
//! The replay buffer keeps two over its ring slots: a [`SumTree`](super::sum_tree::SumTree)
//! of `p^alpha` for prioritized sampling and a [`MaxTree`](super::max_tree::MaxTree) of
//! the raw priorities for new games.

use std::marker::PhantomData;

/// How the inner nodes of a [`SegmentTree`] combine their two children.
pub trait Combine {
    /// A leaf's value.
    type Leaf: Copy + Default + std::fmt::Debug;

    /// The value of a node from its children's.
    fn combine(left: Self::Leaf, right: Self::Leaf) -> Self::Leaf;

    /// Whether `leaf` may be stored (checked in debug builds).
    fn is_valid(leaf: Self::Leaf) -> bool;
}

/// A tree over `num_leaves` leaves (padded to a power of two), combined by `C`.
///
/// Node 1 is the root, node `j` has children `2j` and `2j + 1`, and leaf `i` is node
/// `width + i`. Inner nodes are recomputed from their children on every update
/// (never by applying deltas), so no rounding error accumulates. Leaves start at
/// `C::Leaf::default()` (0), which must be neutral for `C::combine` over the values
/// stored (it is for sums, and for maxima of non-negative values).
#[derive(Debug, Clone)]
pub struct SegmentTree<C: Combine> {
    num_leaves: usize,
    /// Leaves in the tree, a power of two `>= num_leaves`.
    width: usize,
    /// `nodes[0]` is unused; `nodes[1]` is the root.
    nodes: Vec<C::Leaf>,
    combine: PhantomData<C>,
}

impl<C: Combine> SegmentTree<C> {
    /// A tree of `num_leaves` leaves, all zero.
    pub fn new(num_leaves: usize) -> Self {
        let width = num_leaves.max(1).next_power_of_two();
        Self { num_leaves, width, nodes: vec![C::Leaf::default(); 2 * width], combine: PhantomData }
    }

    /// Grows the tree to `num_leaves` leaves (new leaves are zero); never shrinks.
    pub fn grow(&mut self, num_leaves: usize) {
        if num_leaves <= self.num_leaves {
            return;
        }
        let width = num_leaves.next_power_of_two();
        if width != self.width {
            let mut nodes = vec![C::Leaf::default(); 2 * width];
            nodes[width..width + self.num_leaves]
                .copy_from_slice(&self.nodes[self.width..self.width + self.num_leaves]);
            for node in (1..width).rev() {
                nodes[node] = C::combine(nodes[2 * node], nodes[2 * node + 1]);
            }
            self.nodes = nodes;
            self.width = width;
        }
        self.num_leaves = num_leaves;
    }

    /// Grows to hold `leaves` leaves, at least doubling (so that growing one slot at a
    /// time costs amortised O(1) a slot) but never past `limit`.
    pub fn grow_to_hold(&mut self, leaves: usize, limit: usize) {
        if leaves > self.num_leaves {
            self.grow(leaves.max(2 * self.num_leaves).min(limit));
        }
    }

    /// The number of leaves.
    pub fn num_leaves(&self) -> usize {
        self.num_leaves
    }

    /// Every leaf combined.
    pub fn root(&self) -> C::Leaf {
        self.nodes[1]
    }

    /// Leaf `leaf`.
    ///
    /// # Panics
    /// If `leaf >= num_leaves` (callers pass slots they own).
    pub fn get(&self, leaf: usize) -> C::Leaf {
        assert!(leaf < self.num_leaves, "leaf {leaf} out of {}", self.num_leaves);
        self.nodes[self.width + leaf]
    }

    /// Sets leaf `leaf` to `value` (which `C::is_valid`) and refreshes its ancestors.
    ///
    /// # Panics
    /// If `leaf >= num_leaves` (callers pass slots they own).
    pub fn set(&mut self, leaf: usize, value: C::Leaf) {
        assert!(leaf < self.num_leaves, "leaf {leaf} out of {}", self.num_leaves);
        debug_assert!(C::is_valid(value), "leaf value {value:?}");
        let mut node = self.width + leaf;
        self.nodes[node] = value;
        while node > 1 {
            node /= 2;
            self.nodes[node] = C::combine(self.nodes[2 * node], self.nodes[2 * node + 1]);
        }
    }

    /// The children of inner node `node` (`1 <= node < width`).
    pub(crate) fn children(&self, node: usize) -> (C::Leaf, C::Leaf) {
        (self.nodes[2 * node], self.nodes[2 * node + 1])
    }

    /// Leaves in the padded tree: nodes `width ..` are the leaves.
    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// Bytes held by the tree.
    pub fn nbytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<C::Leaf>()
    }
}
