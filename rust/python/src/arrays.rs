//! Reading numpy arguments in row-major (C) order.

use numpy::{Element, PyReadonlyArrayDyn, PyUntypedArrayMethods};

/// The elements of `array` as one slice in row-major order, or `None` when they
/// must be copied in logical order (`array.as_array().iter()`).
///
/// `as_slice` also accepts Fortran order, whose memory order is column-major; only a
/// C-contiguous array can be borrowed as is.
pub fn row_major<'a, T: Element>(array: &'a PyReadonlyArrayDyn<'_, T>) -> Option<&'a [T]> {
    if array.is_c_contiguous() {
        array.as_slice().ok()
    } else {
        None
    }
}
