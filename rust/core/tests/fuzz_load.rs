//! Fuzzing of `ReplayBuffer::load` on stable Rust: valid snapshots written by the
//! crate (and the files of `tests/corpus/`) are mutated (bit flips, byte writes,
//! truncations, inserted and deleted bytes, header and game fields overwritten
//! with extreme values), resealed with a fresh CRC-32 so that parsing goes past the
//! checksum, and loaded. A load must return `Ok` or `Err`, never panic; the
//! process runs with its address space capped ([`common::cap_address_space`]), so
//! an allocation sized by a lying header aborts the test binary. A buffer that
//! loads must hold memory proportional to the file, sample, take priority
//! updates and new games, and round-trip through `save` and `load` unchanged.
//!
//! `MZERO_FUZZ_CASES=100000 cargo test -p mzero-core --test fuzz_load -- --nocapture`
//! runs a longer campaign and prints the executions, time and peak memory.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mzero_core::replay::{
    ArrayRef, GameView, ObsArray, ObsDtype, ObsVec, ReplayBuffer, ReplayConfig, SampleOptions,
};
use mzero_core::Error;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

/// A game owned by the test, handed over as a [`GameView`].
struct Game {
    observations: ObsVec,
    obs_shape: Vec<usize>,
    actions: Vec<i64>,
    rewards: Vec<f32>,
    root_values: Vec<f32>,
    policies: Vec<f32>,
    priorities: Option<Vec<f32>>,
    legal_masks: Option<Vec<bool>>,
    segment: Option<(usize, usize)>,
    terminated: bool,
}

impl Game {
    /// A valid game of `steps` transitions, varied by `salt`.
    fn new(steps: usize, obs_shape: &[usize], dtype: ObsDtype, num_actions: usize, salt: usize) -> Self {
        let frames = (steps + 1) * obs_shape.iter().product::<usize>();
        let observations = match dtype {
            ObsDtype::Float32 => ObsVec::Float32((0..frames).map(|i| (i + salt) as f32 * 0.5).collect()),
            ObsDtype::Uint8 => ObsVec::Uint8((0..frames).map(|i| (i * 7 + salt) as u8).collect()),
        };
        let policies = (0..steps)
            .flat_map(|t| {
                let raw: Vec<f32> = (0..num_actions).map(|a| 1.0 + ((t + a + salt) % 3) as f32).collect();
                let sum: f32 = raw.iter().sum();
                raw.into_iter().map(move |p| p / sum)
            })
            .collect();
        Self {
            observations,
            obs_shape: obs_shape.to_vec(),
            actions: (0..steps).map(|t| ((t + salt) % num_actions) as i64).collect(),
            rewards: (0..steps).map(|t| t as f32 - salt as f32).collect(),
            root_values: (0..steps).map(|t| 0.25 * t as f32).collect(),
            policies,
            priorities: (salt % 3 == 1).then(|| (0..steps).map(|t| 0.5 + t as f32).collect()),
            legal_masks: (salt % 4 == 2)
                .then(|| (0..steps * num_actions).map(|i| i % num_actions != 1).collect()),
            segment: (salt % 5 == 3 && steps > 2).then_some((1, steps - 1)),
            terminated: salt.is_multiple_of(2),
        }
    }

    fn view(&self) -> GameView<'_> {
        let steps = self.actions.len();
        let mut shape = vec![steps + 1];
        shape.extend_from_slice(&self.obs_shape);
        GameView {
            observations: ObsArray { shape, data: self.observations.as_slice() },
            actions: ArrayRef::vector(&self.actions),
            rewards: ArrayRef::vector(&self.rewards),
            root_values: ArrayRef::vector(&self.root_values),
            policies: ArrayRef::matrix(steps, &self.policies),
            terminated: self.terminated,
            bootstrap_value: 0.5,
            priorities: self.priorities.as_deref().map(ArrayRef::vector),
            legal_masks: self.legal_masks.as_deref().map(|m| ArrayRef::matrix(steps, m)),
            segment: self.segment,
        }
    }
}

/// A scratch directory of this test binary.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mzero-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// The bytes `buffer.save` writes.
fn snapshot(buffer: &ReplayBuffer, dir: &Path) -> Vec<u8> {
    let path = dir.join("seed.bin");
    buffer.save(&path).expect("save a seed");
    std::fs::read(&path).expect("read a seed")
}

