//! Bindings of `mzero_core::replay::ReplayBuffer` as `mzero._core.ReplayBuffer`.
//!
//! Each method checks Python types and numpy dtypes, copies the arrays' elements
//! while it holds the GIL (another Python thread may write to a numpy array as soon
//! as the GIL is released, so no borrowed numpy memory is read without it),
//! releases the GIL, takes the buffer's lock and calls the core. The lock is a
//! `RwLock`: samples and saves share it, writes take it alone. It is only ever
//! taken with the GIL released, so a thread waiting for it never blocks the others.

use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use mzero_core::replay::{
    ArrayRef, GameView, ObsArray, ObsDtype, ObsSlice, ObsVec, ReplayBuffer, ReplayConfig, SampleOptions,
};
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{
    Element, IntoPyArray, PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyTuple};

use crate::arrays::row_major;
use crate::error::{to_py, wrong_type, InvalidArgumentError, MZeroError};

/// A numpy argument's shape and a copy of its elements in row-major order.
struct Owned<T> {
    shape: Vec<usize>,
    data: Vec<T>,
}

impl<T: Copy> Owned<T> {
    fn view(&self) -> ArrayRef<'_, T> {
        ArrayRef::new(self.shape.clone(), &self.data)
    }
}

/// `obj` as a numpy array of `T` (`dtype` names it), copied while the GIL is held;
/// or an `InvalidTypeError` naming `name`.
fn copy<T: Element + Copy>(obj: &Bound<'_, PyAny>, name: &str, dtype: &str) -> PyResult<Owned<T>> {
    let Ok(array) = obj.cast::<PyArrayDyn<T>>() else {
        return Err(match obj.cast::<PyUntypedArray>() {
            Ok(other) => wrong_type(name, &format!("dtype {dtype}"), format!("dtype {}", other.dtype())),
            Err(_) => wrong_type(name, &format!("a numpy array of dtype {dtype}"), type_name(obj)),
        });
    };
    let array = array.try_readonly().map_err(|e| wrong_type(name, "a readable array", e))?;
    let data = match row_major(&array) {
        Some(slice) => slice.to_vec(),
        None => array.as_array().iter().copied().collect(),
    };
    Ok(Owned { shape: array.shape().to_vec(), data })
}

/// An optional array argument (`None` or absent: `None`).
fn copy_optional<T: Element + Copy>(
    obj: Option<&Bound<'_, PyAny>>,
    name: &str,
    dtype: &str,
) -> PyResult<Option<Owned<T>>> {
    obj.filter(|o| !o.is_none()).map(|o| copy(o, name, dtype)).transpose()
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map_or_else(|_| "an unknown type".into(), |n| n.to_string())
}

/// `obj` extracted as `T`, or an `InvalidTypeError` naming `name` and `expected`.
fn extract<'py, T: FromPyObjectOwned<'py>>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    expected: &str,
) -> PyResult<T> {
    obj.extract::<T>().map_err(|_| wrong_type(name, expected, type_name(obj)))
}

/// A non-negative integer argument as `usize`.
fn count(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    let value: i64 = extract(obj, name, "an int")?;
    usize::try_from(value)
        .map_err(|_| InvalidArgumentError::new_err(format!("{name}: expected an int >= 0, got {value}")))
}

fn float(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<f64> {
    extract(obj, name, "a float")
}

fn flag(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<bool> {
    extract(obj, name, "a bool")
}

fn parse_dtype(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ObsDtype>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    match extract::<String>(obj, "obs_dtype", "None, 'float32' or 'uint8'")?.as_str() {
        "float32" => Ok(Some(ObsDtype::Float32)),
        "uint8" => Ok(Some(ObsDtype::Uint8)),
        other => Err(wrong_type("obs_dtype", "None, 'float32' or 'uint8'", format!("'{other}'"))),
    }
}

/// A fresh numpy array of `shape` owning `data`.
fn to_numpy<'py, T: Element>(py: Python<'py>, data: Vec<T>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let array = ArrayD::from_shape_vec(IxDyn(shape), data)
        .map_err(|e| PyRuntimeError::new_err(format!("internal error: batch shape {shape:?}: {e}")))?;
    Ok(array.into_pyarray(py).into_any())
}

/// [`to_numpy`] for observations of either dtype.
fn obs_to_numpy<'py>(py: Python<'py>, data: ObsVec, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    match data {
        ObsVec::Float32(x) => to_numpy(py, x, shape),
        ObsVec::Uint8(x) => to_numpy(py, x, shape),
    }
}

