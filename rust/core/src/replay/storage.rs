//! Contiguous storage of transitions: one array per field, used as a ring.
//!
//! Every transition ever added has a global id (`index`), issued in order.
//! Transition `index` lives in slot `(index + shift) % capacity` of each column
//! ([`Ring`]), so the live transitions (a contiguous range of ids, at most
//! `capacity` long) never collide. A buffer built by `add_game` has `shift = 0`;
//! a loaded snapshot may shift its ring so that its oldest transition sits in slot
//! 0 ([`Ring::for_snapshot`]). Columns grow on demand (doubling, capped at
//! `capacity` rows) and then stay put: memory is bounded by the capacity, and
//! after a load by twice the transitions the snapshot holds, whatever its header
//! says the capacity and indices are.

use std::fmt;

/// The element type of stored observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObsDtype {
    /// `float32` features (e.g. CartPole's 4 floats).
    Float32,
    /// `uint8` pixels (image frames).
    Uint8,
}

impl ObsDtype {
    /// The numpy name: `float32` or `uint8`.
    pub fn name(self) -> &'static str {
        match self {
            ObsDtype::Float32 => "float32",
            ObsDtype::Uint8 => "uint8",
        }
    }

    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            ObsDtype::Float32 => 4,
            ObsDtype::Uint8 => 1,
        }
    }
}

impl fmt::Display for ObsDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Borrowed observation elements of either dtype.
#[derive(Debug, Clone, Copy)]
pub enum ObsSlice<'a> {
    /// `float32` elements.
    Float32(&'a [f32]),
    /// `uint8` elements.
    Uint8(&'a [u8]),
}

impl ObsSlice<'_> {
    /// The element type.
    pub fn dtype(&self) -> ObsDtype {
        match self {
            ObsSlice::Float32(_) => ObsDtype::Float32,
            ObsSlice::Uint8(_) => ObsDtype::Uint8,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            ObsSlice::Float32(x) => x.len(),
            ObsSlice::Uint8(x) => x.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Owned observation elements of either dtype (stored frames or a sampled batch).
#[derive(Debug, Clone, PartialEq)]
pub enum ObsVec {
    /// `float32` elements.
    Float32(Vec<f32>),
    /// `uint8` elements.
    Uint8(Vec<u8>),
}

impl ObsVec {
    /// An empty vector of `dtype`.
    pub fn new(dtype: ObsDtype) -> Self {
        match dtype {
            ObsDtype::Float32 => ObsVec::Float32(Vec::new()),
            ObsDtype::Uint8 => ObsVec::Uint8(Vec::new()),
        }
    }

    /// A copy of `slice`.
    pub fn from_slice(slice: ObsSlice<'_>) -> Self {
        match slice {
            ObsSlice::Float32(x) => ObsVec::Float32(x.to_vec()),
            ObsSlice::Uint8(x) => ObsVec::Uint8(x.to_vec()),
        }
    }

    /// The element type.
    pub fn dtype(&self) -> ObsDtype {
        self.as_slice().dtype()
    }

    /// A borrowed view.
    pub fn as_slice(&self) -> ObsSlice<'_> {
        match self {
            ObsVec::Float32(x) => ObsSlice::Float32(x),
            ObsVec::Uint8(x) => ObsSlice::Uint8(x),
        }
    }

    /// Bytes held (allocated capacity).
    pub fn nbytes(&self) -> usize {
        match self {
            ObsVec::Float32(x) => x.capacity() * 4,
            ObsVec::Uint8(x) => x.capacity(),
        }
    }
}

/// Copies `rows` (a whole number of rows of `width` elements) into `column`,
/// starting at ring slot `first_slot` and wrapping at `capacity` rows.
///
/// The column grows as needed, doubling but never past `capacity` rows.
fn write_rows<T: Copy + Default>(
    column: &mut Vec<T>,
    width: usize,
    capacity: usize,
    first_slot: usize,
    rows: &[T],
) {
    let mut slot = first_slot;
    let mut rest = rows;
    while !rest.is_empty() {
        let rows_here = (rest.len() / width).min(capacity - slot);
        let (here, later) = rest.split_at(rows_here * width);
        let (start, end) = (slot * width, (slot + rows_here) * width);
        if end > column.len() {
            let target = end.max(2 * column.capacity()).min(capacity * width);
            column.reserve_exact(target.saturating_sub(column.len()));
            column.resize(end, T::default());
        }
        column[start..end].copy_from_slice(here);
        slot = 0;
        rest = later;
    }
}

/// Where transitions live: transition `index` in slot `(index + shift) % capacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ring {
    capacity: usize,
    /// `< capacity`.
    shift: usize,
}

impl Ring {
    /// The ring of a buffer filled by `add_game`: transition `index` in slot
    /// `index % capacity`.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, shift: 0 }
    }

    /// The ring of a snapshot whose live transitions are `oldest .. oldest + len`
    /// (`1 <= len <= capacity`), and the rows to allocate before its games go in.
    ///
    /// The saved buffer had written every slot below `min(oldest + len, capacity)`.
    /// Its layout (`shift = 0`) is kept when those rows are at most twice the
    /// transitions stored: always for a buffer that never filled (its games start
    /// at index 0), and for one that filled and is at least half full, which then
    /// gets the `capacity` rows the saved buffer held, so that it samples, grows and
    /// evicts exactly like the saved one. Otherwise the ring is shifted so that
    /// `oldest` sits in slot 0 and the rows grow as the games go in: at most `2 len`
    /// rows, whatever `capacity` and `oldest` are. (Uniform samples are the same
    /// either way; prioritized ones walk the sum tree in slot order and may pick
    /// other transitions, with the same probabilities.)
    pub fn for_snapshot(capacity: usize, oldest: u64, len: usize) -> (Self, usize) {
        let end = oldest.saturating_add(len as u64);
        let filled = end > capacity as u64;
        let saved_rows = if filled { capacity as u64 } else { end };
        if saved_rows <= 2 * len as u64 {
            return (Self::new(capacity), if filled { capacity } else { 0 });
        }
        // The remainder is < capacity, a usize.
        let oldest_slot = (oldest % capacity as u64) as usize;
        (Self { capacity, shift: (capacity - oldest_slot) % capacity }, 0)
    }

    /// The slot of transition `index`.
    pub fn slot(&self, index: u64) -> usize {
        let capacity = self.capacity as u64;
        // Both terms are < capacity <= isize::MAX: the sum cannot overflow, and the
        // remainder is a usize.
        ((index % capacity + self.shift as u64) % capacity) as usize
    }

    /// The index in slot `slot` of the live transitions that start at `oldest`.
    pub fn index_of_slot(&self, slot: usize, oldest: u64) -> u64 {
        let capacity = self.capacity as u64;
        oldest + (slot as u64 + capacity - self.slot(oldest) as u64) % capacity
    }

    /// The rows `0..n` that hold the slots of transitions `first .. first + steps`
    /// (`steps <= capacity`): all of them once the game wraps around the ring.
    pub fn rows_to_hold(&self, first: u64, steps: usize) -> usize {
        self.slot(first).saturating_add(steps).min(self.capacity)
    }
}

