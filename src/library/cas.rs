//! Content identity: Spacedrive's sampled `cas_id` and the full-content BLAKE3 that verifies it.
//!
//! `cas_id` = the first 16 hex characters of BLAKE3 over the size as little-endian u64, then either the whole file
//! (size ≤ 102,400 bytes) or an 8 KiB header, four 10 KiB samples at `8192 + i*((size-16384)/4)` and an 8 KiB
//! footer. It reads at most 57,344 bytes of any file, which makes it cheap, and 64 bits, which makes it collide:
//! two files are only known to be copies when their full hashes agree.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

pub const MINIMUM_SAMPLED_SIZE: u64 = 100 * 1024;
const HEADER_OR_FOOTER_SIZE: u64 = 8 * 1024;
const SAMPLE_SIZE: u64 = 10 * 1024;
const SAMPLE_COUNT: u64 = 4;
/// The most `identify` reads of any file, without the full hash: a small file whole, else the samples.
pub const MOST_READ: u64 = MINIMUM_SAMPLED_SIZE;

/// How many of a file's first bytes `cas_id_and_head` hands back (enough for magic numbers, tar's included).
pub const HEAD_SIZE: usize = 1024;

/// The content id of `file`, whose size is `size` (taken from `fstat` of the same open file).
pub fn cas_id(file: &File, size: u64) -> io::Result<String> {
    cas_id_and_head(file, size).map(|(cas_id, _)| cas_id)
}

/// The content id of `file` and its first bytes (up to `HEAD_SIZE`), read in the same pass.
pub fn cas_id_and_head(file: &File, size: u64) -> io::Result<(String, Vec<u8>)> {
    identify(file, size, false).map(|found| (found.cas_id, found.head))
}

/// What one read of a file tells about its content.
pub struct Identified {
    pub cas_id: String,
    /// The first bytes (up to `HEAD_SIZE`).
    pub head: Vec<u8>,
    /// The full hash, when the read was the whole file (size ≤ `MINIMUM_SAMPLED_SIZE`): deep mode needs no second
    /// read of a small file.
    pub full_hash: Option<String>,
}

/// The content id and first bytes of `file`, whose size is `size`, and when `whole` is asked and the file is read
/// whole, its full hash.
pub fn identify(file: &File, size: u64, whole: bool) -> io::Result<Identified> {
    if size <= MINIMUM_SAMPLED_SIZE {
        let mut buf = vec![0u8; size as usize];
        file.read_exact_at(&mut buf, 0).map_err(short_read)?;
        return Ok(identify_whole(buf, whole));
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(&size.to_le_bytes());
    let mut buf = vec![0u8; SAMPLE_SIZE as usize];
    let header = &mut buf[..HEADER_OR_FOOTER_SIZE as usize];
    file.read_exact_at(header, 0).map_err(short_read)?;
    hasher.update(header);
    let head = header[..HEAD_SIZE].to_vec();
    let jump = (size - HEADER_OR_FOOTER_SIZE * 2) / SAMPLE_COUNT;
    for i in 0..SAMPLE_COUNT {
        file.read_exact_at(&mut buf, HEADER_OR_FOOTER_SIZE + jump * i).map_err(short_read)?;
        hasher.update(&buf);
    }
    let footer = &mut buf[..HEADER_OR_FOOTER_SIZE as usize];
    file.read_exact_at(footer, size - HEADER_OR_FOOTER_SIZE).map_err(short_read)?;
    hasher.update(footer);
    Ok(Identified { cas_id: hasher.finalize().to_hex()[..16].to_owned(), head, full_hash: None })
}

/// The whole content of `file` when it is `expected` bytes long (at most `MINIMUM_SAMPLED_SIZE`), read without
/// asking its size first: a read that stops at `expected` bytes, short of the one more asked for, has met the end
/// of the file. `None` when the file is another size now.
pub fn read_whole(file: &File, expected: u64) -> io::Result<Option<Vec<u8>>> {
    debug_assert!(expected <= MINIMUM_SAMPLED_SIZE);
    let mut buf = vec![0u8; expected as usize + 1];
    let mut read = 0;
    while read < buf.len() {
        match file.read_at(&mut buf[read..], read as u64) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    if read as u64 != expected {
        return Ok(None);
    }
    buf.truncate(read);
    Ok(Some(buf))
}

/// What `identify` finds in a content read whole (`bytes`, at most `MINIMUM_SAMPLED_SIZE`); its full hash when
/// `whole` is asked.
pub fn identify_whole(bytes: Vec<u8>, whole: bool) -> Identified {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(&bytes);
    let full_hash = whole.then(|| blake3::hash(&bytes).to_hex().to_string());
    let mut head = bytes;
    head.truncate(HEAD_SIZE);
    Identified { cas_id: hasher.finalize().to_hex()[..16].to_owned(), head, full_hash }
}

/// BLAKE3 of the whole content of `file`, as 64 hex characters.
pub fn full_hash(file: &File) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file)?;
    Ok(hasher.finalize().to_hex().to_string())
}

