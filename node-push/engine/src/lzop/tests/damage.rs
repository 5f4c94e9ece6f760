//! Damaged streams: each must fail with the right [`LzopError`] and the offset of the damage.

use std::io::{self, Read};

use super::*;

#[test]
fn bad_magic_is_not_an_lzop_file() {
    let mut lzop = encode(b"data", EncoderOptions::default());
    lzop[1] = b'X';
    let error = LzopDecoder::new(lzop.as_slice()).err().unwrap();
    assert!(
        matches!(error, LzopError::BadMagic { offset: 0 }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "not an lzop file (bad magic bytes at offset 0)"
    );
}

#[test]
fn every_header_byte_is_protected() {
    let lzop = encode(
        b"data",
        EncoderOptions {
            name: Some("n".into()),
            ..Default::default()
        },
    );
    let header_len = Header::for_encoder(&EncoderOptions {
        name: Some("n".into()),
        ..Default::default()
    })
    .to_bytes()
    .len();
    for position in 9..header_len {
        let mut damaged = lzop.clone();
        damaged[position] ^= 0x01;
        let error = verify(damaged.as_slice()).expect_err("damage must be detected");
        // A flipped length field can also make the header read run into the blocks; whatever
        // the error, it must be about the header region.
        assert!(
            error.offset() <= header_len as u64 + 4,
            "position {position}: {error}"
        );
        if position + 4 >= header_len {
            assert!(
                matches!(error, LzopError::HeaderChecksum { .. }),
                "{position}: {error}"
            );
            assert_eq!(error.offset(), header_len as u64 - 4);
            assert!(error
                .to_string()
                .starts_with("lzop header checksum mismatch at offset "));
        }
    }
}

#[test]
fn damaged_compressed_block_data_is_a_checksum_mismatch_with_its_offset() {
    let data = b"some text that compresses ".repeat(30_000);
    for checksum in [Checksum::Adler32, Checksum::Crc32] {
        let mut lzop = encode(
            &data,
            EncoderOptions {
                checksum,
                ..Default::default()
            },
        );
        let first = first_block_offset();
        let stored_len = u32::from_be_bytes(lzop[first + 4..first + 8].try_into().unwrap());
        assert!(
            (stored_len as usize) < MAX_BLOCK_SIZE,
            "test data must compress"
        );
        let data_offset = first + 16;
        lzop[data_offset + 100] ^= 0x40;
        let error = verify(lzop.as_slice()).unwrap_err();
        match &error {
            LzopError::BlockChecksum {
                offset,
                block,
                algorithm,
                data,
                ..
            } => {
                assert_eq!(*offset, data_offset as u64);
                assert_eq!(
                    (*block, *algorithm, *data),
                    (0, checksum, ChecksummedData::Compressed)
                );
            }
            other => panic!("unexpected {other}"),
        }
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("block checksum mismatch at offset {data_offset} (block 0, {checksum} of the compressed data")),
            "{message}"
        );
        // Through the Read interface it is InvalidData carrying the same error.
        let io_error = decode(&lzop).unwrap_err();
        assert_eq!(io_error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(lzop_error(&io_error).offset(), data_offset as u64);
    }
}

#[test]
fn damaged_raw_block_is_an_uncompressed_checksum_mismatch() {
    let data = random_bytes(MAX_BLOCK_SIZE + 10, 5);
    let mut lzop = encode(&data, EncoderOptions::default());
    let first = first_block_offset();
    let data_offset = first + 12;
    lzop[data_offset + 5000] ^= 0xff;
    let error = verify(lzop.as_slice()).unwrap_err();
    assert!(
        matches!(
            error,
            LzopError::BlockChecksum { data: ChecksummedData::Uncompressed, block: 0, offset, .. }
                if offset == data_offset as u64
        ),
        "{error}"
    );
}

