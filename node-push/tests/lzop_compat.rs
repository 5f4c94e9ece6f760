//! Compatibility of `engine::lzop` with the real `lzop` 1.04 binary, both ways: what we write
//! passes `lzop -t` and `lzop -dc` gives back the exact bytes; what `lzop` writes (every level and
//! header option) our decoder reads. Also: a long stream through the encoder keeps memory flat,
//! and an ignored benchmark compares throughput with `lzop -1`.
//!
//! `lzop` must be installed (`cargo xtask setup`); `$LZOP` overrides where it is looked for. The
//! tests fail, loudly, without it.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Instant;

use engine::lzop::{
    crc32, encode_with_header, flags, verify, Checksum, EncoderOptions, Header, LzopDecoder,
    LzopEncoder, LzopError, CRC32_INIT, MAX_BLOCK_SIZE,
};

fn lzop_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LZOP") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("lzop"))
        .find(|candidate| candidate.is_file());
    on_path.unwrap_or_else(|| {
        panic!("lzop not found on PATH (nor $LZOP set): install lzop 1.04 (`cargo xtask setup`)")
    })
}

/// Runs lzop with `args`, feeding `stdin`, and returns its output (whatever the exit status).
fn run_lzop(args: &[&str], dir: &Path, stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(lzop_bin())
        .args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", lzop_bin().display()));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let input = input.to_vec();
        std::thread::spawn(move || pipe.write_all(&input).expect("feeding lzop"));
    }
    child.wait_with_output().expect("waiting for lzop")
}

fn run_lzop_ok(args: &[&str], dir: &Path, stdin: Option<&[u8]>) -> Vec<u8> {
    let output = run_lzop(args, dir, stdin);
    assert!(
        output.status.success(),
        "lzop {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Deterministic data mixing text-like (compressible) and random (incompressible) runs.
fn mixed_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        if rng.bool() {
            for i in 0..rng.usize(100..20_000) {
                out.extend_from_slice(format!("key{i:08} ts={} cell ", i * 31 % 1000).as_bytes());
            }
        } else {
            out.extend((0..rng.usize(1000..400_000)).map(|_| rng.u8(..)));
        }
    }
    out.truncate(len);
    out
}

fn encode(data: &[u8], opts: EncoderOptions) -> Vec<u8> {
    let mut out = Vec::new();
    LzopEncoder::new(data, opts, None)
        .read_to_end(&mut out)
        .expect("encoding from memory");
    out
}

fn decode(lzop: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    LzopDecoder::new(lzop)
        .expect("header")
        .read_to_end(&mut out)
        .expect("decoding");
    out
}

#[test]
fn lzop_tests_and_decompresses_our_output_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = [
        0,
        1,
        1000,
        MAX_BLOCK_SIZE,
        MAX_BLOCK_SIZE + 1,
        3 * 1024 * 1024 + 17,
    ];
    for checksum in [Checksum::Adler32, Checksum::Crc32] {
        for (i, &size) in sizes.iter().enumerate() {
            let data = mixed_bytes(size, i as u64);
            let opts = EncoderOptions {
                checksum,
                name: Some(format!("part-{i}.db")),
                ..EncoderOptions::default()
            };
            let file = dir.path().join(format!("ours-{i}-{checksum}.lzo"));
            fs_err::write(&file, encode(&data, opts)).unwrap();
            let file = file.to_str().unwrap();
            // lzop exits 2 on warnings (trailing garbage, multipart), so 0 means a clean test.
            run_lzop_ok(&["-t", file], dir.path(), None);
            let decompressed = run_lzop_ok(&["-dc", file], dir.path(), None);
            assert!(decompressed == data, "lzop -dc {file}: {size} bytes differ");
        }
    }
    // Random data is stored in raw blocks, small blocks make many of them: lzop takes both.
    let mut rng = fastrand::Rng::with_seed(3);
    let random: Vec<u8> = (0..2_000_000).map(|_| rng.u8(..)).collect();
    let opts = EncoderOptions {
        block_size: 16 * 1024,
        ..EncoderOptions::default()
    };
    let output = run_lzop_ok(&["-dc"], dir.path(), Some(&encode(&random, opts)));
    assert!(
        output == random,
        "small-block stream differs after lzop -dc"
    );
}