fn short_read(err: io::Error) -> io::Error {
    if err.kind() == io::ErrorKind::UnexpectedEof { changed_while_reading() } else { err }
}

fn changed_while_reading() -> io::Error {
    io::Error::other("the file shrank while it was being read")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    /// The bytes the reference vectors were computed over: byte i is (i * 31 + 7) mod 251.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect()
    }

    fn cas_of(bytes: &[u8]) -> String {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        cas_id(&file, bytes.len() as u64).unwrap()
    }

    // Reference values computed independently with Python's `blake3` package by `scripts/cas_vectors.py`,
    // which assembles the sampled bytes by hand.
    #[test]
    fn cas_id_matches_independent_vectors() {
        for (len, expected) in [
            (0, VECTOR_0),
            (1, VECTOR_1),
            (102_400, VECTOR_102400),
            (102_401, VECTOR_102401),
            (5_000_000, VECTOR_5000000),
        ] {
            assert_eq!(cas_of(&pattern(len)), expected, "size {len}");
        }
    }

    #[test]
    fn full_hash_is_plain_blake3() {
        let bytes = pattern(300_000);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        file.seek(std::io::SeekFrom::Start(0)).unwrap();
        assert_eq!(full_hash(&file).unwrap(), FULL_300000);
    }

    #[test]
    fn a_file_read_whole_gets_its_full_hash_with_its_cas_id() {
        for (len, full) in [(300_000, None), (102_400, Some(()))] {
            let bytes = pattern(len);
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(&bytes).unwrap();
            let found = identify(&file, len as u64, true).unwrap();
            assert_eq!(found.cas_id, cas_of(&bytes));
            file.seek(std::io::SeekFrom::Start(0)).unwrap();
            assert_eq!(found.full_hash, full.map(|()| full_hash(&file).unwrap()), "size {len}");
        }
    }

    #[test]
    fn sampled_files_differing_outside_the_samples_share_a_cas_id() {
        let a = pattern(1_000_000);
        let mut b = a.clone();
        b[30_000] ^= 0xff; // between the header and the second sample
        assert_eq!(cas_of(&a), cas_of(&b));
        b[8_192] ^= 0xff; // inside the first sample
        assert_ne!(cas_of(&a), cas_of(&b));
    }

    #[test]
    fn a_file_shorter_than_its_stated_size_is_an_error() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&pattern(10)).unwrap();
        assert!(cas_id(&file, 20).is_err());
        assert!(cas_id(&file, 200_000).is_err());
    }

    const VECTOR_0: &str = "71e0a99173564931";
    const VECTOR_1: &str = "56c9e78a485c380d";
    const VECTOR_102400: &str = "1826d530f79eab78";
    const VECTOR_102401: &str = "0cd8d35088772158";
    const VECTOR_5000000: &str = "1726a48f22e5d6b9";
    const FULL_300000: &str = "1f0b5ef5bc3734ced2bb2f01127c05ea31f46be8f2fc30b4524e2a91ec462ab4";
}
