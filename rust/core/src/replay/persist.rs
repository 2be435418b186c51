//! Snapshots of a replay buffer: a versioned binary file with a CRC-32 checksum.
//!
//! Layout (little-endian throughout):
//!
//! ```text
//! magic        8 bytes  "MZREPLAY"
//! version      u32      FORMAT_VERSION
//! config       capacity, num_actions, unroll_steps, td_steps, stack: u64;
//!              discount, alpha, beta: f64; two_player: u8;
//!              obs_ndim: u32, obs_shape: u64 x obs_ndim; obs_dtype: u8 (0 unset, 1 float32, 2 uint8)
//! state        next_game_id, next_index: u64; max_priority: f32; num_games: u64
//! games        num_games x { id, first, T: u64; terminated: u8; bootstrap_value: f32;
//!                            segment start, stop: u64 (version 3 on);
//!                            observations [(T+1) x obs]; actions i64 [T]; rewards f32 [T];
//!                            root_values f32 [T]; policies f32 [T x A]; priorities f32 [T];
//!                            legal u8 [T x A] (0 or 1; version 2 on) }
//! checksum     u32      CRC-32 (IEEE) of every byte before it
//! ```
//!
//! `save` writes a temporary file in the target's directory, flushes it to disk
//! and renames it over the target, so a crash at any point leaves either the
//! previous snapshot or the new one. `load` validates every game as `add_game`
//! would, checks the checksum, and only then returns: a bad file never yields a
//! partial buffer, and never aborts the process.
//!
//! Memory is bounded by what the file holds, not by what its header claims. Every
//! size is checked (with overflow-checked products) before it drives an
//! allocation: the configuration as `ReplayBuffer::new` checks it; counts of
//! values against the bytes left before the checksum; the live transitions
//! `first .. next_index` against the capacity, the history of a real buffer (one
//! that never filled keeps its games from index 0; game `id` starts at index `id`
//! or later; ids and indices stay within `int64`) and the bytes they need in the
//! file. The ring is then laid out for the transitions stored
//! ([`Ring::for_snapshot`]): the saved layout when it takes at most twice their
//! rows, else shifted so that the oldest transition sits in slot 0, so a huge
//! capacity or index in the header never makes the columns or trees grow past
//! twice the transitions in the file.
//!
//! Version 1 files (before legal masks were stored) load with every action legal;
//! files before version 3 (before segments) sample every position of every game.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::game::{validate_game, ArrayRef, GameView, ObsArray, ReplayConfig};
use super::storage::{ObsDtype, ObsSlice, ObsVec, Ring};
use super::ReplayBuffer;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"MZREPLAY";
/// The version written by this build; `load` reads it and every earlier one.
pub const FORMAT_VERSION: u32 = 3;
/// Bytes of the trailing checksum.
const CHECKSUM_LEN: u64 = 4;
/// The most observation dimensions a file may declare.
const MAX_OBS_NDIM: u32 = 32;

fn dtype_code(dtype: Option<ObsDtype>) -> u8 {
    match dtype {
        None => 0,
        Some(ObsDtype::Float32) => 1,
        Some(ObsDtype::Uint8) => 2,
    }
}