/// The per-transition columns. Transition `index` is row `ring.slot(index)`.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    ring: Ring,
    num_actions: usize,
    frame_len: usize,
    /// `a_t`, int64.
    pub actions: Vec<i64>,
    /// `u_{t+1}`, the reward that follows `a_t`.
    pub rewards: Vec<f32>,
    /// `v_t`, the search value at `t` (kept to save and reload the game).
    pub root_values: Vec<f32>,
    /// `pi_t`, `num_actions` floats per row.
    pub policies: Vec<f32>,
    /// The priority `p_t` (before the `alpha` exponent).
    pub priorities: Vec<f32>,
    /// The legal actions at `t`, `num_actions` bytes (0 or 1) per row.
    pub legal: Vec<u8>,
    /// `o_t` for `t < T`, `frame_len` elements per row. (`o_T` is kept per game.)
    pub frames: ObsVec,
}

/// One game's rows, ready to be written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GameRows<'a> {
    pub actions: &'a [i64],
    pub rewards: &'a [f32],
    pub root_values: &'a [f32],
    pub policies: &'a [f32],
    pub priorities: &'a [f32],
    pub legal: &'a [u8],
    /// `o_0 .. o_{T-1}`.
    pub frames: ObsSlice<'a>,
}

impl Columns {
    pub fn new(ring: Ring, num_actions: usize, frame_len: usize, dtype: ObsDtype) -> Self {
        Self {
            ring,
            num_actions,
            frame_len,
            actions: Vec::new(),
            rewards: Vec::new(),
            root_values: Vec::new(),
            policies: Vec::new(),
            priorities: Vec::new(),
            legal: Vec::new(),
            frames: ObsVec::new(dtype),
        }
    }

    /// How transitions map to rows.
    pub fn ring(&self) -> Ring {
        self.ring
    }

    /// The ring slot of transition `index`.
    pub fn slot(&self, index: u64) -> usize {
        self.ring.slot(index)
    }

    /// Grows every column to `rows` rows (`<= capacity`), as a buffer that has
    /// written every slot below `rows` holds them.
    pub fn reserve_rows(&mut self, rows: usize) {
        fn grow<T: Copy + Default>(column: &mut Vec<T>, len: usize) {
            if len > column.len() {
                column.reserve_exact(len - column.len());
                column.resize(len, T::default());
            }
        }
        let (a, f) = (self.num_actions, self.frame_len);
        grow(&mut self.actions, rows);
        grow(&mut self.rewards, rows);
        grow(&mut self.root_values, rows);
        grow(&mut self.policies, rows * a);
        grow(&mut self.priorities, rows);
        grow(&mut self.legal, rows * a);
        match &mut self.frames {
            ObsVec::Float32(column) => grow(column, rows * f),
            ObsVec::Uint8(column) => grow(column, rows * f),
        }
    }