/// Observations of either dtype.
enum ObsOwned {
    Float32(Owned<f32>),
    Uint8(Owned<u8>),
}

/// Why `add_game` refused a game.
enum Refused {
    Core(mzero_core::Error),
    Dtype { expected: ObsDtype, got: ObsDtype },
    Poisoned(Poisoned),
}

/// A write-back of the core buffer: `update_values` or `update_policies`.
type WriteBack = for<'a> fn(
    &mut ReplayBuffer,
    &ArrayRef<'a, i64>,
    &ArrayRef<'a, i64>,
    &ArrayRef<'a, f32>,
) -> mzero_core::Result<()>;

/// The replay buffer of `mzero.ReplayBuffer` (see `python/mzero/replay.py` for the API).
#[pyclass(module = "mzero._core", name = "ReplayBuffer", frozen)]
#[derive(Debug)]
pub struct PyReplayBuffer {
    inner: RwLock<ReplayBuffer>,
}

impl PyReplayBuffer {
    /// The buffer for reading, unless a call panicked while it held it for writing.
    fn read(&self) -> Result<RwLockReadGuard<'_, ReplayBuffer>, Poisoned> {
        self.inner.read().map_err(|_| Poisoned)
    }

    /// The buffer for writing, unless a call panicked while it held it for writing.
    fn write(&self) -> Result<RwLockWriteGuard<'_, ReplayBuffer>, Poisoned> {
        self.inner.write().map_err(|_| Poisoned)
    }

    /// A write-back by (game id, position): copies the arrays, then runs `update` on the
    /// buffer with the GIL released and the exclusive lock held.
    fn write_back(
        &self,
        py: Python<'_>,
        game_id: &Bound<'_, PyAny>,
        position: &Bound<'_, PyAny>,
        (rows, name): (&Bound<'_, PyAny>, &str),
        update: WriteBack,
    ) -> PyResult<()> {
        let game_id = copy::<i64>(game_id, "game_id", "int64")?;
        let position = copy::<i64>(position, "position", "int64")?;
        let rows = copy::<f32>(rows, name, "float32")?;
        let (game_id, position, rows) = (game_id.view(), position.view(), rows.view());
        py.detach(|| self.write().map(|mut buffer| update(&mut buffer, &game_id, &position, &rows)))?
            .map_err(to_py)
    }

    /// Runs `f` on the buffer with the GIL released and the shared lock held.
    fn with_read<T: Send>(&self, py: Python<'_>, f: impl FnOnce(&ReplayBuffer) -> T + Send) -> PyResult<T> {
        Ok(py.detach(|| self.read().map(|buffer| f(&buffer)))?)
    }
}

/// `(index int64 [N], priority float32 [N])`.
type IndexedPriorities<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f32>>);

/// A call panicked while it held the buffer for writing (a bug in the engine): the
/// buffer may be half-updated, so no later call uses it.
#[derive(Debug)]
struct Poisoned;

impl From<Poisoned> for PyErr {
    fn from(_: Poisoned) -> Self {
        MZeroError::new_err(
            "replay buffer: an earlier call panicked while it was updating the buffer, which \
             may be inconsistent; load a snapshot or make a new buffer",
        )
    }
}

