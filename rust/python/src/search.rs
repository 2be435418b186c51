//! `mzero._core.search`: the batched search loop around `recurrent_fn`.
//!
//! Per simulation: the core selects one leaf per game with the GIL released, the
//! leaves go to `recurrent_fn` as four fresh int64 arrays, its outputs are checked
//! and copied, and the core expands and backs up with the GIL released again.

use std::sync::{Mutex, MutexGuard};

use mzero_core::search::{Algorithm, BatchSearch, Roots, SearchConfig, StochasticSearch};
use mzero_core::Error;
use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyTuple};

use crate::arrays::row_major;
use crate::error::{to_py, wrong_type};

/// Searches kept between calls so that a repeated search of the same size allocates
/// nothing. A search is taken out while it runs (a nested call gets its own).
static POOL: Mutex<Vec<BatchSearch>> = Mutex::new(Vec::new());
const POOL_MAX_SEARCHES: usize = 4;
const POOL_MAX_BYTES: usize = 256 << 20;

/// The pool of kept searches. A panic while a caller held it (a bug) may have left one
/// half-changed: the pool is then emptied, not reused.
fn pool() -> MutexGuard<'static, Vec<BatchSearch>> {
    POOL.lock().unwrap_or_else(|poisoned| {
        let mut pool = poisoned.into_inner();
        pool.clear();
        POOL.clear_poison();
        pool
    })
}

fn take_search() -> BatchSearch {
    pool().pop().unwrap_or_default()
}

fn give_back(search: BatchSearch) {
    if search.capacity_bytes() <= POOL_MAX_BYTES {
        let mut pool = pool();
        if pool.len() < POOL_MAX_SEARCHES {
            pool.push(search);
        }
    }
}

/// Stochastic searches kept between calls, as [`POOL`].
static STOCHASTIC_POOL: Mutex<Vec<StochasticSearch>> = Mutex::new(Vec::new());

fn take_stochastic() -> StochasticSearch {
    let mut pool = STOCHASTIC_POOL.lock().unwrap_or_else(|poisoned| {
        let mut pool = poisoned.into_inner();
        pool.clear();
        STOCHASTIC_POOL.clear_poison();
        pool
    });
    pool.pop().unwrap_or_default()
}