/// Writes and checksums little-endian values.
struct Writer<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Writer<W> {
    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.inner.write_all(bytes)
    }

    fn u8(&mut self, x: u8) -> io::Result<()> {
        self.bytes(&[x])
    }

    fn u32(&mut self, x: u32) -> io::Result<()> {
        self.bytes(&x.to_le_bytes())
    }

    fn u64(&mut self, x: u64) -> io::Result<()> {
        self.bytes(&x.to_le_bytes())
    }

    fn f64(&mut self, x: f64) -> io::Result<()> {
        self.bytes(&x.to_le_bytes())
    }

    /// Values of 4 or 8 bytes, encoded through a small stack buffer.
    fn values<T: Copy, const N: usize>(&mut self, xs: &[T], to_le: fn(T) -> [u8; N]) -> io::Result<()> {
        let mut buffer = [0u8; 4096];
        for chunk in xs.chunks(buffer.len() / N) {
            for (out, &x) in buffer.chunks_exact_mut(N).zip(chunk) {
                out.copy_from_slice(&to_le(x));
            }
            self.bytes(&buffer[..chunk.len() * N])?;
        }
        Ok(())
    }

    fn f32s(&mut self, xs: &[f32]) -> io::Result<()> {
        self.values(xs, f32::to_le_bytes)
    }

    fn i64s(&mut self, xs: &[i64]) -> io::Result<()> {
        self.values(xs, i64::to_le_bytes)
    }

    fn observations(&mut self, xs: ObsSlice<'_>) -> io::Result<()> {
        match xs {
            ObsSlice::Float32(x) => self.f32s(x),
            ObsSlice::Uint8(x) => self.bytes(x),
        }
    }
}

