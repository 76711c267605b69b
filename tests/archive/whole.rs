//! The archive verified as a whole (issue 13 item 3): blocks swapped, duplicated, spliced in
//! from another archive of the same model and data, or dropped; a trailer cut off; a bit
//! flipped in the header, a block or the trailer; even blocks re-framed with valid CRCs. Each is
//! refused with one typed error naming the archive and the block, and no output file remains.
//! Also: archives survive `hepae threshold` on their model, and format-1 archives still read.

use super::{setup, tmpdir};
use hepae::archive::{compress, decompress, default_bounds, read_header, read_report, CompressOptions};
use hepae::data::npy::{write_npy, Dataset};
use hepae::{Decoder, Encoder, Error, SavedModel};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Byte ranges of a format-2 archive: header, blocks in file order, trailer.
struct Layout {
    header: Range<usize>,
    blocks: Vec<Range<usize>>,
    trailer: Range<usize>,
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}

fn layout(b: &[u8]) -> Layout {
    let header = 0..12 + u32_at(b, 8) as usize + 4;
    let mut pos = header.end;
    let mut blocks = Vec::new();
    while b[pos] != 0xFF {
        let end = pos + 17 + u32_at(b, pos + 13) as usize + 4;
        blocks.push(pos..end);
        pos = end;
    }
    Layout { header, blocks, trailer: pos..b.len() }
}

/// Header ‖ the given blocks ‖ trailer.
fn assemble(b: &[u8], l: &Layout, blocks: &[&[u8]], trailer: &[u8]) -> Vec<u8> {
    let mut out = b[l.header.clone()].to_vec();
    blocks.iter().for_each(|blk| out.extend_from_slice(blk));
    out.extend_from_slice(trailer);
    out
}

/// Rewrites the sequence numbers of `blocks` to 1, 2, … and the trailer's to the next, with
/// CRCs recomputed as a writer would (what a careless repair tool could produce).
fn renumber(id: &[u8; 16], blocks: &mut [Vec<u8>], trailer: &mut [u8]) {
    let frames = blocks.iter_mut().map(|b| &mut b[..]).chain(std::iter::once(trailer));
    for (i, f) in frames.enumerate() {
        f[1..5].copy_from_slice(&(i as u32 + 1).to_le_bytes());
        let n = f.len() - 4;
        let mut h = crc32fast::Hasher::new();
        h.update(id);
        h.update(&f[..n]);
        let crc = h.finalize();
        f[n..].copy_from_slice(&crc.to_le_bytes());
    }
}

fn archive_id(path: &Path) -> [u8; 16] {
    let hex = read_header(path).unwrap().archive_id;
    std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
}

/// Fixture: 40 real jets, a small model, and two error-bounded format-2 archives of them (blocks of 8
/// rows: latent 1, residual 2, latent 3, …, residual 10) that differ only in their id.
struct Fixture {
    dir: PathBuf,
    model_path: PathBuf,
    small: PathBuf,
    a: Vec<u8>,
    b: Vec<u8>,
    out_dir: PathBuf,
}

