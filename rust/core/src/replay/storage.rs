//! Contiguous storage of transitions: one array per field, used as a ring.
//!
//! Every transition ever added has a global id (`index`), issued in order.
//! Transition `index` lives in slot `index % capacity` of each column, so the
//! live transitions (a contiguous range of ids, at most `capacity` long) never
//! collide. Columns grow on demand (doubling, capped at `capacity` rows) and
//! then stay put: memory is bounded by the capacity.

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

/// The per-transition columns. Transition `index` is row `index % capacity`.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    capacity: usize,
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
    pub fn new(capacity: usize, num_actions: usize, frame_len: usize, dtype: ObsDtype) -> Self {
        Self {
            capacity,
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

    /// The ring slot of transition `index`.
    pub fn slot(&self, index: u64) -> usize {
        // The remainder is < capacity, a usize.
        (index % self.capacity as u64) as usize
    }

    /// Writes one game whose first transition has id `first`. The caller made room.
    pub fn write(&mut self, first: u64, rows: GameRows<'_>) {
        let (c, s) = (self.capacity, self.slot(first));
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
    fn a_ring_can_start_past_slot_zero() {
        let mut column = Vec::new();
        write_rows(&mut column, 1, 4, 2, &[7, 8, 9]);
        assert_eq!(column, vec![9, 0, 7, 8]);
    }
}