/// A unique temporary path beside `path`: `.<name>.<pid>.<n>.tmp`.
fn temporary_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map_or_else(|| "replay".into(), |n| n.to_string_lossy().into_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

impl ReplayBuffer {
    /// Writes a snapshot to `path`, atomically replacing any file there.
    pub fn save(&self, path: &Path) -> Result<()> {
        let shown = path.display().to_string();
        let temporary = temporary_path(path);
        let written = File::create_new(&temporary).and_then(|file| {
            let mut writer =
                Writer { inner: BufWriter::with_capacity(1 << 20, file), crc: crc32fast::Hasher::new() };
            self.write_to(&mut writer)?;
            let checksum = writer.crc.clone().finalize();
            writer.inner.write_all(&checksum.to_le_bytes())?;
            let file = writer.inner.into_inner().map_err(io::IntoInnerError::into_error)?;
            file.sync_all()
        });
        let renamed = written.and_then(|()| fs::rename(&temporary, path));
        if let Err(err) = renamed {
            let _ = fs::remove_file(&temporary);
            return Err(Error::io(&shown, err));
        }
        sync_directory(path);
        Ok(())
    }

    fn write_to<W: Write>(&self, w: &mut Writer<W>) -> io::Result<()> {
        let c = &self.config;
        w.bytes(MAGIC)?;
        w.u32(FORMAT_VERSION)?;
        for x in [c.capacity, c.num_actions, c.unroll_steps, c.td_steps, c.stack] {
            w.u64(x as u64)?;
        }
        for x in [c.discount, c.alpha, c.beta] {
            w.f64(x)?;
        }
        w.u8(u8::from(c.two_player))?;
        w.u32(c.obs_shape.len() as u32)?;
        for &d in &c.obs_shape {
            w.u64(d as u64)?;
        }
        w.u8(dtype_code(c.obs_dtype))?;
        w.u64(self.next_game_id)?;
        w.u64(self.next_index)?;
        w.f32s(&[self.max_priority()])?;
        w.u64(self.games.len() as u64)?;
        let Some(columns) = &self.columns else { return Ok(()) };
        let frame_len = c.frame_len();
        for game in &self.games {
            w.u64(game.id)?;
            w.u64(game.first)?;
            w.u64(game.len as u64)?;
            w.u8(u8::from(game.terminated))?;
            w.f32s(&[game.bootstrap_value])?;
            w.u64(game.segment.0 as u64)?;
            w.u64(game.segment.1 as u64)?;
            let slots: Vec<usize> = (game.first..game.end()).map(|i| columns.slot(i)).collect();
            match &columns.frames {
                ObsVec::Float32(frames) => w.f32s(&super::gather(frames, frame_len, &slots))?,
                ObsVec::Uint8(frames) => w.bytes(&super::gather(frames, frame_len, &slots))?,
            }
            w.observations(game.last_observation.as_slice())?;
            w.i64s(&super::gather(&columns.actions, 1, &slots))?;
            w.f32s(&super::gather(&columns.rewards, 1, &slots))?;
            w.f32s(&super::gather(&columns.root_values, 1, &slots))?;
            w.f32s(&super::gather(&columns.policies, c.num_actions, &slots))?;
            w.f32s(&super::gather(&columns.priorities, 1, &slots))?;
            w.bytes(&super::gather(&columns.legal, c.num_actions, &slots))?;
        }
        Ok(())
    }

    /// Reads a snapshot written by [`save`](Self::save).
    ///
    /// Errors: [`Error::Io`] if the file cannot be read; [`Error::CorruptFile`]
    /// if it is truncated, corrupt, of another format version, or holds data
    /// that `add_game` would refuse.
    pub fn load(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|e| Error::io(&shown, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(&shown, e))?.len();
        let Some(body_len) = file_len.checked_sub(CHECKSUM_LEN) else {
            return Err(Error::corrupt(&shown, format!("truncated: {file_len} bytes")));
        };
        let mut reader = Reader {
            inner: BufReader::with_capacity(1 << 20, file),
            crc: crc32fast::Hasher::new(),
            remaining: body_len,
            path: path.display().to_string(),
        };
        let buffer = read_body(&mut reader)?;
        if reader.remaining != 0 {
            return Err(Error::corrupt(&shown, format!("{} bytes after the last game", reader.remaining)));
        }
        let computed = reader.crc.clone().finalize();
        let mut stored = [0u8; 4];
        reader.inner.read_exact(&mut stored).map_err(|e| Error::io(&shown, e))?;
        if u32::from_le_bytes(stored) != computed {
            return Err(Error::corrupt(&shown, "checksum mismatch: the file is corrupt"));
        }
        Ok(buffer)
    }
}

/// Makes the rename durable (best effort: not every platform can sync a directory).
fn sync_directory(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Reads and checksums little-endian values, never past the checksum.
struct Reader<R: Read> {
    inner: R,
    crc: crc32fast::Hasher,
    /// Bytes left before the checksum.
    remaining: u64,
    path: String,
}

impl<R: Read> Reader<R> {
    fn corrupt(&self, reason: impl std::fmt::Display) -> Error {
        Error::corrupt(&self.path, reason)
    }

    /// Checks that `count` items of `size` bytes fit in what is left of the file.
    fn ensure_available(&self, count: u64, size: u64, what: &str) -> Result<usize> {
        match count.checked_mul(size) {
            Some(n) if n <= self.remaining => usize::try_from(count).map_err(|_| self.corrupt(what)),
            _ => Err(self.corrupt(format!("truncated: {what} needs {count} x {size} bytes"))),
        }
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<Vec<u8>> {
        self.ensure_available(n as u64, 1, what)?;
        let mut buffer = vec![0u8; n];
        self.inner.read_exact(&mut buffer).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => self.corrupt(format!("truncated while reading {what}")),
            _ => Error::io(&self.path, e),
        })?;
        self.crc.update(&buffer);
        self.remaining -= n as u64;
        Ok(buffer)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn f64(&mut self, what: &str) -> Result<f64> {
        self.array(what).map(f64::from_le_bytes)
    }

    fn f32(&mut self, what: &str) -> Result<f32> {
        self.array(what).map(f32::from_le_bytes)
    }

    fn bool(&mut self, what: &str) -> Result<bool> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.corrupt(format!("{what}: {other} is not a boolean"))),
        }
    }

    fn usize(&mut self, what: &str) -> Result<usize> {
        let x = self.u64(what)?;
        usize::try_from(x).map_err(|_| self.corrupt(format!("{what}: {x} is too large")))
    }

    /// `count` values of `N` bytes each.
    fn values<T, const N: usize>(
        &mut self,
        count: usize,
        what: &str,
        from_le: fn([u8; N]) -> T,
    ) -> Result<Vec<T>> {
        let n = self.ensure_available(count as u64, N as u64, what)?;
        let bytes = self.bytes(n * N, what)?;
        Ok(bytes
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                from_le(a)
            })
            .collect())
    }

    fn f32s(&mut self, count: usize, what: &str) -> Result<Vec<f32>> {
        self.values(count, what, f32::from_le_bytes)
    }

    fn i64s(&mut self, count: usize, what: &str) -> Result<Vec<i64>> {
        self.values(count, what, i64::from_le_bytes)
    }

    fn observations(&mut self, dtype: ObsDtype, count: usize, what: &str) -> Result<ObsVec> {
        Ok(match dtype {
            ObsDtype::Float32 => ObsVec::Float32(self.f32s(count, what)?),
            ObsDtype::Uint8 => ObsVec::Uint8(self.bytes(count, what)?),
        })
    }
}

