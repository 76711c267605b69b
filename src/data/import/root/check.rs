//! The ROOT file checks run before oxyroot sees a file: the header, the top directory record
//! and every record's sizes against the file's length, so that a truncated or corrupt file is
//! one error line instead of an absurd allocation or a panic inside the reader.

use std::path::Path;

/// What a corrupt file's error says after naming file, tree and branch.
pub(super) const CORRUPT: &str = "corrupt or truncated ROOT file";

/// Checks the ROOT file header and the top directory record (the sizes and offsets oxyroot
/// trusts when it allocates and seeks) against the file's length, so a truncated or corrupt
/// header is reported plainly and never reaches the reader as an absurd allocation.
/// Layout: `root`, version, fBEGIN, then fEND, fSeekFree, fNbytesFree, nfree, fNbytesName,
/// fUnits, fCompress, fSeekInfo, fNbytesInfo (offsets 8 bytes wide from version 1000000).
pub(super) fn check_header(bytes: &[u8], file_len: u64) -> std::result::Result<(i64, i64), String> {
    if bytes.len() < 4 || &bytes[..4] != b"root" {
        return Err("not a ROOT file (it does not begin with the ROOT signature 'root')".into());
    }
    let short = || format!("truncated ROOT file: {file_len} bytes, shorter than its header");
    let mut c = Cursor { bytes, at: 4 };
    let version = c.int(4).ok_or_else(short)?;
    let w = if version >= 1_000_000 { 8 } else { 4 };
    let begin = c.int(4).ok_or_else(short)?;
    let end = c.int(w).ok_or_else(short)?;
    let (seek_free, nbytes_free) = (c.int(w).ok_or_else(short)?, c.int(4).ok_or_else(short)?);
    let (_nfree, nbytes_name) = (c.int(4).ok_or_else(short)?, c.int(4).ok_or_else(short)?);
    c.at += 1 + 4; // fUnits, fCompress
    let (seek_info, nbytes_info) = (c.int(w).ok_or_else(short)?, c.int(4).ok_or_else(short)?);
    let len = i64::try_from(file_len).unwrap_or(i64::MAX);
    if end > len {
        return Err(format!("truncated ROOT file: its header says {end} bytes, the file has {len}"));
    }
    let inside = |seek: i64, n: i64| seek > 0 && n >= 0 && seek.checked_add(n).is_some_and(|e| e <= end);
    if !(begin > 0 && nbytes_name > 0 && inside(begin, nbytes_name)) {
        return Err(format!("{CORRUPT}: its header's top directory lies outside the file"));
    }
    if !inside(seek_info, nbytes_info) || (seek_free != 0 && !inside(seek_free, nbytes_free)) {
        return Err(format!("{CORRUPT}: its header's records lie outside the file"));
    }
    // The top directory (at fBEGIN + fNbytesName): version (2 bytes), two dates, fNbytesKeys,
    // fNbytesName, fSeekDir, fSeekParent, fSeekKeys (8-byte offsets from version 1000).
    let mut c = Cursor { bytes, at: (begin + nbytes_name) as usize };
    let keys = (|| {
        let w = if c.int(2)? > 1000 { 8 } else { 4 };
        c.at += 8;
        let nbytes_keys = c.int(4)?;
        c.at += 4 + 2 * w;
        Some((c.int(w)?, nbytes_keys))
    })();
    match keys {
        Some((seek_keys, nbytes_keys)) if inside(seek_keys, nbytes_keys) => Ok((begin, end)),
        _ => Err(format!("{CORRUPT}: its list of keys lies outside the file")),
    }
}

/// Big-endian integers read in sequence from a byte slice.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// The next `w`-byte (2, 4 or 8) signed big-endian integer; None past the end.
    fn int(&mut self, w: usize) -> Option<i64> {
        let b = self.bytes.get(self.at..self.at.checked_add(w)?)?;
        self.at += w;
        Some(match w {
            2 => i16::from_be_bytes(b.try_into().ok()?) as i64,
            4 => i32::from_be_bytes(b.try_into().ok()?) as i64,
            _ => i64::from_be_bytes(b.try_into().ok()?),
        })
    }
}