/// A buffer of `config` holding games of the given lengths (salted by position).
fn filled(config: ReplayConfig, dtype: ObsDtype, lengths: &[usize]) -> ReplayBuffer {
    let (obs_shape, num_actions) = (config.obs_shape.clone(), config.num_actions);
    let mut buffer = ReplayBuffer::new(config).expect("a valid seed configuration");
    for (salt, &steps) in lengths.iter().enumerate() {
        buffer
            .add_game(&Game::new(steps, &obs_shape, dtype, num_actions, salt).view())
            .expect("a valid game");
    }
    buffer
}

/// Valid snapshots of several configurations, then the committed corpus.
fn seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let base = |capacity, obs_shape: &[usize], num_actions| {
        ReplayConfig::new(capacity, obs_shape.to_vec(), num_actions)
    };
    let lengths: Vec<usize> = (0..9).map(|i| 2 + i % 7).collect();
    let buffers = [
        (
            "float32, stack 2, two players, wrapped ring",
            filled(
                ReplayConfig { stack: 2, two_player: true, ..base(30, &[2, 3], 3) },
                ObsDtype::Float32,
                &lengths,
            ),
        ),
        (
            "uint8, prioritized, segments, legal masks",
            filled(
                ReplayConfig { alpha: 0.6, beta: 0.5, unroll_steps: 3, td_steps: 4, ..base(50, &[4], 2) },
                ObsDtype::Uint8,
                &[3, 9, 4, 10, 5, 8, 6, 7],
            ),
        ),
        ("scalar observations", filled(base(5, &[], 1), ObsDtype::Float32, &[3])),
        ("sparse ring (loads shifted)", filled(base(40, &[2], 3), ObsDtype::Float32, &[35, 3, 4])),
        (
            "empty, uint8",
            ReplayBuffer::new(ReplayConfig { obs_dtype: Some(ObsDtype::Uint8), ..base(10, &[4], 2) })
                .expect("config"),
        ),
        ("empty", ReplayBuffer::new(base(5, &[1], 2)).expect("config")),
        ("capacity 2^36, two games", filled(base(1 << 36, &[1], 2), ObsDtype::Uint8, &[2, 3])),
    ];
    let mut out: Vec<(String, Vec<u8>)> =
        buffers.iter().map(|(name, buffer)| ((*name).to_string(), snapshot(buffer, dir))).collect();
    for (name, bytes) in corpus() {
        out.push((format!("corpus/{name}"), bytes));
    }
    out
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("corpus")
}