#[test]
fn lzop_restores_the_name_mode_and_time_we_store() {
    let dir = tempfile::tempdir().unwrap();
    let opts = EncoderOptions {
        name: Some("restored.db".to_owned()),
        mode: 0o100640,
        mtime: 1_500_000_000,
        ..EncoderOptions::default()
    };
    fs_err::write(dir.path().join("archive.lzo"), encode(b"payload\n", opts)).unwrap();
    let out_dir = dir.path().join("out");
    fs_err::create_dir(&out_dir).unwrap();
    let out_arg = format!("-p{}", out_dir.display());
    run_lzop_ok(&["-d", "-N", &out_arg, "archive.lzo"], dir.path(), None);
    let restored = out_dir.join("restored.db");
    assert_eq!(fs_err::read(&restored).unwrap(), b"payload\n");
    let metadata = fs_err::metadata(&restored).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(metadata.permissions().mode() & 0o7777, 0o640);
    assert_eq!(metadata.mtime(), 1_500_000_000);
}

/// The method and level lzop records for each of its level options.
const LEVELS: [(&str, u8, u8); 6] = [
    ("-1", 2, 1),
    ("-3", 1, 5),
    ("-5", 1, 5),
    ("-7", 3, 7),
    ("-8", 3, 8),
    ("-9", 3, 9),
];

#[test]
fn we_read_every_level_lzop_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed_bytes(1_200_000, 11);
    fs_err::write(dir.path().join("input.db"), &data).unwrap();
    for (option, method, level) in LEVELS {
        let lzop = run_lzop_ok(&[option, "-c", "input.db"], dir.path(), None);
        let decoder = LzopDecoder::new(lzop.as_slice()).unwrap();
        let header = decoder.header();
        assert_eq!(
            (header.method, header.level),
            (method, level),
            "lzop {option}"
        );
        assert_eq!(header.name, "input.db");
        assert_ne!(header.mode, 0);
        assert!(header.mtime > 0);
        assert!(decode(&lzop) == data, "lzop {option}: decoded bytes differ");
        let stats = verify(lzop.as_slice()).unwrap();
        assert_eq!(stats.uncompressed_bytes, data.len() as u64);
        assert_eq!(stats.compressed_bytes, lzop.len() as u64);
        assert_eq!(stats.blocks, data.len().div_ceil(256 * 1024) as u64);
    }
}

#[test]
fn we_read_every_header_option_lzop_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed_bytes(700_000, 12);
    fs_err::create_dir(dir.path().join("sub")).unwrap();
    fs_err::write(dir.path().join("sub/input.db"), &data).unwrap();
    // (lzop arguments, read from stdin, flags that must be set, flags that must be clear)
    let cases: [(&[&str], bool, u32, u32); 11] = [
        (
            &["-c", "sub/input.db"],
            false,
            flags::ADLER32_D,
            flags::CRC32_D,
        ),
        (
            &["-c", "--crc32", "sub/input.db"],
            false,
            flags::CRC32_D | flags::H_CRC32,
            flags::ADLER32_D,
        ),
        (
            &["-c", "-F", "sub/input.db"],
            false,
            0,
            flags::ADLER32_D | flags::CRC32_D,
        ),
        (
            &["-c", "-F", "--crc32", "sub/input.db"],
            false,
            flags::H_CRC32,
            flags::CRC32_D,
        ),
        (&["-c", "-n", "sub/input.db"], false, 0, 0),
        (&["-c", "-N", "sub/input.db"], false, 0, 0),
        (&["-c", "-P", "sub/input.db"], false, flags::H_PATH, 0),
        (
            &["-c", "--no-mode", "--no-time", "sub/input.db"],
            false,
            0,
            0,
        ),
        (
            &["-c", "--filter=3", "sub/input.db"],
            false,
            flags::H_FILTER,
            0,
        ),
        (&["-c"], true, flags::STDIN | flags::STDOUT, 0),
        (
            &["-c", "-9", "--crc32", "-n"],
            true,
            flags::STDIN | flags::H_CRC32,
            0,
        ),
    ];
    for (args, from_stdin, set, clear) in cases {
        let stdin = from_stdin.then_some(data.as_slice());
        let lzop = run_lzop_ok(args, dir.path(), stdin);
        let decoder =
            LzopDecoder::new(lzop.as_slice()).unwrap_or_else(|e| panic!("lzop {args:?}: {e}"));
        let header = decoder.header().clone();
        assert_eq!(
            header.flags & set,
            set,
            "lzop {args:?}: flags {:#x}",
            header.flags
        );
        assert_eq!(
            header.flags & clear,
            0,
            "lzop {args:?}: flags {:#x}",
            header.flags
        );
        if from_stdin {
            assert_eq!(
                (header.name.as_str(), header.mode),
                ("", 0),
                "lzop {args:?}"
            );
        } else {
            assert!(
                header.name.ends_with("input.db"),
                "lzop {args:?}: name {}",
                header.name
            );
        }
        let mut decoded = Vec::new();
        let mut decoder = decoder;
        decoder
            .read_to_end(&mut decoded)
            .unwrap_or_else(|e| panic!("lzop {args:?}: {e}"));
        assert!(decoded == data, "lzop {args:?}: decoded bytes differ");
    }
}

