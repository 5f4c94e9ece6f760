//! The lzop file header: writing the one we emit, and parsing (and validating) everything lzop 1.04
//! itself writes or accepts, including old (< 0.94) headers, filters and the extra field.

use std::io::Read;

use super::checksum::{adler32, crc32, ADLER32_INIT, CRC32_INIT};
use super::input::TrackedReader;
use super::{Checksum, EncoderOptions, LzopError};

/// The nine bytes every lzop file starts with.
pub const MAGIC: [u8; 9] = [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a];

/// Header flag bits (lzop's `conf.h`).
pub mod flags {
    /// Adler-32 of each block's uncompressed data.
    pub const ADLER32_D: u32 = 0x0000_0001;
    /// Adler-32 of each compressed block's stored data.
    pub const ADLER32_C: u32 = 0x0000_0002;
    /// Compressed from standard input (the stored mode is then ignored).
    pub const STDIN: u32 = 0x0000_0004;
    /// Compressed to standard output.
    pub const STDOUT: u32 = 0x0000_0008;
    pub const NAME_DEFAULT: u32 = 0x0000_0010;
    pub const DOSISH: u32 = 0x0000_0020;
    /// A length-prefixed, checksummed extra field follows the header.
    pub const H_EXTRA_FIELD: u32 = 0x0000_0040;
    pub const H_GMTDIFF: u32 = 0x0000_0080;
    /// CRC-32 of each block's uncompressed data.
    pub const CRC32_D: u32 = 0x0000_0100;
    /// CRC-32 of each compressed block's stored data.
    pub const CRC32_C: u32 = 0x0000_0200;
    pub const MULTIPART: u32 = 0x0000_0400;
    /// A u32 filter number follows the flags.
    pub const H_FILTER: u32 = 0x0000_0800;
    /// The header checksum is a CRC-32 instead of an Adler-32.
    pub const H_CRC32: u32 = 0x0000_1000;
    /// The name is a relative path.
    pub const H_PATH: u32 = 0x0000_2000;
    /// Bits lzop reserves ("unknown header flags -- get a newer version of lzop").
    pub const RESERVED: u32 = 0x000F_C000;
    /// The creating operating system lives in the top byte.
    pub const OS_UNIX: u32 = 0x0300_0000;
}

/// The lzop version we claim to be (1.040), and the one whose limits the reader applies.
pub const LZOP_VERSION: u16 = 0x1040;
/// The LZO library version we claim (2.10, what lzop 1.04 here is linked with).
pub const LIB_VERSION: u16 = 0x20A0;
/// The oldest lzop that can extract what we write.
pub const VERSION_NEEDED: u16 = 0x0940;
/// First public lzop version; anything older is corrupt.
const OLDEST_VERSION: u16 = 0x0900;
/// From this version on, the header has version_needed, level and mtime_high.
const FULL_HEADER_VERSION: u16 = 0x0940;

/// lzop's method numbers; all three decompress with the same LZO1X decompressor.
pub const METHOD_LZO1X_1: u8 = 1;
pub const METHOD_LZO1X_1_15: u8 = 2;
pub const METHOD_LZO1X_999: u8 = 3;
/// The level plain `lzop` records for its default method (its -2..-6 all mean LZO1X-1).
pub const DEFAULT_LEVEL: u8 = 5;

/// A parsed (or to-be-written) lzop header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: u16,
    pub lib_version: u16,
    /// For headers older than 0.94, which lack the field, lzop's implied 0x0900.
    pub version_needed: u16,
    pub method: u8,
    /// For headers older than 0.94, which lack the field, the method's default level.
    pub level: u8,
    pub flags: u32,
    /// Delta filter 1..=16, or 0 for none (only present with [`flags::H_FILTER`]).
    pub filter: u32,
    /// `st_mode` of the original file; 0 = don't restore (also reported as 0 for
    /// [`flags::STDIN`], which lzop ignores as well).
    pub mode: u32,
    /// Seconds since the epoch, 0 if unknown.
    pub mtime: i64,
    /// The stored name (lossily decoded if it is not UTF-8); empty when none was stored.
    pub name: String,
}