fn give_back_stochastic(search: StochasticSearch) {
    if search.capacity_bytes() <= POOL_MAX_BYTES {
        if let Ok(mut pool) = STOCHASTIC_POOL.lock() {
            if pool.len() < POOL_MAX_SEARCHES {
                pool.push(search);
            }
        }
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map_or_else(|_| "an object".to_owned(), |n| n.to_string())
}

fn shape_str(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// Reads a float32 (or float64, rounded to float32) numpy array of shape `shape` into `buf`.
fn read_floats(
    name: &str,
    obj: &Bound<'_, PyAny>,
    shape: &[usize],
    shape_doc: &str,
    buf: &mut Vec<f32>,
) -> PyResult<()> {
    let Ok(untyped) = obj.cast::<PyUntypedArray>() else {
        return Err(wrong_type(name, "a numpy.ndarray of float32", type_name(obj)));
    };
    if untyped.shape() != shape {
        return Err(to_py(Error::invalid(
            name,
            format!("shape {shape_doc} = {}", shape_str(shape)),
            shape_str(untyped.shape()),
        )));
    }
    buf.clear();
    if let Ok(array) = obj.cast::<PyArrayDyn<f32>>() {
        let array = array.try_readonly().map_err(|e| to_py(Error::invalid(name, "a readable array", e)))?;
        match row_major(&array) {
            Some(slice) => buf.extend_from_slice(slice),
            None => buf.extend(array.as_array().iter().copied()),
        }
    } else if let Ok(array) = obj.cast::<PyArrayDyn<f64>>() {
        let array = array.try_readonly().map_err(|e| to_py(Error::invalid(name, "a readable array", e)))?;
        buf.extend(array.as_array().iter().map(|&x| x as f32));
    } else {
        return Err(wrong_type(name, "dtype float32 (or float64)", untyped.dtype()));
    }
    Ok(())
}

/// Reads a bool numpy array of shape `shape`.
fn read_mask(name: &str, obj: &Bound<'_, PyAny>, shape: &[usize]) -> PyResult<Vec<bool>> {
    let Ok(untyped) = obj.cast::<PyUntypedArray>() else {
        return Err(wrong_type(name, "a numpy.ndarray of bool", type_name(obj)));
    };
    if untyped.shape() != shape {
        return Err(to_py(Error::invalid(
            name,
            format!("shape [B, A] = {}", shape_str(shape)),
            shape_str(untyped.shape()),
        )));
    }
    let Ok(array) = obj.cast::<PyArrayDyn<bool>>() else {
        return Err(wrong_type(name, "dtype bool", untyped.dtype()));
    };
    let array = array.try_readonly().map_err(|e| to_py(Error::invalid(name, "a readable array", e)))?;
    Ok(array.as_array().iter().copied().collect())
}

fn attr<'py, T: FromPyObjectOwned<'py>>(
    config: &Bound<'py, PyAny>,
    field: &str,
    expected: &str,
) -> PyResult<T> {
    let value = config.getattr(field).map_err(|_| {
        wrong_type("config", "an mzero.SearchConfig", format!("{} without field {field}", type_name(config)))
    })?;
    value.extract::<T>().map_err(|_| wrong_type(field, expected, type_name(&value)))
}

fn float_attr(config: &Bound<'_, PyAny>, field: &str) -> PyResult<f64> {
    let value = config.getattr(field).map_err(|_| {
        wrong_type("config", "an mzero.SearchConfig", format!("{} without field {field}", type_name(config)))
    })?;
    if value.is_instance_of::<PyBool>() {
        return Err(wrong_type(field, "a float", "bool"));
    }
    value.extract::<f64>().map_err(|_| wrong_type(field, "a float", type_name(&value)))
}

/// Builds the core's [`SearchConfig`] from any object with the fields of
/// `mzero.SearchConfig` and validates it.
fn config_from_py(config: &Bound<'_, PyAny>) -> PyResult<SearchConfig> {
    let num_simulations: i64 = attr(config, "num_simulations", "an int")?;
    let max_considered_actions: i64 = attr(config, "max_considered_actions", "an int")?;
    let algorithm: String = attr(config, "algorithm", "a str")?;
    let cfg = SearchConfig {
        num_simulations: usize::try_from(num_simulations)
            .map_err(|_| to_py(Error::invalid("num_simulations", "an integer >= 1", num_simulations)))?,
        discount: float_attr(config, "discount")?,
        pb_c_init: float_attr(config, "pb_c_init")?,
        pb_c_base: float_attr(config, "pb_c_base")?,
        dirichlet_alpha: float_attr(config, "dirichlet_alpha")?,
        dirichlet_fraction: float_attr(config, "dirichlet_fraction")?,
        two_player: attr(config, "two_player", "a bool")?,
        algorithm: algorithm.parse::<Algorithm>().map_err(to_py)?,
        max_considered_actions: usize::try_from(max_considered_actions).map_err(|_| {
            to_py(Error::invalid("max_considered_actions", "an integer >= 1", max_considered_actions))
        })?,
        gumbel_scale: float_attr(config, "gumbel_scale")?,
        c_visit: float_attr(config, "c_visit")?,
        c_scale: float_attr(config, "c_scale")?,
    };
    cfg.validate().map_err(to_py)?;
    Ok(cfg)
}

/// check_search_config(config)
/// --
///
/// Validates the fields of an `mzero.SearchConfig`; raises `InvalidArgumentError`
/// naming the first bad field.
#[pyfunction]
pub fn check_search_config(config: &Bound<'_, PyAny>) -> PyResult<()> {
    config_from_py(config).map(|_| ())
}

/// An optional non-negative int argument (default 0); a bool or a float is refused.
fn int_arg<T: for<'a> FromPyObject<'a, 'a> + Default>(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
    expected: &str,
) -> PyResult<T> {
    match value {
        None => Ok(T::default()),
        Some(v) if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() => {
            v.extract::<T>().map_err(|_| to_py(Error::invalid(name, expected, v)))
        }
        Some(v) => Err(wrong_type(name, "an int", type_name(v))),
    }
}

/// Renames a core error about the callback's outputs to name `recurrent_fn`.
fn callback_error(err: Error) -> PyErr {
    match err {
        Error::InvalidArgument { name, expected, got } => {
            to_py(Error::InvalidArgument { name: format!("recurrent_fn output {name}"), expected, got })
        }
        other => to_py(other),
    }
}

type SearchArrays<'py> =
    (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

/// search(root_value, root_logits, recurrent_fn, config, legal_mask=None, seed=0, first_game=0)
/// --
///
/// Runs the batched search; returns `(visit_counts, policy, root_value, q_values,
/// action)` as fresh numpy arrays. See `mzero.search`.
#[pyfunction]
#[pyo3(signature = (root_value, root_logits, recurrent_fn, config, legal_mask=None, seed=None, first_game=None))]
#[allow(clippy::too_many_arguments)]
pub fn search<'py>(
    py: Python<'py>,
    root_value: &Bound<'py, PyAny>,
    root_logits: &Bound<'py, PyAny>,
    recurrent_fn: &Bound<'py, PyAny>,
    config: &Bound<'py, PyAny>,
    legal_mask: Option<&Bound<'py, PyAny>>,
    seed: Option<&Bound<'py, PyAny>>,
    first_game: Option<&Bound<'py, PyAny>>,
) -> PyResult<SearchArrays<'py>> {
    let config = config_from_py(config)?;
    let seed: u64 = int_arg("seed", seed, "an integer in [0, 2**64)")?;
    let first_game: usize = int_arg("first_game", first_game, "an integer >= 0")?;
    if !recurrent_fn.is_callable() {
        return Err(wrong_type("recurrent_fn", "a callable", type_name(recurrent_fn)));
    }
    let (values, logits, mask, a) = read_roots(root_value, root_logits, legal_mask)?;
    let mut search = take_search();
    let result = run(
        py,
        &mut search,
        &config,
        Roots { value: &values, logits: &logits, num_actions: a, legal_mask: mask.as_deref() },
        (seed, first_game),
        recurrent_fn,
    );
    give_back(search);
    result
}

