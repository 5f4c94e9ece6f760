//! A reader wrapper that knows its offset in the compressed stream, so every error can say where it
//! happened, and that turns an early end of data into [`LzopError::Truncated`].

use std::io::{self, Read};

use super::LzopError;

/// The compressed stream being decoded, with the count of bytes consumed so far.
pub(crate) struct TrackedReader<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> TrackedReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self { inner, offset: 0 }
    }

    /// Bytes consumed from the stream so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    /// Fills `buf` completely; `part` names what is being read for the truncation message.
    pub(crate) fn read_exact(
        &mut self,
        buf: &mut [u8],
        part: &'static str,
    ) -> Result<(), LzopError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Err(LzopError::Truncated {
                        offset: self.offset,
                        part,
                    })
                }
                Ok(n) => {
                    filled += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(LzopError::Io {
                        offset: self.offset,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Reads a big-endian u32.
    pub(crate) fn read_u32(&mut self, part: &'static str) -> Result<u32, LzopError> {
        let mut bytes = [0u8; 4];
        self.read_exact(&mut bytes, part)?;
        Ok(u32::from_be_bytes(bytes))
    }

    /// Whether the stream has ended; consumes (and counts) one byte if it has not.
    pub(crate) fn at_end(&mut self) -> Result<bool, LzopError> {
        let mut probe = [0u8; 1];
        loop {
            match self.inner.read(&mut probe) {
                Ok(0) => return Ok(true),
                Ok(_) => {
                    self.offset += 1;
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(LzopError::Io {
                        offset: self.offset,
                        source,
                    })
                }
            }
        }
    }
}