impl Header {
    /// The header [`super::LzopEncoder`] writes: like plain `lzop` (method 1, level 5) with both
    /// block checksums of the chosen kind.
    pub fn for_encoder(opts: &EncoderOptions) -> Self {
        let checksum_flags = match opts.checksum {
            Checksum::Adler32 => flags::ADLER32_D | flags::ADLER32_C,
            Checksum::Crc32 => flags::CRC32_D | flags::CRC32_C,
        };
        Self {
            version: LZOP_VERSION,
            lib_version: LIB_VERSION,
            version_needed: VERSION_NEEDED,
            method: METHOD_LZO1X_1,
            level: DEFAULT_LEVEL,
            flags: flags::OS_UNIX | checksum_flags,
            filter: 0,
            mode: opts.mode,
            // lzop stores 0 for times it cannot represent as positive.
            mtime: opts.mtime.max(0),
            name: truncate_name(opts.name.as_deref().unwrap_or("")),
        }
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// The full header: magic, fields (as present for `version` and `flags`) and checksum. An
    /// extra field is not written.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut fields = Vec::with_capacity(40 + self.name.len());
        let full = self.version >= FULL_HEADER_VERSION;
        fields.extend_from_slice(&self.version.to_be_bytes());
        fields.extend_from_slice(&self.lib_version.to_be_bytes());
        if full {
            fields.extend_from_slice(&self.version_needed.to_be_bytes());
        }
        fields.push(self.method);
        if full {
            fields.push(self.level);
        }
        fields.extend_from_slice(&self.flags.to_be_bytes());
        if self.has(flags::H_FILTER) {
            fields.extend_from_slice(&self.filter.to_be_bytes());
        }
        fields.extend_from_slice(&self.mode.to_be_bytes());
        let mtime = self.mtime as u64;
        fields.extend_from_slice(&(mtime as u32).to_be_bytes());
        if full {
            fields.extend_from_slice(&((mtime >> 32) as u32).to_be_bytes());
        }
        let name = self.name.as_bytes();
        let name = &name[..name.len().min(255)];
        fields.push(name.len() as u8);
        fields.extend_from_slice(name);

        let checksum = self.header_checksum(&fields);
        let mut out = Vec::with_capacity(MAGIC.len() + fields.len() + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&fields);
        out.extend_from_slice(&checksum.to_be_bytes());
        out
    }

    /// The header (and extra field) checksum lzop uses for these flags.
    fn header_checksum(&self, covered: &[u8]) -> u32 {
        if self.has(flags::H_CRC32) {
            crc32(CRC32_INIT, covered)
        } else {
            adler32(ADLER32_INIT, covered)
        }
    }

    /// Reads and validates a header (magic included) the way lzop 1.04's `read_header` does, and
    /// skips an extra field after checking its checksum.
    pub(crate) fn read_from<R: Read>(input: &mut TrackedReader<R>) -> Result<Self, LzopError> {
        let mut magic = [0u8; MAGIC.len()];
        input.read_exact(&mut magic, "lzop magic")?;
        if magic != MAGIC {
            return Err(LzopError::BadMagic { offset: 0 });
        }
        let mut fields = CoveredFields {
            input,
            covered: Vec::with_capacity(64),
        };

        let version_offset = fields.offset();
        let version = fields.u16()?;
        if version < OLDEST_VERSION {
            return Err(LzopError::UnsupportedVersion {
                offset: version_offset,
                problem: format!("version {version:#06x} predates lzop 0.90"),
            });
        }
        let lib_version = fields.u16()?;
        let full = version >= FULL_HEADER_VERSION;
        let mut version_needed = OLDEST_VERSION;
        if full {
            let offset = fields.offset();
            version_needed = fields.u16()?;
            if version_needed > LZOP_VERSION {
                return Err(LzopError::UnsupportedVersion {
                    offset,
                    problem: format!("it needs lzop version {version_needed:#06x} to extract"),
                });
            }
            if version_needed < OLDEST_VERSION {
                return Err(LzopError::UnsupportedVersion {
                    offset,
                    problem: format!("invalid version-needed-to-extract {version_needed:#06x}"),
                });
            }
        }
        let method_offset = fields.offset();
        let method = fields.u8()?;
        let level = if full { fields.u8()? } else { 0 };
        let flags_offset = fields.offset();
        let header_flags = fields.u32()?;
        let has = |flag: u32| header_flags & flag != 0;
        let filter_offset = fields.offset();
        let filter = if has(flags::H_FILTER) {
            fields.u32()?
        } else {
            0
        };
        let mut mode = fields.u32()?;
        if has(flags::STDIN) {
            mode = 0;
        }
        let mtime_low = fields.u32()?;
        let mtime_high = if full { fields.u32()? } else { 0 };
        let name_len = fields.u8()?;
        let name_bytes = fields.bytes(usize::from(name_len))?;
        let name = String::from_utf8_lossy(&name_bytes).into_owned();

        let header = Self {
            version,
            lib_version,
            version_needed,
            method,
            level: if level == 0 {
                default_level(method)
            } else {
                level
            },
            flags: header_flags,
            filter,
            mode,
            mtime: old_header_mtime(version, mtime_low, mtime_high),
            name,
        };

        // Checked in lzop's order: checksum first, then method/level, then flags.
        let computed = header.header_checksum(&fields.covered);
        let checksum_offset = fields.offset();
        let stored = fields.input.read_u32("lzop header checksum")?;
        if stored != computed {
            return Err(LzopError::HeaderChecksum {
                offset: checksum_offset,
                stored,
                computed,
            });
        }
        if !matches!(
            method,
            METHOD_LZO1X_1 | METHOD_LZO1X_1_15 | METHOD_LZO1X_999
        ) {
            return Err(LzopError::UnknownMethod {
                offset: method_offset,
                method,
            });
        }
        if !(1..=9).contains(&header.level) {
            return Err(LzopError::UnknownLevel {
                offset: method_offset + 1,
                level: header.level,
            });
        }
        if has(flags::RESERVED) {
            return Err(LzopError::UnknownFlags {
                offset: flags_offset,
                flags: header_flags,
            });
        }
        let inconsistent = (has(flags::ADLER32_C) && !has(flags::ADLER32_D))
            || (has(flags::CRC32_C) && !has(flags::CRC32_D));
        if inconsistent {
            return Err(LzopError::InconsistentFlags {
                offset: flags_offset,
                flags: header_flags,
            });
        }
        if filter > 16 {
            return Err(LzopError::UnknownFilter {
                offset: filter_offset,
                filter,
            });
        }
        if header.has(flags::H_EXTRA_FIELD) {
            header.skip_extra_field(input)?;
        }
        Ok(header)
    }