/// The committed seed files, by name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "bin"))
        .map(|entry| {
            let bytes = std::fs::read(entry.path()).expect("a corpus file");
            (entry.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

/// Reads a little-endian `u64` at `at`, if the bytes are there.
fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(field.try_into().ok()?))
}

/// Offsets of the `u64` fields of a snapshot (header, and each game's id, first
/// index, length and segment), as far as the bytes parse.
fn u64_fields(bytes: &[u8]) -> Vec<usize> {
    let mut fields = vec![12, 20, 28, 36, 44]; // capacity, num_actions, unroll_steps, td_steps, stack
    let parse = |fields: &mut Vec<usize>| -> Option<()> {
        let version = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
        let num_actions = u64_at(bytes, 20)?;
        let ndim = u32::from_le_bytes(bytes.get(77..81)?.try_into().ok()?);
        let mut at = 81usize;
        let mut frame_len = 1u64;
        for _ in 0..ndim.min(32) {
            fields.push(at);
            frame_len = frame_len.checked_mul(u64_at(bytes, at)?)?;
            at += 8;
        }
        let itemsize = if *bytes.get(at)? == 2 { 1 } else { 4 };
        at += 1;
        fields.extend([at, at + 8]); // next_game_id, next_index
        at += 8 + 8 + 4; // and max_priority
        fields.push(at); // num_games
        let num_games = u64_at(bytes, at)?;
        at += 8;
        for _ in 0..num_games.min(64) {
            fields.extend([at, at + 8, at + 16]); // id, first, T
            let steps = u64_at(bytes, at + 16)?;
            at += 24 + 1 + 4; // and terminated, bootstrap_value
            if version >= 3 {
                fields.extend([at, at + 8]); // segment start, stop
                at += 16;
            }
            let legal = if version >= 2 { num_actions } else { 0 };
            let per_step =
                8 + 3 * 4 + num_actions.checked_mul(4)? + legal + frame_len.checked_mul(itemsize)?;
            let game = steps.checked_mul(per_step)?.checked_add(frame_len.checked_mul(itemsize)?)?;
            at = at.checked_add(usize::try_from(game).ok()?)?;
        }
        Some(())
    };
    let _ = parse(&mut fields);
    fields
}

/// Values that break sizes and indices: zero, powers of two around the 32-, 36-
/// and 64-bit limits, the largest `i64` and `u64`.
const EXTREMES: [u64; 15] = [
    0,
    1,
    2,
    255,
    (1 << 31) - 1,
    1 << 31,
    1 << 32,
    1 << 36,
    1 << 40,
    1 << 62,
    (1 << 63) - 1,
    1 << 63,
    (1 << 63) + 1,
    u64::MAX - 1,
    u64::MAX,
];

/// Offsets of the `f64` fields discount, alpha and beta.
const F64_FIELDS: [usize; 3] = [52, 60, 68];

const FLOATS: [f64; 9] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0, 1e300, 5.0, 1.0, 0.5];

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// A `u64` field (of [`u64_fields`]) set to one of [`EXTREMES`].
    ExtremeField(Index, Index),
    /// A `u64` field moved by a small step: off-by-one lies.
    NudgeField(Index, i8),
    /// An `f64` field (of [`F64_FIELDS`]) set to one of [`FLOATS`].
    Float(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, value)| Mutation::SetByte(at, value)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, b)| Mutation::Insert(at, b)),
        1 => (any::<Index>(), 1usize..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(f, v)| Mutation::ExtremeField(f, v)),
        2 => (any::<Index>(), -4i8..=4).prop_map(|(f, d)| Mutation::NudgeField(f, d)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(f, v)| Mutation::Float(f, v)),
    ]
}

/// Applies `m` to the body (the bytes before the checksum) of a snapshot whose
/// `u64` fields sit at `fields`.
fn apply(body: &mut Vec<u8>, m: &Mutation, fields: &[usize]) {
    let write = |body: &mut Vec<u8>, at: usize, bytes: &[u8]| {
        if let Some(dst) = body.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    };
    match m {
        Mutation::FlipBit(at, bit) if !body.is_empty() => {
            let at = at.index(body.len());
            body[at] ^= 1 << bit;
        }
        Mutation::SetByte(at, value) if !body.is_empty() => {
            let at = at.index(body.len());
            body[at] = *value;
        }
        Mutation::Truncate(at) => body.truncate(at.index(body.len() + 1)),
        Mutation::Insert(at, bytes) => {
            let at = at.index(body.len() + 1);
            body.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete(at, n) if !body.is_empty() => {
            let at = at.index(body.len());
            body.drain(at..(at + n).min(body.len()));
        }
        Mutation::ExtremeField(field, value) => {
            let at = fields[field.index(fields.len())];
            write(body, at, &EXTREMES[value.index(EXTREMES.len())].to_le_bytes());
        }
        Mutation::NudgeField(field, delta) => {
            let at = fields[field.index(fields.len())];
            if let Some(old) = u64_at(body, at) {
                write(body, at, &old.wrapping_add_signed(i64::from(*delta)).to_le_bytes());
            }
        }
        Mutation::Float(field, value) => {
            let at = F64_FIELDS[field.index(F64_FIELDS.len())];
            write(body, at, &FLOATS[value.index(FLOATS.len())].to_le_bytes());
        }
        _ => {}
    }
}

/// `seed` mutated by `mutations`, with a fresh checksum when `reseal`.
fn mutated(seed: &[u8], mutations: &[Mutation], reseal: bool) -> Vec<u8> {
    let fields = u64_fields(seed);
    let mut body = seed[..seed.len().saturating_sub(4)].to_vec();
    let stale = seed[seed.len().saturating_sub(4)..].to_vec();
    for m in mutations {
        apply(&mut body, m, &fields);
    }
    let checksum = if reseal { crc32fast::hash(&body).to_le_bytes().to_vec() } else { stale };
    body.extend_from_slice(&checksum);
    body
}

/// What a loaded buffer must do: hold memory in proportion to the file, sample or
/// refuse, take priority updates, round-trip through a snapshot unchanged, and
/// take a new game (or refuse it).
fn exercise(mut buffer: ReplayBuffer, file_len: usize, dir: &Path) {
    assert!(
        buffer.nbytes() <= 16 * file_len + 4096,
        "a {file_len}-byte file loaded into {} bytes",
        buffer.nbytes()
    );
    let options = SampleOptions { next_observations: true, reanalysis: true };
    let _ = buffer.sample_with(3, 11, options);
    let (index, _) = buffer.priorities();
    assert_eq!(index.len(), buffer.len());
    let some = index.len().min(4);
    let new_priorities = &[1.5, 2.5, 0.25, 4.0][..some];
    buffer
        .update_priorities(&ArrayRef::vector(&index[..some]), &ArrayRef::vector(new_priorities))
        .expect("the stored indices take new priorities");

    let path = dir.join("round-trip.bin");
    buffer.save(&path).expect("a loaded buffer saves");
    let again = ReplayBuffer::load(&path).expect("a saved buffer loads");
    assert_eq!(again.priorities(), buffer.priorities());
    assert_eq!(again.nbytes(), buffer.nbytes());
    assert_eq!(again.config(), buffer.config());
    match (again.sample(4, 7), buffer.sample(4, 7)) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("the round trip changed sampling: {:?} vs {:?}", a.is_ok(), b.is_ok()),
    }

    let config = buffer.config().clone();
    if config.frame_len() <= 1 << 12 && config.num_actions <= 1 << 12 && config.capacity >= 2 {
        let dtype = config.obs_dtype.unwrap_or(ObsDtype::Float32);
        let game = Game::new(2, &config.obs_shape, dtype, config.num_actions, 1);
        if buffer.add_game(&game.view()).is_ok() {
            assert!(buffer.len() >= 2);
            let _ = buffer.sample(2, 3);
        }
    }
}