    /// Writes one game whose first transition has id `first`. The caller made room.
    pub fn write(&mut self, first: u64, rows: GameRows<'_>) {
        let (c, s) = (self.ring.capacity, self.slot(first));
        write_rows(&mut self.actions, 1, c, s, rows.actions);
        write_rows(&mut self.rewards, 1, c, s, rows.rewards);
        write_rows(&mut self.root_values, 1, c, s, rows.root_values);
        write_rows(&mut self.policies, self.num_actions, c, s, rows.policies);
        write_rows(&mut self.priorities, 1, c, s, rows.priorities);
        write_rows(&mut self.legal, self.num_actions, c, s, rows.legal);
        match (&mut self.frames, rows.frames) {
            (ObsVec::Float32(column), ObsSlice::Float32(x)) => write_rows(column, self.frame_len, c, s, x),
            (ObsVec::Uint8(column), ObsSlice::Uint8(x)) => write_rows(column, self.frame_len, c, s, x),
            // The buffer checks the dtype before it writes anything.
            _ => unreachable!("observation dtype checked by validation"),
        }
    }

    /// The policy row of slot `slot`.
    pub fn policy(&self, slot: usize) -> &[f32] {
        &self.policies[slot * self.num_actions..(slot + 1) * self.num_actions]
    }

    /// The policy row of slot `slot`, to overwrite.
    pub fn policy_mut(&mut self, slot: usize) -> &mut [f32] {
        &mut self.policies[slot * self.num_actions..(slot + 1) * self.num_actions]
    }

    /// The legal-action row of slot `slot` (0 or 1 per action).
    pub fn legal(&self, slot: usize) -> &[u8] {
        &self.legal[slot * self.num_actions..(slot + 1) * self.num_actions]
    }

    /// Bytes held by all columns.
    pub fn nbytes(&self) -> usize {
        self.actions.capacity() * 8
            + self.legal.capacity()
            + (self.rewards.capacity()
                + self.root_values.capacity()
                + self.policies.capacity()
                + self.priorities.capacity())
                * 4
            + self.frames.nbytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_wrap_around_the_ring() {
        let mut column = Vec::new();
        write_rows(&mut column, 2, 3, 0, &[1, 1, 2, 2]);
        assert_eq!(column, vec![1, 1, 2, 2]);
        write_rows(&mut column, 2, 3, 2, &[3, 3, 4, 4]);
        assert_eq!(column, vec![4, 4, 2, 2, 3, 3]);
        assert!(column.capacity() <= 6);
    }

    #[test]
    fn growth_is_capped_at_capacity() {
        let mut column: Vec<f32> = Vec::new();
        for slot in 0..1000 {
            write_rows(&mut column, 3, 1000, slot, &[0.0; 3]);
        }
        assert_eq!(column.len(), 3000);
        assert_eq!(column.capacity(), 3000);
        write_rows(&mut column, 3, 1000, 999, &[1.0; 6]);
        assert_eq!(column.capacity(), 3000);
        assert_eq!(&column[..3], &[1.0; 3]);
    }

    #[test]
    fn a_shifted_ring_maps_slots_back_to_their_indices() {
        for (capacity, oldest, len) in [(7, 0, 7), (7, 12, 3), (10, 95, 2), (1 << 36, (1 << 37) - 2, 1)] {
            let (ring, _) = Ring::for_snapshot(capacity, oldest, len);
            for index in oldest..oldest + len as u64 {
                assert_eq!(
                    ring.index_of_slot(ring.slot(index), oldest),
                    index,
                    "{capacity} {oldest} {index}"
                );
            }
        }
        let (sparse, rows) = Ring::for_snapshot(10, 95, 2);
        assert_eq!((sparse.slot(95), sparse.slot(96), sparse.slot(105), rows), (0, 1, 0, 0));
        assert_eq!(sparse.rows_to_hold(95, 2), 2);
        // the next games wrap at the ring's end, as in any ring
        assert_eq!((sparse.slot(104), sparse.rows_to_hold(103, 3)), (9, 10));
    }

    #[test]
    fn a_snapshot_keeps_its_layout_unless_it_costs_more_than_twice_its_rows() {
        // never filled: the saved layout, rows grown as the games go in
        assert_eq!(Ring::for_snapshot(100, 0, 30), (Ring::new(100), 0));
        // filled and at least half full: the saved layout and its `capacity` rows
        assert_eq!(Ring::for_snapshot(100, 170, 50), (Ring::new(100), 100));
        // filled and sparse: the oldest transition moves to slot 0
        let (ring, rows) = Ring::for_snapshot(100, 170, 49);
        assert_eq!((ring.slot(170), rows), (0, 0));
        let (ring, rows) = Ring::for_snapshot(1 << 36, (1 << 37) - 2, 1);
        assert_eq!((ring.slot((1 << 37) - 2), ring.rows_to_hold((1 << 37) - 2, 1), rows), (0, 1, 0));
    }

    #[test]
    fn a_ring_can_start_past_slot_zero() {
        let mut column = Vec::new();
        write_rows(&mut column, 1, 4, 2, &[7, 8, 9]);
        assert_eq!(column, vec![9, 0, 7, 8]);
    }
}