/// `(root_value, root_logits, legal_mask, A)` read from numpy.
type RootArrays = (Vec<f32>, Vec<f32>, Option<Vec<bool>>, usize);

/// Reads `root_value` `[B]`, `root_logits` `[B, A]` and the optional `legal_mask` `[B, A]`.
fn read_roots(
    root_value: &Bound<'_, PyAny>,
    root_logits: &Bound<'_, PyAny>,
    legal_mask: Option<&Bound<'_, PyAny>>,
) -> PyResult<RootArrays> {
    // Shapes: B from root_value, A from root_logits.
    let b = match root_value.cast::<PyUntypedArray>() {
        Ok(a) if a.ndim() == 1 => a.shape()[0],
        Ok(a) => {
            return Err(to_py(Error::invalid("root_value", "shape [B] (1-D)", shape_str(a.shape()))));
        }
        Err(_) => return Err(wrong_type("root_value", "a numpy.ndarray of float32", type_name(root_value))),
    };
    let a = match root_logits.cast::<PyUntypedArray>() {
        Ok(l) if l.ndim() == 2 => l.shape()[1],
        Ok(l) => {
            return Err(to_py(Error::invalid("root_logits", "shape [B, A] (2-D)", shape_str(l.shape()))));
        }
        Err(_) => {
            return Err(wrong_type("root_logits", "a numpy.ndarray of float32", type_name(root_logits)))
        }
    };
    let mut values = Vec::new();
    let mut logits = Vec::new();
    read_floats("root_value", root_value, &[b], "[B]", &mut values)?;
    read_floats("root_logits", root_logits, &[b, a], "[B, A]", &mut logits)?;
    let mask = match legal_mask {
        Some(m) if !m.is_none() => Some(read_mask("legal_mask", m, &[b, a])?),
        _ => None,
    };
    Ok((values, logits, mask, a))
}