/// Walks the file's records from fBEGIN to fEND, as ROOT's `TFile::Map` does (each record a
/// TKey header whose fNbytes leads to the next; a negative fNbytes marks a free gap), and
/// checks each record's sizes before oxyroot allocates by them: the record fits in the file,
/// and a compressed record's blocks (9-byte headers: algorithm, method, compressed and
/// uncompressed sizes, 3 bytes each little-endian) fill it exactly and add up to its fObjlen.
/// A corrupt fObjlen or fNbytes would otherwise make the reader allocate up to 2 GiB per
/// basket, which aborts the process where memory is limited. The walk stops, accepting the
/// rest, at a record that does not name its own offset (fSeekKey): past that point it cannot
/// tell records from data.
pub(super) fn check_records(file: &mut std::fs::File, begin: i64, end: i64) -> std::result::Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut read_at = |at: i64, buf: &mut [u8]| -> bool {
        file.seek(SeekFrom::Start(at as u64)).is_ok() && file.read_exact(buf).is_ok()
    };
    let bad = |at: i64, what: &str| format!("{CORRUPT}: the record at byte {at} {what}");
    let mut pos = begin;
    while pos < end {
        let mut head = [0u8; 26];
        let n = head.len().min((end - pos) as usize);
        if n < 4 || !read_at(pos, &mut head[..n]) {
            return Err(bad(pos, "is cut short"));
        }
        let mut c = Cursor { bytes: &head[..n], at: 0 };
        let nbytes = c.int(4).unwrap_or(0);
        if nbytes < 0 {
            pos = pos.saturating_add(-nbytes); // a free gap
            continue;
        }
        let header = (|| {
            let version = c.int(2)?;
            let objlen = c.int(4)?;
            c.at += 4; // fDatime
            let keylen = c.int(2)?;
            c.at += 2; // fCycle
            let seek_key = c.int(if version > 1000 { 8 } else { 4 })?;
            Some((objlen, keylen, seek_key))
        })();
        let Some((objlen, keylen, _)) = header.filter(|h| h.2 == pos) else {
            return Ok(()); // not a record header we can trust: stop checking here
        };
        if nbytes == 0 {
            return Err(bad(pos, "has a size of 0"));
        }
        if pos.saturating_add(nbytes) > end {
            return Err(bad(pos, &format!("claims {nbytes} bytes, past the end of the file")));
        }
        if keylen < 18 || keylen > nbytes || objlen < 0 {
            return Err(bad(pos, "has impossible sizes in its header"));
        }
        if objlen != nbytes - keylen {
            // Compressed: the blocks must tile the record and add up to fObjlen.
            let (mut at, mut left, mut total) = (pos + keylen, nbytes - keylen, 0i64);
            while left > 0 {
                let mut h = [0u8; 9];
                if left < 9 || !read_at(at, &mut h) {
                    return Err(bad(pos, "ends inside a compressed block's header"));
                }
                let size3 = |b: &[u8]| b[0] as i64 | (b[1] as i64) << 8 | (b[2] as i64) << 16;
                let (csize, usize) = (size3(&h[3..6]), size3(&h[6..9]));
                if 9 + csize > left {
                    return Err(bad(pos, "has a compressed block larger than the record"));
                }
                total += usize;
                at += 9 + csize;
                left -= 9 + csize;
            }
            if total != objlen {
                return Err(bad(pos, &format!("says it holds {objlen} bytes, its compressed blocks hold {total}")));
            }
        }
        pos += nbytes;
    }
    Ok(())
}

/// The first bytes of `path` (enough for the header and the top directory record).
pub(super) fn read_head(path: &Path) -> std::io::Result<(Vec<u8>, u64)> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut head = Vec::with_capacity(4096);
    f.take(4096).read_to_end(&mut head)?;
    Ok((head, len))
}
