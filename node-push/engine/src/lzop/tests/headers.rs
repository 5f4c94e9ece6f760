//! Header variants: everything lzop writes (or its reader accepts) is read; what it rejects, we
//! reject too.

use super::*;

#[test]
fn header_variants_lzop_writes_are_all_read() {
    let data = mixed_bytes(700_000);
    let base = lzop_like_header();
    let variants: Vec<(&str, Header)> = vec![
        ("plain", base.clone()),
        (
            "-1",
            Header {
                method: 2,
                level: 1,
                ..base.clone()
            },
        ),
        (
            "-9",
            Header {
                method: 3,
                level: 9,
                ..base.clone()
            },
        ),
        (
            "-F",
            Header {
                flags: flags::OS_UNIX,
                ..base.clone()
            },
        ),
        (
            "stdin",
            Header {
                flags: base.flags | flags::STDIN | flags::STDOUT,
                name: String::new(),
                ..base.clone()
            },
        ),
        (
            "--crc32",
            Header {
                version_needed: 0x1001,
                flags: flags::OS_UNIX | flags::H_CRC32 | flags::CRC32_D,
                ..base.clone()
            },
        ),
        (
            "all checksums",
            Header {
                flags: flags::OS_UNIX
                    | flags::ADLER32_D
                    | flags::ADLER32_C
                    | flags::CRC32_D
                    | flags::CRC32_C,
                ..base.clone()
            },
        ),
        (
            "--filter=3",
            Header {
                version_needed: 0x0950,
                flags: base.flags | flags::H_FILTER,
                filter: 3,
                ..base.clone()
            },
        ),
        (
            "filter with compressed checksums",
            Header {
                flags: flags::OS_UNIX | flags::H_FILTER | flags::ADLER32_D | flags::ADLER32_C,
                filter: 1,
                ..base.clone()
            },
        ),
        (
            "0.93 header",
            Header {
                version: 0x0930,
                version_needed: 0x0900,
                level: 3,
                ..base.clone()
            },
        ),
        (
            "path",
            Header {
                version_needed: 0x1001,
                flags: base.flags | flags::H_PATH,
                name: "a/b.db".into(),
                ..base.clone()
            },
        ),
    ];
    for (name, header) in variants {
        let lzop = encode_with_header(&header, &data, 65_536, None);
        let decoder = LzopDecoder::new(lzop.as_slice()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut expected = header.clone();
        if header.has(flags::STDIN) {
            expected.mode = 0;
        }
        assert_eq!(decoder.header(), &expected, "{name}");
        assert_eq!(
            decode(&lzop).unwrap_or_else(|e| panic!("{name}: {e}")),
            data,
            "{name}"
        );
    }
}

#[test]
fn extra_field_is_skipped_after_checking_its_checksum() {
    let data = mixed_bytes(100_000);
    for header_flags in [flags::H_EXTRA_FIELD, flags::H_EXTRA_FIELD | flags::H_CRC32] {
        let header = Header {
            flags: lzop_like_header().flags | header_flags,
            ..lzop_like_header()
        };
        let lzop = encode_with_header(&header, &data, MAX_BLOCK_SIZE, Some(b"extra bytes"));
        assert_eq!(decode(&lzop).unwrap(), data);

        let mut damaged = lzop.clone();
        let extra_start = header.to_bytes().len() + 4;
        damaged[extra_start + 2] ^= 1;
        let error = verify(damaged.as_slice()).unwrap_err();
        assert!(
            matches!(error, LzopError::ExtraFieldChecksum { .. }),
            "{error}"
        );
    }
}

/// `header` serialised, with a valid checksum, followed by an empty stream.
fn empty_stream_with(header: &Header) -> Vec<u8> {
    encode_with_header(header, b"", MAX_BLOCK_SIZE, None)
}

#[test]
fn header_values_lzop_rejects_are_rejected() {
    let base = lzop_like_header();
    let cases: Vec<(Header, &str)> = vec![
        (
            Header {
                flags: base.flags | 0x0000_4000,
                ..base.clone()
            },
            "unknown lzop header flags 0x03004001",
        ),
        (
            Header {
                flags: flags::OS_UNIX | flags::ADLER32_C,
                ..base.clone()
            },
            "inconsistent lzop checksum flags",
        ),
        (
            Header {
                flags: flags::OS_UNIX | flags::CRC32_C,
                ..base.clone()
            },
            "inconsistent lzop checksum flags",
        ),
        (
            Header {
                method: 4,
                ..base.clone()
            },
            "unknown lzop compression method 4",
        ),
        (
            Header {
                method: 0,
                ..base.clone()
            },
            "unknown lzop compression method 0",
        ),
        (
            Header {
                level: 10,
                ..base.clone()
            },
            "unknown lzop compression level 10",
        ),
        (
            Header {
                version: 0x0899,
                ..base.clone()
            },
            "predates lzop 0.90",
        ),
        (
            Header {
                version_needed: 0x1050,
                ..base.clone()
            },
            "needs lzop version 0x1050",
        ),
        (
            Header {
                version_needed: 0x0800,
                ..base.clone()
            },
            "invalid version-needed-to-extract",
        ),
        (
            Header {
                flags: base.flags | flags::H_FILTER,
                filter: 17,
                ..base.clone()
            },
            "unknown lzop filter 17",
        ),
    ];
    for (header, message) in cases {
        let lzop = empty_stream_with(&header);
        let error = LzopDecoder::new(lzop.as_slice())
            .err()
            .unwrap_or_else(|| panic!("{header:?} accepted"));
        assert!(
            error.to_string().contains(message),
            "{error} does not contain {message}"
        );
        assert!(!error.is_retryable());
    }
}
