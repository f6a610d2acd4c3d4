//! The reader's buffer: refilling it from the source within the decompressed ceiling, and
//! reading it byte by byte where records are not being framed.

use super::{CHUNK, LogReader, ReadError, map_io};
use std::io::{self, Read};

impl<R: Read> LogReader<R> {
    pub(super) fn skip_ws(&mut self) -> Result<(), ReadError> {
        loop {
            while self.pos < self.end {
                match self.buf[self.pos] {
                    b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                    _ => return Ok(()),
                }
            }
            if self.refill_at_pos()? == 0 {
                return Ok(());
            }
        }
    }

    pub(super) fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        if self.pos >= self.end && self.refill_at_pos()? == 0 {
            self.no_more_bytes()?;
            return Ok(None);
        }
        Ok(Some(self.buf[self.pos]))
    }

    /// At the end of the bytes read: an error if the input went on past the ceiling.
    pub(super) fn no_more_bytes(&self) -> Result<(), ReadError> {
        if self.past_ceiling {
            return Err(ReadError::TooLarge {
                limit: self.cfg.max_decompressed_bytes,
            });
        }
        Ok(())
    }

    pub(super) fn peek_required(&mut self, context: &str) -> Result<u8, ReadError> {
        self.peek()?
            .ok_or_else(|| ReadError::Corrupt(format!("truncated JSON in {context}")))
    }

    /// Makes at least `n` bytes available from `pos` unless the input ends first.
    pub(super) fn ensure(&mut self, n: usize) -> Result<(), ReadError> {
        while self.end - self.pos < n {
            if self.refill_at_pos()? == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Refills keeping bytes from `pos`; returns how many new bytes arrived.
    pub(super) fn refill_at_pos(&mut self) -> Result<usize, ReadError> {
        let before = self.end - self.pos;
        let shift = self.refill(self.pos)?;
        self.pos -= shift;
        Ok(self.end - self.pos - before)
    }

    /// Moves `buf[keep_from..end]` to the front, reads more, and returns the shift applied
    /// to indices. Grows the buffer only when the kept bytes fill it.
    pub(super) fn refill(&mut self, keep_from: usize) -> Result<usize, ReadError> {
        if self.eof {
            return Ok(0);
        }
        let shift = keep_from;
        if shift > 0 {
            self.buf.copy_within(keep_from..self.end, 0);
            self.end -= shift;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(self.cfg.max_record_bytes + 2 * CHUNK);
            if grown <= self.buf.len() {
                return Err(ReadError::Corrupt("record framing overflow".into()));
            }
            self.buf.resize(grown, 0);
        }
        // Ask for at most one byte past the ceiling, so a bomb is never inflated further than
        // that and the stats report what was accepted.
        let budget = self
            .cfg
            .max_decompressed_bytes
            .saturating_sub(self.stats.decompressed_bytes)
            .saturating_add(1);
        let want = (self.buf.len() - self.end).min(usize::try_from(budget).unwrap_or(usize::MAX));
        loop {
            match self.src.read(&mut self.buf[self.end..self.end + want]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    // Bytes past the ceiling are dropped and the input ends there: what is
                    // read before it never depends on how the input was chunked, and the
                    // error is raised where a byte past it is needed (`past_ceiling`).
                    let room = self.cfg.max_decompressed_bytes - self.stats.decompressed_bytes;
                    let n = if n as u64 > room {
                        self.eof = true;
                        self.past_ceiling = true;
                        room as usize
                    } else {
                        n
                    };
                    self.end += n;
                    self.stats.decompressed_bytes += n as u64;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(map_io(e)),
            }
        }
        Ok(shift)
    }
}
