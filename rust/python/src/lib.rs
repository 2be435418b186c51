//! `mzero._core`: thin pyo3 bindings of `mzero-core`.
//!
//! Each binding validates and borrows its numpy inputs, releases the GIL for the
//! core call, and maps [`mzero_core::Error`] onto the exception classes of
//! `mzero.errors`. No algorithm lives here.

use pyo3::prelude::*;

mod arrays;
mod error;
mod replay;
mod search;

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<replay::PyReplayBuffer>()?;
    m.add_function(wrap_pyfunction!(search::search, m)?)?;
    m.add_function(wrap_pyfunction!(search::stochastic_search, m)?)?;
    m.add_function(wrap_pyfunction!(search::check_search_config, m)?)?;
    Ok(())
}