fn run<'py>(
    py: Python<'py>,
    search: &mut BatchSearch,
    config: &SearchConfig,
    roots: Roots<'_>,
    (seed, first_game): (u64, usize),
    recurrent_fn: &Bound<'py, PyAny>,
) -> PyResult<SearchArrays<'py>> {
    py.detach(|| search.begin_at(config, roots, seed, first_game)).map_err(to_py)?;
    let (b, a) = (search.batch(), search.num_actions());
    let mut reward = Vec::with_capacity(b);
    let mut value = Vec::with_capacity(b);
    let mut logits = Vec::with_capacity(b * a);
    while !search.is_done() {
        let leaves = search.requests();
        let args = (
            PyArray1::from_slice(py, &leaves.game),
            PyArray1::from_slice(py, &leaves.parent),
            PyArray1::from_slice(py, &leaves.action),
            PyArray1::from_slice(py, &leaves.node),
        );
        // An exception inside recurrent_fn propagates as the same object.
        let out = recurrent_fn.call1(args)?;
        let out = out.cast::<PyTuple>().map_err(|_| {
            wrong_type("recurrent_fn", "to return a tuple (reward, value, logits)", type_name(&out))
        })?;
        if out.len() != 3 {
            return Err(PyTypeError::new_err(format!(
                "recurrent_fn: expected to return a tuple (reward, value, logits), got a tuple of length {}",
                out.len()
            )));
        }
        read_floats("recurrent_fn output reward", &out.get_item(0)?, &[b], "[N]", &mut reward)?;
        read_floats("recurrent_fn output value", &out.get_item(1)?, &[b], "[N]", &mut value)?;
        read_floats("recurrent_fn output logits", &out.get_item(2)?, &[b, a], "[N, A]", &mut logits)?;
        py.detach(|| search.advance(&reward, &value, &logits)).map_err(callback_error)?;
    }
    let out = search.output().map_err(to_py)?;
    Ok((
        matrix(out.visit_counts, b, a)?.into_pyarray(py).into_any(),
        matrix(out.policy, b, a)?.into_pyarray(py).into_any(),
        Array1::from_vec(out.root_value).into_pyarray(py).into_any(),
        matrix(out.q_values, b, a)?.into_pyarray(py).into_any(),
        Array1::from_vec(out.action).into_pyarray(py).into_any(),
    ))
}

fn matrix<T>(v: Vec<T>, b: usize, a: usize) -> PyResult<Array2<T>> {
    Array2::from_shape_vec((b, a), v).map_err(|e| to_py(Error::invalid("output", "a [B, A] result", e)))
}

/// Renames a core error about the callbacks' outputs of a stochastic search.
fn stochastic_callback_error(err: Error) -> PyErr {
    match err {
        Error::InvalidArgument { name, expected, got } => {
            let name = match name.as_str() {
                "afterstate_value" => "afterstate_fn output value".to_owned(),
                "code_logits" => "afterstate_fn output logits".to_owned(),
                "reward" | "value" | "logits" => format!("dynamics_fn output {name}"),
                _ => name,
            };
            to_py(Error::InvalidArgument { name, expected, got })
        }
        other => to_py(other),
    }
}

/// Calls `f(game, parent, action, node)` and returns its output tuple, checked to
/// have `len` items (`doc` names them).
fn call_model<'py>(
    py: Python<'py>,
    f: &Bound<'py, PyAny>,
    name: &str,
    leaves: &mzero_core::search::LeafRequests,
    len: usize,
    doc: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    let args = (
        PyArray1::from_slice(py, &leaves.game),
        PyArray1::from_slice(py, &leaves.parent),
        PyArray1::from_slice(py, &leaves.action),
        PyArray1::from_slice(py, &leaves.node),
    );
    let out = f.call1(args)?;
    let out = out.cast_into::<PyTuple>().map_err(|e| {
        wrong_type(name, &format!("to return a tuple {doc}"), type_name(e.into_inner().as_any()))
    })?;
    if out.len() != len {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected to return a tuple {doc}, got a tuple of length {}",
            out.len()
        )));
    }
    Ok(out)
}