#[test]
fn lzop_multipart_output_is_rejected_as_trailing_data() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("a"), b"first").unwrap();
    fs_err::write(dir.path().join("b"), b"second").unwrap();
    let lzop = run_lzop_ok(&["-c", "a", "b"], dir.path(), None);
    let error = verify(lzop.as_slice()).unwrap_err();
    assert!(matches!(error, LzopError::TrailingData { .. }), "{error}");
}

/// Header variants lzop's reader accepts but its writer never produces; lzop and we must agree.
#[test]
fn exotic_headers_are_read_by_lzop_and_by_us() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed_bytes(600_000, 13);
    let base = Header {
        version: 0x1040,
        lib_version: 0x20A0,
        version_needed: 0x0940,
        method: 1,
        level: 5,
        flags: flags::OS_UNIX | flags::ADLER32_D,
        filter: 0,
        mode: 0o100644,
        mtime: 1_600_000_000,
        name: "x.db".to_owned(),
    };
    let all_checksums =
        flags::OS_UNIX | flags::ADLER32_D | flags::ADLER32_C | flags::CRC32_D | flags::CRC32_C;
    let variants: Vec<(&str, Header, Option<&[u8]>)> = vec![
        (
            "extra field",
            Header {
                flags: base.flags | flags::H_EXTRA_FIELD,
                ..base.clone()
            },
            Some(b"hello"),
        ),
        (
            "extra field, CRC-32 header",
            Header {
                version_needed: 0x1001,
                flags: base.flags | flags::H_EXTRA_FIELD | flags::H_CRC32,
                ..base.clone()
            },
            Some(b"hello"),
        ),
        (
            "all four block checksums",
            Header {
                flags: all_checksums,
                ..base.clone()
            },
            None,
        ),
        (
            "0.93 header",
            Header {
                version: 0x0930,
                version_needed: 0x0900,
                level: 3,
                ..base.clone()
            },
            None,
        ),
        (
            "LZO1X-999 without level (0.90)",
            Header {
                version: 0x0900,
                method: 3,
                level: 9,
                ..base.clone()
            },
            None,
        ),
    ];
    for (name, header, extra) in variants {
        let lzop = encode_with_header(&header, &data, 100_000, extra);
        let output = run_lzop_ok(&["-dc"], dir.path(), Some(&lzop));
        assert!(output == data, "{name}: lzop -dc differs");
        assert!(decode(&lzop) == data, "{name}: we decode differently");
    }
}

#[test]
fn damage_is_caught_by_lzop_and_by_us() {
    let dir = tempfile::tempdir().unwrap();
    let data = mixed_bytes(1_000_000, 14);
    let lzop = encode(&data, EncoderOptions::default());
    for position in [20, 60, lzop.len() / 3, lzop.len() / 2, lzop.len() - 10] {
        let mut damaged = lzop.clone();
        damaged[position] ^= 0x04;
        let theirs = run_lzop(&["-t"], dir.path(), Some(&damaged));
        assert!(
            !theirs.status.success(),
            "lzop -t accepted damage at {position}"
        );
        let ours = verify(damaged.as_slice());
        assert!(ours.is_err(), "we accepted damage at {position}");
    }
}

/// An endless-looking source: `len` bytes generated on the fly (runs of text and of random bytes),
/// remembering the CRC-32 of what it produced.
struct SyntheticSource {
    remaining: u64,
    rng: fastrand::Rng,
    crc: u32,
    text_run: bool,
    run_left: usize,
}

impl SyntheticSource {
    fn new(len: u64) -> Self {
        Self {
            remaining: len,
            rng: fastrand::Rng::with_seed(5),
            crc: CRC32_INIT,
            text_run: true,
            run_left: 0,
        }
    }
}