#[pymethods]
impl PyReplayBuffer {
    #[new]
    /// Every argument is required here; `mzero.ReplayBuffer` holds the contract's defaults.
    #[pyo3(signature = (
        capacity, obs_shape, num_actions, unroll_steps, td_steps, discount,
        two_player, alpha, beta, stack, obs_dtype,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        capacity: &Bound<'_, PyAny>,
        obs_shape: &Bound<'_, PyAny>,
        num_actions: &Bound<'_, PyAny>,
        unroll_steps: &Bound<'_, PyAny>,
        td_steps: &Bound<'_, PyAny>,
        discount: &Bound<'_, PyAny>,
        two_player: &Bound<'_, PyAny>,
        alpha: &Bound<'_, PyAny>,
        beta: &Bound<'_, PyAny>,
        stack: &Bound<'_, PyAny>,
        obs_dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let dims: Vec<i64> = extract(obs_shape, "obs_shape", "a tuple of ints")?;
        let obs_shape =
            dims.iter().map(|&d| usize::try_from(d)).collect::<Result<Vec<_>, _>>().map_err(|_| {
                InvalidArgumentError::new_err(format!(
                    "obs_shape: expected positive dimensions, got {dims:?}"
                ))
            })?;
        let config = ReplayConfig {
            capacity: count(capacity, "capacity")?,
            obs_shape,
            num_actions: count(num_actions, "num_actions")?,
            unroll_steps: count(unroll_steps, "unroll_steps")?,
            td_steps: count(td_steps, "td_steps")?,
            discount: float(discount, "discount")?,
            two_player: flag(two_player, "two_player")?,
            alpha: float(alpha, "alpha")?,
            beta: float(beta, "beta")?,
            stack: count(stack, "stack")?,
            obs_dtype: parse_dtype(obs_dtype)?,
        };
        let buffer = ReplayBuffer::new(config).map_err(to_py)?;
        Ok(Self { inner: RwLock::new(buffer) })
    }

    #[pyo3(signature = (
        observations, actions, rewards, root_values, policies, terminated, bootstrap_value, priorities,
        legal_masks=None, segment=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn add_game(
        &self,
        py: Python<'_>,
        observations: &Bound<'_, PyAny>,
        actions: &Bound<'_, PyAny>,
        rewards: &Bound<'_, PyAny>,
        root_values: &Bound<'_, PyAny>,
        policies: &Bound<'_, PyAny>,
        terminated: &Bound<'_, PyAny>,
        bootstrap_value: &Bound<'_, PyAny>,
        priorities: Option<&Bound<'_, PyAny>>,
        legal_masks: Option<&Bound<'_, PyAny>>,
        segment: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let segment = segment
            .filter(|s| !s.is_none())
            .map(|s| {
                let (start, stop): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                    extract(s, "segment", "None or a pair of ints (start, stop)")?;
                Ok::<_, PyErr>((count(&start, "segment")?, count(&stop, "segment")?))
            })
            .transpose()?;
        let float_obs = observations.cast::<PyArrayDyn<f32>>().is_ok();
        let obs = if float_obs {
            ObsOwned::Float32(copy(observations, "observations", "float32 or uint8")?)
        } else {
            ObsOwned::Uint8(copy(observations, "observations", "float32 or uint8")?)
        };
        let (obs_shape, obs_data) = match &obs {
            ObsOwned::Float32(x) => (x.shape.clone(), ObsSlice::Float32(&x.data)),
            ObsOwned::Uint8(x) => (x.shape.clone(), ObsSlice::Uint8(&x.data)),
        };
        let actions = copy::<i64>(actions, "actions", "int64")?;
        let rewards = copy::<f32>(rewards, "rewards", "float32")?;
        let root_values = copy::<f32>(root_values, "root_values", "float32")?;
        let policies = copy::<f32>(policies, "policies", "float32")?;
        let priorities = copy_optional::<f32>(priorities, "priorities", "float32")?;
        let legal_masks = copy_optional::<bool>(legal_masks, "legal_masks", "bool")?;
        let game = GameView {
            observations: ObsArray { shape: obs_shape, data: obs_data },
            actions: actions.view(),
            rewards: rewards.view(),
            root_values: root_values.view(),
            policies: policies.view(),
            terminated: flag(terminated, "terminated")?,
            bootstrap_value: float(bootstrap_value, "bootstrap_value")? as f32,
            priorities: priorities.as_ref().map(Owned::view),
            legal_masks: legal_masks.as_ref().map(Owned::view),
            segment,
        };
        let added = py.detach(|| {
            let mut buffer = self.write().map_err(Refused::Poisoned)?;
            match buffer.obs_dtype() {
                Some(expected) if expected != game.observations.data.dtype() => {
                    Err(Refused::Dtype { expected, got: game.observations.data.dtype() })
                }
                _ => buffer.add_game(&game).map_err(Refused::Core),
            }
        });
        added.map_err(|refused| match refused {
            Refused::Core(e) => to_py(e),
            Refused::Poisoned(poisoned) => poisoned.into(),
            Refused::Dtype { expected, got } => wrong_type(
                "observations",
                &format!("dtype {expected}, the dtype of this buffer"),
                format!("dtype {got}"),
            ),
        })
    }

    /// Returns a dict of fresh numpy arrays (see `mzero.SampleBatch`).
    #[pyo3(signature = (batch_size, seed, next_observations=None, reanalysis=None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        batch_size: &Bound<'py, PyAny>,
        seed: &Bound<'py, PyAny>,
        next_observations: Option<&Bound<'py, PyAny>>,
        reanalysis: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let strict_bool = |obj: Option<&Bound<'py, PyAny>>, name: &str| match obj {
            None => Ok(false),
            Some(flag) => flag
                .cast::<PyBool>()
                .map(|b| b.is_true())
                .map_err(|_| wrong_type(name, "a bool", type_name(flag))),
        };
        let options = SampleOptions {
            next_observations: strict_bool(next_observations, "next_observations")?,
            reanalysis: strict_bool(reanalysis, "reanalysis")?,
        };
        let batch_size = count(batch_size, "batch_size")?;
        let seed: u64 = match seed.extract::<u64>() {
            Ok(s) => s,
            Err(_) if seed.is_instance_of::<PyInt>() => {
                return Err(InvalidArgumentError::new_err(format!(
                    "seed: expected an int in [0, 2**64), got {seed}"
                )))
            }
            Err(_) => return Err(wrong_type("seed", "an int", type_name(seed))),
        };
        let (config, batch) = self.with_read(py, |buffer| {
            (buffer.config().clone(), buffer.sample_with(batch_size, seed, options))
        })?;
        let batch = batch.map_err(to_py)?;
        let (b, k, a) = (batch_size, config.unroll_steps, config.num_actions);
        // [*leading, stack, *obs_shape]
        let stacks = |leading: &[usize]| [leading, &[config.stack], &config.obs_shape].concat();
        let out = PyDict::new(py);
        let s = config.stack;
        out.set_item("observation", obs_to_numpy(py, batch.observation, &stacks(&[b]))?)?;
        out.set_item("observation_actions", to_numpy(py, batch.observation_actions, &[b, s])?)?;
        if let Some(next) = batch.next_observation {
            out.set_item("next_observation", obs_to_numpy(py, next, &stacks(&[b, k]))?)?;
        }
        if let Some(next) = batch.next_observation_actions {
            out.set_item("next_observation_actions", to_numpy(py, next, &[b, k, s])?)?;
        }
        out.set_item("actions", to_numpy(py, batch.actions, &[b, k])?)?;
        out.set_item("target_value", to_numpy(py, batch.target_value, &[b, k + 1])?)?;
        out.set_item("target_reward", to_numpy(py, batch.target_reward, &[b, k + 1])?)?;
        out.set_item("target_policy", to_numpy(py, batch.target_policy, &[b, k + 1, a])?)?;
        out.set_item("mask", to_numpy(py, batch.mask, &[b, k + 1])?)?;
        out.set_item("terminated", to_numpy(py, batch.terminated, &[b])?)?;
        if let Some(re) = batch.reanalysis {
            out.set_item(
                "bootstrap_observation",
                obs_to_numpy(py, re.bootstrap_observation, &stacks(&[b, k + 1]))?,
            )?;
            out.set_item(
                "bootstrap_observation_actions",
                to_numpy(py, re.bootstrap_observation_actions, &[b, k + 1, s])?,
            )?;
            out.set_item("bootstrap_position", to_numpy(py, re.bootstrap_position, &[b, k + 1])?)?;
            out.set_item("reward_sum", to_numpy(py, re.reward_sum, &[b, k + 1])?)?;
            out.set_item("bootstrap_discount", to_numpy(py, re.bootstrap_discount, &[b, k + 1])?)?;
            out.set_item("legal_mask", to_numpy(py, re.legal_mask, &[b, k + 1, a])?)?;
        }
        out.set_item("weight", to_numpy(py, batch.weight, &[b])?)?;
        out.set_item("game_id", to_numpy(py, batch.game_id, &[b])?)?;
        out.set_item("position", to_numpy(py, batch.position, &[b])?)?;
        out.set_item("index", to_numpy(py, batch.index, &[b])?)?;
        Ok(out)
    }

    fn update_priorities(
        &self,
        py: Python<'_>,
        index: &Bound<'_, PyAny>,
        priorities: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let index = copy::<i64>(index, "index", "int64")?;
        let priorities = copy::<f32>(priorities, "priorities", "float32")?;
        let (index, priorities) = (index.view(), priorities.view());
        py.detach(|| self.write().map(|mut buffer| buffer.update_priorities(&index, &priorities)))?
            .map_err(to_py)
    }

    fn update_values(
        &self,
        py: Python<'_>,
        game_id: &Bound<'_, PyAny>,
        position: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.write_back(py, game_id, position, (values, "values"), ReplayBuffer::update_values)
    }

    fn update_policies(
        &self,
        py: Python<'_>,
        game_id: &Bound<'_, PyAny>,
        position: &Bound<'_, PyAny>,
        policies: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.write_back(py, game_id, position, (policies, "policies"), ReplayBuffer::update_policies)
    }

    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        self.with_read(py, |buffer| buffer.save(&path))?.map_err(to_py)
    }

    /// For tests: panics while holding the buffer for writing, as a bug in the engine
    /// would (Python sees a `PanicException`); every later call raises `MZeroError`.
    fn _panic_while_writing(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| {
            let _held = self.write()?;
            panic!("replay buffer: a panic while the buffer is held for writing (a test)")
        })
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let buffer = py.detach(|| ReplayBuffer::load(&path)).map_err(to_py)?;
        Ok(Self { inner: RwLock::new(buffer) })
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.with_read(py, ReplayBuffer::len)
    }

    #[getter]
    fn positions(&self, py: Python<'_>) -> PyResult<usize> {
        self.with_read(py, ReplayBuffer::positions)
    }

    /// `(index int64 [N], priority float32 [N])` of the stored transitions, oldest first.
    fn priorities<'py>(&self, py: Python<'py>) -> PyResult<IndexedPriorities<'py>> {
        let (index, priorities) = self.with_read(py, ReplayBuffer::priorities)?;
        Ok((index.into_pyarray(py), priorities.into_pyarray(py)))
    }

    #[getter]
    fn nbytes(&self, py: Python<'_>) -> PyResult<usize> {
        self.with_read(py, ReplayBuffer::nbytes)
    }

    #[getter]
    fn num_games(&self, py: Python<'_>) -> PyResult<usize> {
        self.with_read(py, ReplayBuffer::num_games)
    }

    #[getter]
    fn max_priority(&self, py: Python<'_>) -> PyResult<f32> {
        self.with_read(py, ReplayBuffer::max_priority)
    }

    #[getter]
    fn obs_dtype(&self, py: Python<'_>) -> PyResult<Option<&'static str>> {
        self.with_read(py, |b| b.obs_dtype().map(ObsDtype::name))
    }

    /// The constructor's arguments as a dict (`obs_shape` a tuple).
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.with_read(py, |b| b.config().clone())?;
        let out = PyDict::new(py);
        out.set_item("capacity", c.capacity)?;
        out.set_item("obs_shape", PyTuple::new(py, &c.obs_shape)?)?;
        out.set_item("num_actions", c.num_actions)?;
        out.set_item("unroll_steps", c.unroll_steps)?;
        out.set_item("td_steps", c.td_steps)?;
        out.set_item("discount", c.discount)?;
        out.set_item("two_player", c.two_player)?;
        out.set_item("alpha", c.alpha)?;
        out.set_item("beta", c.beta)?;
        out.set_item("stack", c.stack)?;
        Ok(out)
    }
}