fn fixture(name: &str) -> Fixture {
    let dir = tmpdir(name);
    let (data, model, bytes) = setup(&dir, vec![8], 3);
    let model_path = dir.join("m.safetensors");
    std::fs::write(&model_path, &bytes).unwrap();
    let small = dir.join("small.npy");
    write_npy(&small, 24, &data.as_slice()[..40 * 24], Some(data.columns())).unwrap();
    let ds = Dataset::open(&small).unwrap();
    // Format 2 (latent + residual pairs): its reader stays, so its structure checks are
    // specified here; format 3's coded blocks are in tests/compress_coded.rs.
    let opt = CompressOptions {
        bounds: Some(default_bounds(&ds, Some(1e-3), &[], None)),
        block_rows: 8,
        format: 2,
        ..Default::default()
    };
    let (pa, pb) = (dir.join("a.hepz"), dir.join("b.hepz"));
    compress(&model, &bytes, &ds, &pa, &opt).unwrap();
    compress(&model, &bytes, &ds, &pb, &opt).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let (a, b) = (std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
    assert_ne!(archive_id(&pa), archive_id(&pb), "every archive gets its own id");
    assert_eq!(layout(&a).blocks.len(), 10);
    Fixture { dir, model_path, small, a, b, out_dir }
}

impl Fixture {
    /// Writes `bytes` as bad.hepz and decompresses it: the error must be an archive error
    /// naming bad.hepz, on one line, containing every one of `want`; no output may remain.
    fn refused(&self, bytes: &[u8], want: &[&str]) -> String {
        let bad = self.dir.join("bad.hepz");
        std::fs::write(&bad, bytes).unwrap();
        let out = self.out_dir.join("x.npy");
        let e = decompress(&bad, Some(&self.model_path), &out).expect_err("a damaged archive was accepted");
        let text = e.to_string();
        match &e {
            Error::Archive { path, .. } => assert_eq!(path, &bad, "{text}"),
            other => panic!("not an archive error: {other:?}"),
        }
        assert!(text.starts_with(&format!("{}: archive: ", bad.display())) && !text.contains('\n'), "{text}");
        for w in want {
            assert!(text.contains(w), "expected '{w}' in: {text}");
        }
        assert_eq!(std::fs::read_dir(&self.out_dir).unwrap().count(), 0, "a refused archive left output: {text}");
        eprintln!("{text}");
        text
    }
}

#[test]
fn reordered_duplicated_spliced_and_dropped_blocks_are_refused_naming_the_block() {
    let f = fixture("whole");
    let (a, l) = (&f.a, layout(&f.a));
    let blk = |i: usize| &a[l.blocks[i].clone()];
    let tr = &a[l.trailer.clone()];
    let other = layout(&f.b);
    // The untouched archive decompresses, and its trailer's counts are what was written.
    let good = f.dir.join("good.hepz");
    std::fs::write(&good, a).unwrap();
    let rep = read_report(&good).unwrap();
    assert_eq!((rep.rows, rep.blocks, rep.archive_bytes), (40, 10, a.len() as u64));
    assert!(rep.latents_sha256.len() == 64 && rep.rows_sha256.as_ref().is_some_and(|h| h.len() == 64));
    let out = f.dir.join("good.npy");
    decompress(&good, Some(&f.model_path), &out).unwrap();
    assert_eq!(Dataset::open(&out).unwrap().rows(), 40);

    let all: Vec<&[u8]> = (0..10).map(blk).collect();
    let with = |edit: &dyn Fn(&mut Vec<&[u8]>)| {
        let mut v = all.clone();
        edit(&mut v);
        assemble(a, &l, &v, tr)
    };
    // Two latent-residual pairs swapped; two latent blocks swapped; two residual blocks swapped.
    f.refused(&with(&|v| v.swap(0, 2)), &["block 1 (byte ", "holds block 3", "missing"]);
    f.refused(&with(&|v| v[0..4].rotate_left(2)), &["block 1 ", "holds block 3"]);
    f.refused(&with(&|v| v.swap(1, 3)), &["block 2 ", "holds block 4"]);
    // A block duplicated (in place of the next one, or inserted).
    f.refused(&with(&|v| v[3] = v[2]), &["block 4 ", "holds block 3 again", "duplicated"]);
    f.refused(&with(&|v| v.insert(5, v[4])), &["block 6 ", "holds block 5 again"]);
    // A block spliced in from the other archive (same model, same rows, same bytes but its id).
    assert_eq!(&f.b[other.blocks[4].clone()][..17], &blk(4)[..17]);
    let mut v = all.clone();
    v[4] = &f.b[other.blocks[4].clone()];
    let spliced = assemble(a, &l, &v, tr);
    f.refused(&spliced, &["block 5 ", "checksum mismatch", "another archive"]);
    // A latent block dropped; a residual block dropped; the last pair dropped.
    f.refused(
        &with(&|v| {
            v.remove(2);
        }),
        &["block 3 ", "holds block 4", "block 3 is missing"],
    );
    f.refused(
        &with(&|v| {
            v.remove(5);
        }),
        &["block 6 ", "block 6 is missing"],
    );
    f.refused(&with(&|v| v.truncate(8)), &["trailer", "10 blocks", "holds 8"]);
    f.refused(&with(&|v| v.truncate(9)), &["trailer", "10 blocks", "holds 9"]);
    // The trailer cut off, cut short, or followed by junk; a block cut short.
    f.refused(&a[..l.trailer.start], &["truncated", "after block 10 without its trailer"]);
    f.refused(&a[..a.len() - 3], &["truncated", "trailer"]);
    f.refused(&a[..l.blocks[6].start + 30], &["truncated", "inside block 7"]);
    let mut junk = a.clone();
    junk.extend_from_slice(&[0; 5]);
    f.refused(&junk, &["5 unexpected bytes after the trailer"]);
}

#[test]
fn reframed_blocks_with_valid_checksums_are_caught_by_the_structure_and_the_content_hash() {
    let f = fixture("reframe");
    let bad = f.dir.join("bad.hepz");
    std::fs::write(&bad, &f.a).unwrap();
    let id = archive_id(&bad);
    let l = layout(&f.a);
    let frames = |order: &[usize]| -> (Vec<Vec<u8>>, Vec<u8>) {
        (order.iter().map(|&i| f.a[l.blocks[i].clone()].to_vec()).collect(), f.a[l.trailer.clone()].to_vec())
    };
    // Residual block 4 removed and the rest renumbered: a latent block without its residuals.
    let (mut v, mut t) = frames(&[0, 1, 2, 4, 5, 6, 7, 8, 9]);
    renumber(&id, &mut v, &mut t);
    let refs: Vec<&[u8]> = v.iter().map(|b| &b[..]).collect();
    f.refused(&assemble(&f.a, &l, &refs, &t), &["block 4: the latent block 3 before it has no residual block"]);
    // Pairs swapped and renumbered: sequence, sizes and per-block prediction CRCs all hold;
    // the SHA-256 of the decoded latents in the trailer does not.
    let (mut v, mut t) = frames(&[2, 3, 0, 1, 4, 5, 6, 7, 8, 9]);
    renumber(&id, &mut v, &mut t);
    let refs: Vec<&[u8]> = v.iter().map(|b| &b[..]).collect();
    f.refused(&assemble(&f.a, &l, &refs, &t), &["decoded latents do not match the trailer's SHA-256"]);
    // Lossy archives (latent blocks only) are covered by the same hash.
    let (_, model, bytes) = setup(&f.dir, vec![8], 3);
    let lossy = f.dir.join("lossy.hepz");
    let opt = CompressOptions { block_rows: 8, ..Default::default() };
    compress(&model, &bytes, &Dataset::open(&f.small).unwrap(), &lossy, &opt).unwrap();
    std::fs::write(&f.model_path, &bytes).unwrap();
    let la = std::fs::read(&lossy).unwrap();
    let ll = layout(&la);
    assert_eq!(ll.blocks.len(), 5);
    let mut v: Vec<Vec<u8>> = [1, 0, 2, 3, 4].iter().map(|&i| la[ll.blocks[i].clone()].to_vec()).collect();
    let mut t = la[ll.trailer.clone()].to_vec();
    renumber(&archive_id(&lossy), &mut v, &mut t);
    let refs: Vec<&[u8]> = v.iter().map(|b| &b[..]).collect();
    f.refused(&assemble(&la, &ll, &refs, &t), &["decoded latents do not match the trailer's SHA-256"]);
}

#[test]
fn a_flipped_bit_in_the_header_a_block_or_the_trailer_names_that_region() {
    let f = fixture("regions");
    let (a, l) = (&f.a, layout(&f.a));
    let flip = |i: usize, bit: u8| {
        let mut b = a.clone();
        b[i] ^= 1 << bit;
        b
    };
    f.refused(&flip(1, 0), &["not a hepae archive"]);
    f.refused(&flip(4, 1), &["unknown archive version"]);
    f.refused(&flip(l.header.start + 40, 3), &["header checksum mismatch"]);
    f.refused(&flip(l.header.end - 2, 7), &["header checksum mismatch"]);
    let b3 = l.blocks[2].clone();
    f.refused(&flip(b3.start + 2, 0), &["block 3 ", "checksum mismatch"]); // its sequence number
    f.refused(&flip(b3.start + 20, 5), &["block 3 ", "checksum mismatch"]); // its payload
    f.refused(&flip(l.blocks[3].end - 1, 6), &["block 4 ", "checksum mismatch"]); // its CRC
    f.refused(&flip(l.trailer.start + 12, 2), &["trailer", "checksum mismatch"]);
    f.refused(&flip(a.len() - 1, 0), &["trailer", "checksum mismatch"]);
    // The embedded model's block too.
    let (_, model, bytes) = setup(&f.dir, vec![8], 3);
    let emb = f.dir.join("emb.hepz");
    let opt = CompressOptions { embed_model: true, block_rows: 8, ..Default::default() };
    compress(&model, &bytes, &Dataset::open(&f.small).unwrap(), &emb, &opt).unwrap();
    let mut e = std::fs::read(&emb).unwrap();
    let m = layout(&e).blocks[0].clone();
    e[m.start + 40] ^= 0x10;
    let bad = f.dir.join("bad.hepz");
    std::fs::write(&bad, &e).unwrap();
    let err = decompress(&bad, None, &f.out_dir.join("x.npy")).unwrap_err().to_string();
    assert!(err.contains("bad.hepz") && err.contains("block 1 ") && err.contains("checksum"), "{err}");
    assert_eq!(std::fs::read_dir(&f.out_dir).unwrap().count(), 0);
}

#[test]
fn the_cli_refuses_a_reordered_archive_with_exit_1_and_one_line() {
    let f = fixture("cli");
    let l = layout(&f.a);
    let mut v: Vec<&[u8]> = l.blocks.iter().map(|r| &f.a[r.clone()]).collect();
    v.swap(2, 4);
    let bad = f.dir.join("bad.hepz");
    std::fs::write(&bad, assemble(&f.a, &l, &v, &f.a[l.trailer.clone()])).unwrap();
    let out = f.out_dir.join("x.csv");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_hepae"))
        .args(["decompress", bad.to_str().unwrap(), "--model", f.model_path.to_str().unwrap(), "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("bad.hepz") && err.contains("block 3 "), "{err}");
    assert_eq!(std::fs::read_dir(&f.out_dir).unwrap().count(), 0);
}

#[test]
fn an_archive_written_before_threshold_still_decompresses_after_it() {
    let f = fixture("threshold");
    let arch = f.dir.join("a.hepz");
    let before = std::fs::read(&f.model_path).unwrap();
    let identity = SavedModel::load(&f.model_path).unwrap().identity_sha256();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_hepae"))
        .args(["threshold", f.model_path.to_str().unwrap(), f.small.to_str().unwrap(), "--fpr", "0.1"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let after = SavedModel::load(&f.model_path).unwrap();
    assert!(after.meta.threshold.is_some());
    assert_ne!(std::fs::read(&f.model_path).unwrap(), before, "threshold rewrote the model file");
    assert_eq!(after.identity_sha256(), identity, "but not the model's identity");
    let out = f.dir.join("back.npy");
    decompress(&arch, Some(&f.model_path), &out).unwrap();
    assert_eq!(Dataset::open(&out).unwrap().rows(), 40);
    // A changed weight is another model.
    let mut other = after.clone();
    other.ae.params.data[3] += 1e-3;
    let other_path = f.dir.join("other.safetensors");
    other.save(&other_path).unwrap();
    let e = decompress(&arch, Some(&other_path), &f.out_dir.join("x.npy")).unwrap_err().to_string();
    assert!(e.contains("a.hepz") && e.contains("another model") && e.contains("identity"), "{e}");
    assert_eq!(std::fs::read_dir(&f.out_dir).unwrap().count(), 0);
}

#[test]
fn format_1_archives_still_decompress_by_the_model_files_sha256() {
    let v1 = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/archive_v1"));
    let jets = Dataset::open(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy"))).unwrap();
    let model_path = v1.join("m.safetensors");
    let model = SavedModel::load(&model_path).unwrap();
    let (n, d, l) = (jets.rows(), jets.cols(), model.meta.shape.latent);
    let (mut z, mut want) = (vec![0.0; n * l], vec![0.0; n * d]);
    Encoder::new(&model, 256).encode(jets.as_slice(), n, &mut z).unwrap();
    Decoder::new(&model, 256).decode(&z, n, &mut want);
    let dir = tmpdir("v1");
    let (out, out_e) = (dir.join("v1.npy"), dir.join("v1e.npy"));
    let (h, rows) = decompress(&v1.join("v1.hepz"), Some(&model_path), &out).unwrap();
    assert_eq!((h.version, rows), (1, 188));
    decompress(&v1.join("v1_embedded.hepz"), None, &out_e).unwrap();
    let (got, got_e) = (Dataset::open(&out).unwrap(), Dataset::open(&out_e).unwrap());
    assert_eq!(got.as_slice(), got_e.as_slice(), "the same latents through the same model");
    for (i, (&g, &w)) in got.as_slice().iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-3 + 1e-4 * w.abs(), "value {i}: {g} from the archive, {w} afresh");
    }
    // Format 1 names its model by the whole file, so a rewritten model file is another model.
    let mut m = model.clone();
    m.meta.training = None;
    let changed = dir.join("m2.safetensors");
    m.save(&changed).unwrap();
    let e = decompress(&v1.join("v1.hepz"), Some(&changed), &dir.join("x.npy")).unwrap_err().to_string();
    assert!(e.contains("another model") && e.contains("SHA-256"), "{e}");
    assert!(!dir.join("x.npy").exists());
}

#[test]
fn mutations_behind_valid_checksums_are_refused_without_a_panic() {
    use rand::{Rng, SeedableRng};
    let f = fixture("recrc");
    let bad = f.dir.join("bad.hepz");
    std::fs::write(&bad, &f.a).unwrap();
    let id = archive_id(&bad);
    let l = layout(&f.a);
    let mut r = rand::rngs::StdRng::seed_from_u64(20261201);
    let good = f.dir.join("good.npy");
    decompress(&bad, Some(&f.model_path), &good).unwrap();
    let good = std::fs::read(&good).unwrap();
    let out = f.out_dir.join("x.npy");
    let mut passed = 0;
    for _ in 0..200 {
        // Damage one frame's contents (never its length field), then give it a valid CRC.
        let k = r.random_range(0..=l.blocks.len());
        let range = if k == l.blocks.len() { l.trailer.clone() } else { l.blocks[k].clone() };
        let (first, end) = (if k == l.blocks.len() { range.start + 9 } else { range.start + 17 }, range.end - 4);
        let mut b = f.a.clone();
        for _ in 0..r.random_range(1..4) {
            let i = r.random_range(first..end);
            b[i] ^= 1 << r.random_range(0..8);
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&id);
        h.update(&b[range.start..end]);
        let crc = h.finalize();
        b[end..range.end].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&bad, &b).unwrap();
        if let Err(e) = decompress(&bad, Some(&f.model_path), &out) {
            let text = e.to_string();
            assert!(text.contains("bad.hepz") && !text.contains('\n'), "{text}");
        } else {
            // Only a change that leaves every decoded value the same (a ratio's digits in the
            // trailer) may pass.
            assert_eq!(std::fs::read(&out).unwrap(), good, "a damaged archive decoded to other values");
            passed += 1;
            std::fs::remove_file(&out).unwrap();
            std::fs::remove_file(out.with_extension("columns")).unwrap();
        }
        assert_eq!(std::fs::read_dir(&f.out_dir).unwrap().count(), 0);
    }
    eprintln!("{passed} of 200 re-framed mutations decoded to the same values");
    assert!(passed < 20, "{passed} of 200 damaged archives passed");
}