impl Read for SyntheticSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.run_left == 0 {
            self.text_run = !self.text_run;
            self.run_left = self.rng.usize(50_000..2_000_000);
        }
        let n = buf.len().min(self.run_left).min(self.remaining as usize);
        let out = &mut buf[..n];
        if self.text_run {
            let line = b"2024-01-01 INFO compaction of sstable finished, 12345 cells\n";
            let start = self.rng.usize(..line.len());
            for (i, byte) in out.iter_mut().enumerate() {
                *byte = line[(start + i) % line.len()];
            }
        } else {
            self.rng.fill(out);
        }
        self.crc = crc32(self.crc, out);
        self.run_left -= n;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// A `/proc/self/status` memory field in bytes.
fn proc_status_bytes(field: &str) -> u64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Resident set size of this process now.
fn resident_bytes() -> u64 {
    proc_status_bytes("VmRSS:")
}

/// Largest resident set size this process has had.
fn peak_resident_bytes() -> u64 {
    proc_status_bytes("VmHWM:")
}

/// Counts and checksums what is written to it, keeping nothing.
struct CountingSink {
    bytes: u64,
    crc: u32,
}

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.crc = crc32(self.crc, buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn long_streams_keep_memory_flat_and_round_trip_through_lzop() {
    // RSS is per process, and the other tests leave freed memory behind that muddles it: run the
    // measurement in a fresh process of this test binary.
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "streaming_memory_probe",
            "--include-ignored",
            "--nocapture",
        ])
        .output()
        .expect("re-running this test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    testkit::log!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the streaming probe failed (output above)"
    );
    assert!(
        stdout.contains("1 passed"),
        "the streaming probe did not run (output above)"
    );
}

/// The body of [`long_streams_keep_memory_flat_and_round_trip_through_lzop`], in its own process.
#[test]
#[ignore = "run by long_streams_keep_memory_flat_and_round_trip_through_lzop in a fresh process"]
fn streaming_memory_probe() {
    let len: u64 = 200 << 20;
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    );

    // Encoder -> our decoder, measured in the middle and at the end.
    let encoder = LzopEncoder::new(
        SyntheticSource::new(len),
        EncoderOptions::default(),
        Some(pool.clone()),
    );
    let mut decoder = LzopDecoder::new(encoder).unwrap();
    let mut sink = CountingSink {
        bytes: 0,
        crc: CRC32_INIT,
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut rss_after_warmup = 0;
    loop {
        let n = decoder.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        sink.write_all(&buf[..n]).unwrap();
        if rss_after_warmup == 0 && sink.bytes >= len / 8 {
            rss_after_warmup = resident_bytes();
        }
    }
    let growth = resident_bytes().saturating_sub(rss_after_warmup);
    testkit::log!(
        "streamed {} MiB: RSS {} MiB after the first eighth, then grew by {} KiB",
        len >> 20,
        rss_after_warmup >> 20,
        growth >> 10
    );
    let source = decoder.into_inner().into_inner();
    assert_eq!(sink.bytes, len);
    assert_eq!(sink.crc, source.crc, "round trip changed the data");
    assert!(
        growth < 16 << 20,
        "memory grew by {} MiB over a {} MiB stream",
        growth >> 20,
        len >> 20
    );
    let peak = peak_resident_bytes();
    assert!(
        peak < 64 << 20,
        "peak RSS {} MiB while streaming {} MiB",
        peak >> 20,
        len >> 20
    );

    // Encoder -> real `lzop -dc`, whose output is counted and checksummed.
    let mut child = Command::new(lzop_bin())
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running lzop -dc");
    let mut lzop_out = child.stdout.take().unwrap();
    let counter = std::thread::spawn(move || {
        let mut sink = CountingSink {
            bytes: 0,
            crc: CRC32_INIT,
        };
        io::copy(&mut lzop_out, &mut sink).unwrap();
        sink
    });
    let mut encoder = LzopEncoder::new(
        SyntheticSource::new(len),
        EncoderOptions::default(),
        Some(pool),
    );
    let mut stdin = child.stdin.take().unwrap();
    io::copy(&mut encoder, &mut stdin).unwrap();
    drop(stdin);
    assert!(
        child.wait().unwrap().success(),
        "lzop -dc rejected our stream"
    );
    let through_lzop = counter.join().unwrap();
    assert_eq!(through_lzop.bytes, len);
    assert_eq!(
        through_lzop.crc,
        encoder.into_inner().crc,
        "lzop -dc gave back different bytes"
    );
}