#[test]
fn damaged_checksum_field_is_detected() {
    let data = mixed_bytes(2 * MAX_BLOCK_SIZE);
    let mut lzop = encode(&data, EncoderOptions::default());
    let first = first_block_offset();
    // The uncompressed-data checksum of block 0 (after the two lengths).
    lzop[first + 9] ^= 0x10;
    let error = verify(lzop.as_slice()).unwrap_err();
    assert!(
        matches!(
            error,
            LzopError::BlockChecksum {
                data: ChecksummedData::Uncompressed,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn damaged_lzo_data_with_no_checksums_is_caught_by_the_decompressor_or_length() {
    // lzop -F writes no checksums at all: only the LZO decoder stands between damage and output.
    let header = Header {
        flags: flags::OS_UNIX,
        ..Header::for_encoder(&EncoderOptions::default())
    };
    let data = vec![b'a'; 100_000];
    let mut lzop = encode_with_header(&header, &data, MAX_BLOCK_SIZE, None);
    let first = header.to_bytes().len();
    // Cut the LZO stream's end marker (the last three bytes of the block data).
    let stored_len = u32::from_be_bytes(lzop[first + 4..first + 8].try_into().unwrap()) as usize;
    let last = first + 8 + stored_len - 1;
    lzop[last] ^= 0xff;
    let error = verify(lzop.as_slice()).unwrap_err();
    assert!(
        matches!(error, LzopError::CorruptBlock { block: 0, .. }),
        "{error}"
    );
}

#[test]
fn truncation_anywhere_is_reported_as_truncated_at_the_end_offset() {
    let data = mixed_bytes(2 * MAX_BLOCK_SIZE + 77);
    let lzop = encode(&data, EncoderOptions::default());
    let mut cuts: Vec<usize> = (0..60).collect();
    cuts.extend([
        lzop.len() / 3,
        lzop.len() / 2,
        lzop.len() - 5,
        lzop.len() - 4,
        lzop.len() - 1,
    ]);
    for cut in cuts {
        let error = verify(&lzop[..cut]).unwrap_err();
        match &error {
            LzopError::Truncated { offset, .. } => assert_eq!(*offset, cut as u64, "{error}"),
            other => panic!("cut at {cut}: {other}"),
        }
        assert!(error
            .to_string()
            .starts_with("truncated lzop stream: it ends at offset "));
        let io_error = decode(&lzop[..cut]).unwrap_err();
        assert_eq!(
            io_error.kind(),
            io::ErrorKind::UnexpectedEof,
            "cut at {cut}"
        );
    }
}

#[test]
fn trailing_bytes_after_the_end_marker_are_rejected() {
    let mut lzop = encode(b"payload", EncoderOptions::default());
    let end = lzop.len();
    lzop.push(0);
    let error = verify(lzop.as_slice()).unwrap_err();
    assert!(
        matches!(error, LzopError::TrailingData { offset } if offset == end as u64),
        "{error}"
    );
    // A second concatenated stream is trailing data too.
    let mut twice = encode(b"a", EncoderOptions::default());
    twice.extend(encode(b"b", EncoderOptions::default()));
    assert!(matches!(
        verify(twice.as_slice()),
        Err(LzopError::TrailingData { .. })
    ));
}

/// Our encoder's output with the first block header's two length fields replaced.
fn with_block_lengths(uncompressed: u32, stored: u32) -> Vec<u8> {
    let mut lzop = encode(&mixed_bytes(10_000), EncoderOptions::default());
    let first = first_block_offset();
    lzop[first..first + 4].copy_from_slice(&uncompressed.to_be_bytes());
    lzop[first + 4..first + 8].copy_from_slice(&stored.to_be_bytes());
    lzop
}

#[test]
fn impossible_block_lengths_are_corrupt_headers() {
    let first = first_block_offset() as u64;
    let error = verify(with_block_lengths(10_000, 0).as_slice()).unwrap_err();
    assert!(
        matches!(error, LzopError::BadBlockHeader { offset, .. } if offset == first),
        "{error}"
    );
    let error = verify(with_block_lengths(10_000, 10_001).as_slice()).unwrap_err();
    assert!(matches!(error, LzopError::BadBlockHeader { .. }), "{error}");
    let error = verify(with_block_lengths(64 * 1024 * 1024 + 1, 10).as_slice()).unwrap_err();
    assert!(
        matches!(error, LzopError::BlockTooLarge { offset, .. } if offset == first),
        "{error}"
    );
    let error = verify(with_block_lengths(u32::MAX, 10).as_slice()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("split lzop files are not supported"),
        "{error}"
    );
}

#[test]
fn reads_after_an_error_keep_failing() {
    let mut lzop = encode(&mixed_bytes(3 * MAX_BLOCK_SIZE), EncoderOptions::default());
    let position = lzop.len() / 2;
    lzop[position] ^= 1;
    let mut decoder = LzopDecoder::new(lzop.as_slice()).unwrap();
    let mut sink = Vec::new();
    assert!(decoder.read_to_end(&mut sink).is_err());
    let again = decoder.read(&mut [0u8; 100]).unwrap_err();
    assert!(
        matches!(lzop_error(&again), LzopError::AlreadyFailed { .. }),
        "{again}"
    );
}

#[test]
fn any_single_byte_damage_is_detected_without_panicking() {
    let data = mixed_bytes(200_000);
    let mut rng = fastrand::Rng::with_seed(17);
    for checksum in [Checksum::Adler32, Checksum::Crc32] {
        let lzop = encode(&data, small_blocks(checksum));
        for _ in 0..400 {
            let mut damaged = lzop.clone();
            let position = rng.usize(..damaged.len());
            damaged[position] ^= rng.u8(1..);
            assert!(
                verify(damaged.as_slice()).is_err(),
                "{checksum}: damage at {position} of {} went unnoticed",
                damaged.len()
            );
        }
    }
}
