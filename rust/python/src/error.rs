//! Maps the core's one error type onto the Python hierarchy rooted at
//! `mzero.MZeroError` (defined in `python/mzero/errors.py`, so that the classes
//! can also subclass `ValueError`, `TypeError` or `OSError`).

use pyo3::PyErr;

pyo3::import_exception!(mzero.errors, MZeroError);
pyo3::import_exception!(mzero.errors, InvalidArgumentError);
pyo3::import_exception!(mzero.errors, InvalidTypeError);
pyo3::import_exception!(mzero.errors, CorruptFileError);
pyo3::import_exception!(mzero.errors, MZeroIOError);

/// Converts a core error into the matching Python exception.
pub fn to_py(err: mzero_core::Error) -> PyErr {
    use mzero_core::Error as E;
    let message = err.to_string();
    match err {
        E::InvalidArgument { .. } => InvalidArgumentError::new_err(message),
        E::CorruptFile { .. } => CorruptFileError::new_err(message),
        E::Io { .. } => MZeroIOError::new_err(message),
    }
}

/// A `TypeError` (`mzero.InvalidTypeError`) naming `name` and the dtype or type expected.
pub fn wrong_type(name: &str, expected: &str, got: impl std::fmt::Display) -> PyErr {
    InvalidTypeError::new_err(format!("{name}: expected {expected}, got {got}"))
}
