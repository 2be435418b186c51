//! mzero-core: the engine of mzero, in pure Rust.
//!
//! MuZero (Schrittwieser et al. 2020) plans with Monte Carlo Tree Search inside
//! a learned latent space. This crate holds the parts that must be fast and
//! exact: batched tree search and the replay buffer with its targets. It knows
//! nothing of Python; the `mzero-python` crate binds it.

pub mod error;
pub mod replay;
pub mod search;

pub use error::{Error, Result};
pub use replay::{ReplayBuffer, ReplayConfig};