    /// Skips the extra field (u32 length, bytes, u32 checksum over length and bytes), verifying it.
    fn skip_extra_field<R: Read>(&self, input: &mut TrackedReader<R>) -> Result<(), LzopError> {
        let use_crc = self.has(flags::H_CRC32);
        let mut state = if use_crc { CRC32_INIT } else { ADLER32_INIT };
        let update = |state: u32, data: &[u8]| {
            if use_crc {
                crc32(state, data)
            } else {
                adler32(state, data)
            }
        };
        let mut length_bytes = [0u8; 4];
        input.read_exact(&mut length_bytes, "lzop header extra field")?;
        state = update(state, &length_bytes);
        let mut remaining = u64::from(u32::from_be_bytes(length_bytes));
        let mut chunk = [0u8; 4096];
        while remaining > 0 {
            let n = remaining.min(chunk.len() as u64) as usize;
            input.read_exact(&mut chunk[..n], "lzop header extra field")?;
            state = update(state, &chunk[..n]);
            remaining -= n as u64;
        }
        let offset = input.offset();
        let stored = input.read_u32("lzop header extra field checksum")?;
        if stored != state {
            return Err(LzopError::ExtraFieldChecksum {
                offset,
                stored,
                computed: state,
            });
        }
        Ok(())
    }
}

/// lzop's implied level for headers that do not store one.
fn default_level(method: u8) -> u8 {
    match method {
        METHOD_LZO1X_1 => 3,
        METHOD_LZO1X_1_15 => 1,
        METHOD_LZO1X_999 => 9,
        _ => 0,
    }
}

/// lzop before 0.12 wrote -1 for "no time", and only 0.94+ stores the high half.
fn old_header_mtime(version: u16, low: u32, high: u32) -> i64 {
    if version < 0x0120 {
        return if low == u32::MAX { 0 } else { i64::from(low) };
    }
    ((u64::from(high) << 32) | u64::from(low)) as i64
}

/// At most 255 bytes of `name`, cut at a character boundary.
fn truncate_name(name: &str) -> String {
    let mut end = name.len().min(255);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// Header fields read while remembering their bytes, which the header checksum covers.
struct CoveredFields<'a, R> {
    input: &'a mut TrackedReader<R>,
    covered: Vec<u8>,
}

impl<R: Read> CoveredFields<'_, R> {
    fn offset(&self) -> u64 {
        self.input.offset()
    }

    fn bytes(&mut self, len: usize) -> Result<Vec<u8>, LzopError> {
        let mut buf = vec![0u8; len];
        self.input.read_exact(&mut buf, "lzop header")?;
        self.covered.extend_from_slice(&buf);
        Ok(buf)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], LzopError> {
        let mut buf = [0u8; N];
        self.input.read_exact(&mut buf, "lzop header")?;
        self.covered.extend_from_slice(&buf);
        Ok(buf)
    }

    fn u8(&mut self) -> Result<u8, LzopError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, LzopError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, LzopError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
}