/// The checked product `a x b` of two sizes read from the file.
fn product<R: Read>(r: &Reader<R>, a: usize, b: usize, what: &str) -> Result<usize> {
    a.checked_mul(b).ok_or_else(|| r.corrupt(format!("{what}: {a} x {b} overflows")))
}

/// The magic bytes, the version and the configuration.
fn read_config<R: Read>(r: &mut Reader<R>) -> Result<(u32, ReplayConfig)> {
    let magic = r.bytes(MAGIC.len(), "the header")?;
    if magic != MAGIC {
        return Err(r.corrupt("not a mzero replay buffer file (bad magic bytes)"));
    }
    let version = r.u32("the version")?;
    if !(1..=FORMAT_VERSION).contains(&version) {
        return Err(r.corrupt(format!(
            "format version {version}; this build of mzero reads versions 1 to {FORMAT_VERSION}"
        )));
    }
    let capacity = r.usize("capacity")?;
    let num_actions = r.usize("num_actions")?;
    let unroll_steps = r.usize("unroll_steps")?;
    let td_steps = r.usize("td_steps")?;
    let stack = r.usize("stack")?;
    let discount = r.f64("discount")?;
    let alpha = r.f64("alpha")?;
    let beta = r.f64("beta")?;
    let two_player = r.bool("two_player")?;
    let ndim = r.u32("obs_shape")?;
    if ndim > MAX_OBS_NDIM {
        return Err(r.corrupt(format!("obs_shape: {ndim} dimensions")));
    }
    let obs_shape = (0..ndim).map(|_| r.usize("obs_shape")).collect::<Result<Vec<_>>>()?;
    let obs_dtype = match r.u8("obs_dtype")? {
        0 => None,
        1 => Some(ObsDtype::Float32),
        2 => Some(ObsDtype::Uint8),
        other => return Err(r.corrupt(format!("obs_dtype: unknown code {other}"))),
    };
    let config = ReplayConfig {
        capacity,
        obs_shape,
        num_actions,
        unroll_steps,
        td_steps,
        discount,
        two_player,
        alpha,
        beta,
        stack,
        obs_dtype,
    };
    Ok((version, config))
}

/// Bytes that each stored transition takes in a file of `version`: its frame, its
/// action, reward, root value, priority, policy row and (version 2 on) legal row.
fn bytes_per_transition(config: &ReplayConfig, dtype: ObsDtype, version: u32) -> Option<u64> {
    let a = config.num_actions as u64;
    let frame = (config.frame_len() as u64).checked_mul(dtype.itemsize() as u64)?;
    let legal = if version >= 2 { a } else { 0 };
    frame.checked_add(8 + 4 + 4 + 4)?.checked_add(a.checked_mul(4)?)?.checked_add(legal)
}