/// stochastic_search(root_value, root_logits, afterstate_fn, dynamics_fn, num_chance_outcomes, config, legal_mask=None, seed=0, first_game=0)
/// --
///
/// Runs the batched Stochastic MuZero search; returns `(visit_counts, policy,
/// root_value, q_values, action)` as fresh numpy arrays. See `mzero.stochastic_search`.
#[pyfunction]
#[pyo3(signature = (root_value, root_logits, afterstate_fn, dynamics_fn, num_chance_outcomes, config, legal_mask=None, seed=None, first_game=None))]
#[allow(clippy::too_many_arguments)]
pub fn stochastic_search<'py>(
    py: Python<'py>,
    root_value: &Bound<'py, PyAny>,
    root_logits: &Bound<'py, PyAny>,
    afterstate_fn: &Bound<'py, PyAny>,
    dynamics_fn: &Bound<'py, PyAny>,
    num_chance_outcomes: &Bound<'py, PyAny>,
    config: &Bound<'py, PyAny>,
    legal_mask: Option<&Bound<'py, PyAny>>,
    seed: Option<&Bound<'py, PyAny>>,
    first_game: Option<&Bound<'py, PyAny>>,
) -> PyResult<SearchArrays<'py>> {
    let config = config_from_py(config)?;
    let seed: u64 = int_arg("seed", seed, "an integer in [0, 2**64)")?;
    let first_game: usize = int_arg("first_game", first_game, "an integer >= 0")?;
    let num_codes: usize = int_arg("num_chance_outcomes", Some(num_chance_outcomes), "an integer >= 1")?;
    for (name, f) in [("afterstate_fn", afterstate_fn), ("dynamics_fn", dynamics_fn)] {
        if !f.is_callable() {
            return Err(wrong_type(name, "a callable", type_name(f)));
        }
    }
    let (values, logits, mask, a) = read_roots(root_value, root_logits, legal_mask)?;
    let roots = Roots { value: &values, logits: &logits, num_actions: a, legal_mask: mask.as_deref() };
    let mut search = take_stochastic();
    let result = run_stochastic(
        py,
        &mut search,
        &config,
        roots,
        num_codes,
        (seed, first_game),
        (afterstate_fn, dynamics_fn),
    );
    give_back_stochastic(search);
    result
}

fn run_stochastic<'py>(
    py: Python<'py>,
    search: &mut StochasticSearch,
    config: &SearchConfig,
    roots: Roots<'_>,
    num_codes: usize,
    (seed, first_game): (u64, usize),
    (afterstate_fn, dynamics_fn): (&Bound<'py, PyAny>, &Bound<'py, PyAny>),
) -> PyResult<SearchArrays<'py>> {
    py.detach(|| search.begin_at(config, roots, num_codes, seed, first_game)).map_err(to_py)?;
    let (b, a, c) = (search.batch(), search.num_actions(), num_codes);
    let (mut as_value, mut code_logits) = (Vec::new(), Vec::new());
    let (mut reward, mut value, mut logits) = (Vec::new(), Vec::new(), Vec::new());
    while !search.is_done() {
        // The simulation's leaves below decision nodes go to afterstate_fn, those below
        // chance nodes to dynamics_fn, in this order; a kind without leaves is not called.
        let leaves = search.afterstate_requests();
        let na = leaves.game.len();
        as_value.clear();
        code_logits.clear();
        if na > 0 {
            let out = call_model(py, afterstate_fn, "afterstate_fn", leaves, 2, "(value, logits)")?;
            read_floats("afterstate_fn output value", &out.get_item(0)?, &[na], "[N]", &mut as_value)?;
            read_floats(
                "afterstate_fn output logits",
                &out.get_item(1)?,
                &[na, c],
                "[N, C]",
                &mut code_logits,
            )?;
        }
        let leaves = search.dynamics_requests();
        let nd = leaves.game.len();
        reward.clear();
        value.clear();
        logits.clear();
        if nd > 0 {
            let out = call_model(py, dynamics_fn, "dynamics_fn", leaves, 3, "(reward, value, logits)")?;
            read_floats("dynamics_fn output reward", &out.get_item(0)?, &[nd], "[N]", &mut reward)?;
            read_floats("dynamics_fn output value", &out.get_item(1)?, &[nd], "[N]", &mut value)?;
            read_floats("dynamics_fn output logits", &out.get_item(2)?, &[nd, a], "[N, A]", &mut logits)?;
        }
        py.detach(|| search.advance(&as_value, &code_logits, &reward, &value, &logits))
            .map_err(stochastic_callback_error)?;
    }
    let out = search.output().map_err(to_py)?;
    Ok((
        matrix(out.visit_counts, b, a)?.into_pyarray(py).into_any(),
        matrix(out.policy, b, a)?.into_pyarray(py).into_any(),
        Array1::from_vec(out.root_value).into_pyarray(py).into_any(),
        matrix(out.q_values, b, a)?.into_pyarray(py).into_any(),
        Array1::from_vec(out.action).into_pyarray(py).into_any(),
    ))
}
