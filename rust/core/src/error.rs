//! The one error type of the core. Every fallible function returns [`Result`];
//! the bindings map each variant onto one Python exception class.

use std::fmt;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument has the wrong shape, length or value (NaN, out of range, ...).
    /// Python: `mzero.InvalidArgumentError` (a `ValueError`).
    #[error("{name}: expected {expected}, got {got}")]
    InvalidArgument {
        /// The argument's name as the caller spelled it, e.g. `root_logits`.
        name: String,
        /// What was expected, e.g. `shape [B, A] = [4, 9]`.
        expected: String,
        /// What was given.
        got: String,
    },
    /// A saved file cannot be read back: truncated, corrupt or of another format version.
    /// Python: `mzero.CorruptFileError` (a `ValueError`).
    #[error("{path}: {reason}")]
    CorruptFile {
        /// The file.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The operating system refused a read or write. Python: `mzero.MZeroIOError` (an `OSError`).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::InvalidArgument`] naming the argument, what it should be and what it was.
    pub fn invalid(name: impl Into<String>, expected: impl fmt::Display, got: impl fmt::Display) -> Self {
        Error::InvalidArgument { name: name.into(), expected: expected.to_string(), got: got.to_string() }
    }

    /// An [`Error::CorruptFile`] for `path`.
    pub fn corrupt(path: impl fmt::Display, reason: impl fmt::Display) -> Self {
        Error::CorruptFile { path: path.to_string(), reason: reason.to_string() }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io { path: path.to_string(), source }
    }
}

/// Checks that every value of `values` is finite; the error names `name` and the first bad index.
pub fn ensure_finite(name: &str, values: &[f32]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(name, "finite values", format!("{} at flat index {i}", values[i]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_argument() {
        let e = Error::invalid("root_logits", "shape [4, 9]", "shape [4, 8]");
        assert_eq!(e.to_string(), "root_logits: expected shape [4, 9], got shape [4, 8]");
    }

    #[test]
    fn ensure_finite_reports_the_first_bad_index() {
        assert!(ensure_finite("x", &[0.0, 1.0, -2.5]).is_ok());
        let e = ensure_finite("x", &[0.0, f32::NAN, f32::INFINITY]).unwrap_err();
        assert_eq!(e.to_string(), "x: expected finite values, got NaN at flat index 1");
    }

    #[test]
    fn io_error_keeps_its_source() {
        let e = Error::io("/tmp/x", std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        assert_eq!(e.to_string(), "/tmp/x: gone");
        assert!(std::error::Error::source(&e).is_some());
    }
}