/// Checks the live transitions `oldest .. next_index` that the header and the
/// first game (`oldest_id`, `oldest`) imply against the capacity, the history of
/// a real buffer and the bytes left in the file, then lays out the buffer's ring
/// for them ([`Ring::for_snapshot`]): nothing is allocated from a size that the
/// file does not back with its own bytes.
fn lay_out_snapshot<R: Read>(
    r: &Reader<R>,
    buffer: &mut ReplayBuffer,
    version: u32,
    (oldest_id, oldest): (u64, u64),
    next_index: u64,
) -> Result<()> {
    let capacity = buffer.config.capacity;
    let Some(dtype) = buffer.config.obs_dtype else {
        return Err(r.corrupt("games stored without an observation dtype"));
    };
    let len = match next_index.checked_sub(oldest) {
        Some(len) if (1..=capacity as u64).contains(&len) => len,
        _ => {
            return Err(r.corrupt(format!(
                "next_index {next_index}: the games from first index {oldest} on must hold 1 to \
                 capacity = {capacity} transitions"
            )))
        }
    };
    // Every game holds a transition, so game `id` starts at index `id` or later.
    if oldest_id > oldest {
        return Err(r.corrupt(format!("game id {oldest_id} is above its first index {oldest}")));
    }
    // Games leave only to make room, and only once `capacity` transitions were added.
    if next_index <= capacity as u64 && (oldest, oldest_id) != (0, 0) {
        return Err(r.corrupt(format!(
            "game first index {oldest} (id {oldest_id}): a buffer that never filled \
             (next_index {next_index} <= capacity {capacity}) keeps its games from index 0"
        )));
    }
    let per_transition = bytes_per_transition(&buffer.config, dtype, version)
        .ok_or_else(|| r.corrupt("obs_shape: a frame too large to store"))?;
    r.ensure_available(len, per_transition, "the stored transitions")?;
    let (ring, rows) = Ring::for_snapshot(capacity, oldest, len as usize);
    buffer.lay_out_ring(dtype, ring, rows);
    Ok(())
}

/// One stored game's data, owned, as the file holds it.
struct StoredData {
    terminated: bool,
    bootstrap_value: f32,
    segment: Option<(usize, usize)>,
    observations: ObsVec,
    actions: Vec<i64>,
    rewards: Vec<f32>,
    root_values: Vec<f32>,
    policies: Vec<f32>,
    priorities: Vec<f32>,
    legal: Vec<bool>,
}

/// The rest of a game of `steps` transitions, after its id, first index and length.
fn read_game_data<R: Read>(
    r: &mut Reader<R>,
    version: u32,
    config: &ReplayConfig,
    dtype: ObsDtype,
    steps: usize,
) -> Result<StoredData> {
    let (frame_len, num_actions) = (config.frame_len(), config.num_actions);
    let terminated = r.bool("terminated")?;
    let bootstrap_value = r.f32("bootstrap_value")?;
    let segment =
        if version >= 3 { Some((r.usize("segment start")?, r.usize("segment stop")?)) } else { None };
    let frames = r.observations(dtype, product(r, steps, frame_len, "observations")?, "observations")?;
    let last = r.observations(dtype, frame_len, "observations")?;
    let actions = r.i64s(steps, "actions")?;
    let rewards = r.f32s(steps, "rewards")?;
    let root_values = r.f32s(steps, "root_values")?;
    let policy_len = product(r, steps, num_actions, "policies")?;
    let policies = r.f32s(policy_len, "policies")?;
    let priorities = r.f32s(steps, "priorities")?;
    let legal: Vec<bool> = if version >= 2 {
        let bytes = r.bytes(policy_len, "legal")?;
        if let Some(bad) = bytes.iter().find(|&&b| b > 1) {
            return Err(r.corrupt(format!("legal: byte {bad}, expected 0 or 1")));
        }
        bytes.into_iter().map(|b| b == 1).collect()
    } else {
        // as many as the policies just read
        vec![true; policy_len]
    };
    let observations = match (&frames, &last) {
        (ObsVec::Float32(head), ObsVec::Float32(tail)) => ObsVec::Float32([&head[..], tail].concat()),
        (ObsVec::Uint8(head), ObsVec::Uint8(tail)) => ObsVec::Uint8([&head[..], tail].concat()),
        _ => return Err(r.corrupt("mixed observation dtypes")),
    };
    Ok(StoredData {
        terminated,
        bootstrap_value,
        segment,
        observations,
        actions,
        rewards,
        root_values,
        policies,
        priorities,
        legal,
    })
}

