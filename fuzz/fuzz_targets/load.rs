//! `ReplayBuffer::load` on arbitrary bytes, resealed with their CRC-32 so that
//! parsing reaches every field; a buffer that loads must sample, take priority
//! updates and round-trip through `save` and `load`. Seeds: `corpus/load/` (the
//! bodies, without the checksum, of snapshots written by the crate).

#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use mzero_core::replay::{ArrayRef, ReplayBuffer, SampleOptions};
use mzero_core::Error;

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mzero-fuzz-{name}-{}.bin", std::process::id()))
}

fuzz_target!(|body: &[u8]| {
    let mut file = body.to_vec();
    file.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    let path = scratch("load");
    std::fs::write(&path, &file).expect("write the input");
    let mut buffer = match ReplayBuffer::load(&path) {
        Ok(buffer) => buffer,
        Err(Error::CorruptFile { .. }) => return,
        Err(other) => panic!("not a corrupt-file error: {other}"),
    };
    assert!(buffer.nbytes() <= 16 * file.len() + 4096, "{} bytes from {}", buffer.nbytes(), file.len());
    let _ = buffer.sample_with(3, 1, SampleOptions { next_observations: true, reanalysis: true });
    let (index, _) = buffer.priorities();
    let some = index.len().min(2);
    buffer
        .update_priorities(&ArrayRef::vector(&index[..some]), &ArrayRef::vector(&[2.0, 0.5][..some]))
        .expect("stored indices take priorities");
    let copy = scratch("copy");
    buffer.save(&copy).expect("a loaded buffer saves");
    let again = ReplayBuffer::load(&copy).expect("a saved buffer loads");
    assert_eq!(again.priorities(), buffer.priorities());
    assert_eq!(again.sample(4, 2).ok(), buffer.sample(4, 2).ok());
});