/// Best of three runs of `run`, in MB/s of `bytes`.
fn best_rate(bytes: u64, mut run: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        run();
        best = best.min(started.elapsed().as_secs_f64());
    }
    bytes as f64 / 1e6 / best
}

/// `lzop -1 -c` of each file, all at once, output discarded.
fn lzop_fast_in_parallel(files: &[&Path]) {
    let children: Vec<_> = files
        .iter()
        .map(|file| {
            Command::new(lzop_bin())
                .args(["-1", "-c"])
                .arg(file)
                .stdout(Stdio::null())
                .spawn()
                .expect("running lzop -1")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
}

/// Throughput against `lzop -1` (one process, and one per core on halves of the file) on the
/// same ~500 MB file. Run with
/// `cargo test --release -p node-push --test lzop_compat -- --ignored --nocapture throughput`;
/// `LZOP_BENCH_FILE` picks the file (default: a generated one).
#[test]
#[ignore = "benchmark; run explicitly in release"]
fn throughput_against_lzop() {
    let dir = tempfile::tempdir().unwrap();
    let file = match std::env::var_os("LZOP_BENCH_FILE") {
        Some(path) => PathBuf::from(path),
        None => {
            let path = dir.path().join("bench.bin");
            let mut out = fs_err::File::create(&path).unwrap();
            io::copy(&mut SyntheticSource::new(500 << 20), &mut out).unwrap();
            path
        }
    };
    let data = fs_err::read(&file).unwrap();
    let size = data.len() as u64;
    let halves = [
        dir.path().join("first-half"),
        dir.path().join("second-half"),
    ];
    fs_err::write(&halves[0], &data[..data.len() / 2]).unwrap();
    fs_err::write(&halves[1], &data[data.len() / 2..]).unwrap();
    drop(data);
    testkit::log!(
        "{}: {:.0} MB, {} threads",
        file.display(),
        size as f64 / 1e6,
        rayon::current_num_threads()
    );

    let mut ours_adler = 0.0;
    for checksum in [Checksum::Adler32, Checksum::Crc32] {
        let mut written = 0;
        let rate = best_rate(size, || {
            let opts = EncoderOptions {
                checksum,
                ..EncoderOptions::default()
            };
            let mut encoder = LzopEncoder::new(fs_err::File::open(&file).unwrap(), opts, None);
            written = io::copy(&mut encoder, &mut io::sink()).unwrap();
        });
        testkit::log!(
            "ours encode ({checksum}): {rate:.0} MB/s, ratio {:.3}",
            written as f64 / size as f64
        );
        if checksum == Checksum::Adler32 {
            ours_adler = rate;
        }
    }
    let single = best_rate(size, || lzop_fast_in_parallel(&[&file]));
    testkit::log!("lzop -1, one process: {single:.0} MB/s");
    let parallel = best_rate(size, || lzop_fast_in_parallel(&[&halves[0], &halves[1]]));
    testkit::log!("lzop -1, two processes on halves: {parallel:.0} MB/s");
    testkit::log!("ours / parallel lzop -1 = {:.2}", ours_adler / parallel);

    let ours_file = dir.path().join("ours.lzo");
    let mut encoder = LzopEncoder::new(
        fs_err::File::open(&file).unwrap(),
        EncoderOptions::default(),
        None,
    );
    io::copy(&mut encoder, &mut fs_err::File::create(&ours_file).unwrap()).unwrap();
    let lzop_file = dir.path().join("theirs.lzo");
    let status = Command::new(lzop_bin())
        .args(["-1", "-c"])
        .arg(&file)
        .stdout(fs_err::File::create(&lzop_file).unwrap().into_file())
        .status()
        .unwrap();
    assert!(status.success());
    let rate = best_rate(size, || {
        verify(fs_err::File::open(&ours_file).unwrap()).unwrap();
    });
    testkit::log!("ours verify of our file: {rate:.0} MB/s");
    let rate = best_rate(size, || {
        verify(fs_err::File::open(&lzop_file).unwrap()).unwrap();
    });
    testkit::log!("ours verify of the lzop -1 file: {rate:.0} MB/s");
    let rate = best_rate(size, || {
        let quiet_test = Command::new(lzop_bin())
            .args(["-t", "-q"])
            .arg(&ours_file)
            .status();
        assert!(quiet_test.unwrap().success());
    });
    testkit::log!("lzop -t of our file: {rate:.0} MB/s");
}