fn read_body<R: Read>(r: &mut Reader<R>) -> Result<ReplayBuffer> {
    let (version, config) = read_config(r)?;
    // checks every field (the product of obs_shape, capacity x row) and allocates nothing
    let mut buffer =
        ReplayBuffer::new(config).map_err(|e| r.corrupt(format!("invalid configuration: {e}")))?;
    let next_game_id = r.u64("next_game_id")?;
    let next_index = r.u64("next_index")?;
    // ids and indices reach Python as int64
    for (name, x) in [("next_game_id", next_game_id), ("next_index", next_index)] {
        if x > i64::MAX as u64 {
            return Err(r.corrupt(format!("{name}: {x} is past the int64 range")));
        }
    }
    let max_priority = r.f32("max_priority")?;
    if !(max_priority.is_finite() && max_priority > 0.0) {
        return Err(r.corrupt(format!("max_priority: {max_priority}")));
    }
    let num_games = r.u64("num_games")?;
    // Each game takes more than 8 bytes: a bound on the count before the loop.
    r.ensure_available(num_games, 8, "the games")?;

    for g in 0..num_games {
        let id = r.u64("game id")?;
        let first = r.u64("game first index")?;
        let steps = r.usize("game length")?;
        if g == 0 {
            lay_out_snapshot(r, &mut buffer, version, (id, first), next_index)?;
        }
        let previous_end = buffer.games.back().map(|last| (last.id, last.end()));
        let in_order = match previous_end {
            Some((last_id, end)) => id > last_id && first == end,
            None => true,
        };
        let fits = steps >= 1
            && steps <= buffer.config.capacity - buffer.len
            && id < next_game_id
            && first.checked_add(steps as u64).is_some_and(|end| end <= next_index);
        if !(in_order && fits) {
            return Err(r.corrupt(format!(
                "game {g}: id {id}, first index {first}, length {steps} do not fit the buffer's state"
            )));
        }
        let Some(dtype) = buffer.config.obs_dtype else {
            return Err(r.corrupt("games stored without an observation dtype"));
        };
        let data = read_game_data(r, version, &buffer.config, dtype, steps)?;
        let mut shape = vec![steps + 1];
        shape.extend_from_slice(&buffer.config.obs_shape);
        let game = GameView {
            observations: ObsArray { shape, data: data.observations.as_slice() },
            actions: ArrayRef::vector(&data.actions),
            rewards: ArrayRef::vector(&data.rewards),
            root_values: ArrayRef::vector(&data.root_values),
            policies: ArrayRef::matrix(steps, &data.policies),
            terminated: data.terminated,
            bootstrap_value: data.bootstrap_value,
            priorities: Some(ArrayRef::vector(&data.priorities)),
            legal_masks: Some(ArrayRef::matrix(steps, &data.legal)),
            segment: data.segment,
        };
        validate_game(&buffer.config, &game).map_err(|e| r.corrupt(format!("game {id}: {e}")))?;
        buffer.insert(id, first, &game, steps);
    }
    // The newest game is never evicted: it ends the sequence of ids and indices.
    let consistent = match buffer.games.back() {
        Some(last) => last.id + 1 == next_game_id && last.end() == next_index,
        None => next_game_id == 0 && next_index == 0,
    };
    if !consistent {
        return Err(r.corrupt("the stored games do not end at next_game_id and next_index"));
    }
    // written as the largest stored priority (by earlier versions: the largest ever
    // given), so never below one; the buffer derives it from the stored priorities
    if max_priority < buffer.max_priority() {
        return Err(r.corrupt(format!("max_priority {max_priority} is below a stored priority")));
    }
    buffer.next_game_id = next_game_id;
    buffer.next_index = next_index;
    Ok(buffer)
}