/// Loads `bytes` from `path`: `Ok` or a corrupt-file error, nothing else.
fn load(bytes: &[u8], path: &Path) -> Result<ReplayBuffer, Error> {
    std::fs::write(path, bytes).expect("write the mutated file");
    let result = ReplayBuffer::load(path);
    if let Err(err) = &result {
        assert!(matches!(err, Error::CorruptFile { .. }), "not a corrupt-file error: {err}");
    }
    result
}

#[test]
fn mutated_snapshots_load_or_fail_cleanly() {
    common::cap_address_space();
    let dir = scratch_dir("load");
    let seeds = seeds(&dir);
    let path = dir.join("mutated.bin");
    let (executions, loaded) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let start = Instant::now();
    let config = Config { cases: common::cases(3000), failure_persistence: None, ..Config::default() };
    let strategy = (any::<Index>(), prop::collection::vec(mutation(), 1..6), prop::bool::weighted(0.95));
    TestRunner::new(config)
        .run(&strategy, |(seed, mutations, reseal)| {
            let (_, bytes) = &seeds[seed.index(seeds.len())];
            let file = mutated(bytes, &mutations, reseal);
            executions.fetch_add(1, Ordering::Relaxed);
            if let Ok(buffer) = load(&file, &path) {
                loaded.fetch_add(1, Ordering::Relaxed);
                exercise(buffer, file.len(), &dir);
            }
            Ok(())
        })
        .expect("no mutated snapshot panics");
    common::report("fuzz_load", executions.into_inner(), start.elapsed());
    eprintln!("fuzz_load: {} of them loaded; {} seeds", loaded.into_inner(), seeds.len());
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn every_seed_loads_and_round_trips() {
    common::cap_address_space();
    let dir = scratch_dir("seeds");
    let path = dir.join("seed-copy.bin");
    for (name, bytes) in seeds(&dir) {
        match load(&bytes, &path) {
            Ok(buffer) => exercise(buffer, bytes.len(), &dir),
            Err(err) => assert!(name.starts_with("corpus/refused-"), "{name}: {err}"),
        }
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// Every single-byte change and truncation of a small snapshot, resealed.
#[test]
fn every_resealed_byte_change_loads_or_fails_cleanly() {
    common::cap_address_space();
    let dir = scratch_dir("bytes");
    let path = dir.join("changed.bin");
    let buffer =
        filled(ReplayConfig { alpha: 0.5, ..ReplayConfig::new(8, vec![1], 2) }, ObsDtype::Uint8, &[3, 4, 2]);
    let seed = snapshot(&buffer, &dir);
    let body_len = seed.len() - 4;
    let start = Instant::now();
    let mut executions = 0;
    for at in 0..body_len {
        for value in [0x00, 0xff, seed[at] ^ 0x01, seed[at] ^ 0x80] {
            let mut body = seed[..body_len].to_vec();
            body[at] = value;
            let file = mutated(&body, &[], true);
            executions += 1;
            if let Ok(buffer) = load(&file, &path) {
                exercise(buffer, file.len(), &dir);
            }
        }
    }
    for len in 0..body_len {
        executions += 1;
        assert!(load(&mutated(&seed[..len], &[], true), &path).is_err(), "truncated to {len}");
    }
    common::report("every byte", executions, start.elapsed());
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// A snapshot of one game with `obs_shape = [1]` as format `version` (1 or 2) wrote
/// it: without the segment, and for version 1 without the legal masks.
fn older_snapshot(bytes: &[u8], version: u32, legal_bytes: usize) -> Vec<u8> {
    let segment_at = 118 + 24 + 1 + 4;
    let mut old = [&bytes[..segment_at], &bytes[segment_at + 16..bytes.len() - 4]].concat();
    if version == 1 {
        old.truncate(old.len() - legal_bytes);
    }
    old[8..12].copy_from_slice(&version.to_le_bytes());
    old.extend_from_slice(&[0; 4]);
    mutated(&old, &[], true)
}

/// Writes the committed corpus: `cargo test -p mzero-core --test fuzz_load -- --ignored`.
/// Files named `refused-*` must fail to load; the others must load. The seeds of
/// the libFuzzer target (`fuzz/corpus/load`, which appends the checksum itself) are
/// the same files and [`seeds`], without their checksum.
#[test]
#[ignore = "writes tests/corpus"]
fn write_corpus() {
    let dir = scratch_dir("corpus");
    let out = corpus_dir();
    std::fs::create_dir_all(&out).expect("tests/corpus");
    let one_step = filled(ReplayConfig::new(1 << 36, vec![1], 2), ObsDtype::Float32, &[1]);
    let bytes = snapshot(&one_step, &dir);
    let set = |fields: &[(usize, u64)]| {
        let mut body = bytes[..bytes.len() - 4].to_vec();
        for &(at, value) in fields {
            body[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        mutated(&[body, vec![0; 4]].concat(), &[], true)
    };
    let (first_at, next_index_at) = (126, 98);
    // one transition at the end of a ring of 2^36 that never filled (issue 32)
    let lying = set(&[(first_at, (1 << 36) - 1), (next_index_at, 1 << 36)]);
    // the same transition after the ring filled: consistent, loads into one row
    let compact = set(&[(first_at, (1 << 37) - 2), (next_index_at, (1 << 37) - 1)]);
    let mut one_game = filled(ReplayConfig::new(8, vec![1], 2), ObsDtype::Float32, &[]);
    let mut game = Game::new(3, &[1], ObsDtype::Float32, 2, 0);
    game.legal_masks = Some(vec![true, false, false, true, true, true]);
    one_game.add_game(&game.view()).expect("a valid game");
    let current = snapshot(&one_game, &dir);
    let files = [
        ("refused-lying-ring.bin", lying),
        ("compact-ring.bin", compact),
        ("version-1.bin", older_snapshot(&current, 1, 6)),
        ("version-2.bin", older_snapshot(&current, 2, 6)),
    ];
    for (name, file) in &files {
        std::fs::write(out.join(name), file).expect("write a corpus file");
    }
    let libfuzzer = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/load");
    std::fs::create_dir_all(&libfuzzer).expect("fuzz/corpus/load");
    for (i, (_, file)) in seeds(&dir).iter().enumerate() {
        let body = &file[..file.len().saturating_sub(4)];
        std::fs::write(libfuzzer.join(format!("seed-{i:02}")), body).expect("write a libFuzzer seed");
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}
