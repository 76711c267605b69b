//! Where an archive's first coded block lies, and how to re-seal it after a test corrupts it:
//! the archive layout of `src/formats/archive/container.rs` (magic, version, header length,
//! header, header CRC, then frames of a 17-byte head, the payload and a CRC-32 of the archive
//! id, the head and the payload).

use std::ops::Range;
use std::path::Path;

/// The first coded block of `archive` (its bytes `good`): the archive id, the offset of the
/// block's frame head and the range of its payload. Panics unless that frame is a coded block.
pub fn first_coded_block(archive: &Path, good: &[u8]) -> ([u8; 16], usize, Range<usize>) {
    let hex = hepae::archive::read_header(archive).unwrap().archive_id;
    let id: [u8; 16] = std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap());
    let hl = u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize;
    let start = 12 + hl + 4;
    assert_eq!(good[start], 4, "a coded block");
    let stored = u32::from_le_bytes(good[start + 13..start + 17].try_into().unwrap()) as usize;
    (id, start, start + 17..start + 17 + stored)
}

/// Recomputes the block's CRC over its (corrupted) head and payload, so that only the decoder's
/// own checks of the coded content can refuse it.
pub fn reseal(bytes: &mut [u8], id: &[u8; 16], start: usize, payload: &Range<usize>) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(id);
    crc.update(&bytes[start..payload.end]);
    bytes[payload.end..payload.end + 4].copy_from_slice(&crc.finalize().to_le_bytes());
}
