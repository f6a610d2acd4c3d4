//! Two threads for one log object: one inflates gzip, the caller frames, skims and parses.
//!
//! The inflating thread fills 256 KiB chunks and hands them over a bounded channel (at most
//! [`CHUNKS_IN_FLIGHT`] waiting), and gets the emptied ones back, so memory stays bounded
//! (about 1.5 MiB more than one thread) however large the object is. The verdict on any input
//! is the one [`LogReader::open`] gives: the same errors, limits and counters, because the
//! reader on the calling thread is the same code reading the same bytes; only where they are
//! decompressed changes. Plain (not gzip) input is read on the calling thread as usual.
//!
//! The detector library does no I/O of its own: this spawns a scoped thread, nothing else,
//! and joins it before returning.

use super::{CHUNK, LogReader, ReadError, ReaderConfig, Rejoined, sniff_gzip};
use flate2::bufread::MultiGzDecoder;
use std::io::{self, BufReader, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Decompressed chunks waiting for the reader at most.
pub const CHUNKS_IN_FLIGHT: usize = 4;

/// A reader over a log object being decompressed on another thread, or read directly when
/// it is not gzip.
pub enum Staged<R> {
    /// Gzip, inflated by the background thread.
    Inflated(Inflated),
    /// Plain JSON, read here.
    Plain(Rejoined<R>),
}

impl<R: Read> Read for Staged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Staged::Inflated(r) => r.read(buf),
            Staged::Plain(r) => r.read(buf),
        }
    }
}

/// Opens `input` with its gzip inflated on a second thread and calls `scan` with the reader;
/// returns what `scan` returns once the thread has stopped. `scan` gets the same result
/// [`LogReader::open`] would give for `input`.
pub fn with_inflate_thread<R, T>(
    input: R,
    cfg: ReaderConfig,
    scan: impl FnOnce(Result<LogReader<Staged<R>>, ReadError>) -> T,
) -> T
where
    R: Read + Send,
{
    let (is_gzip, rejoined) = match sniff_gzip(input) {
        Ok(sniffed) => sniffed,
        Err(error) => return scan(Err(error)),
    };
    if !is_gzip {
        return scan(LogReader::open_decompressed(Staged::Plain(rejoined), cfg));
    }
    std::thread::scope(|scope| {
        let (chunks_tx, chunks_rx) = sync_channel(CHUNKS_IN_FLIGHT);
        let (empty_tx, empty_rx) = sync_channel(CHUNKS_IN_FLIGHT + 2);
        let decoder = MultiGzDecoder::new(BufReader::with_capacity(64 << 10, rejoined));
        scope.spawn(move || inflate(decoder, chunks_tx, empty_rx));
        let staged = Staged::Inflated(Inflated {
            chunks: chunks_rx,
            empties: empty_tx,
            current: Vec::new(),
            at: 0,
        });
        // `scan` owns the reader and drops it when it returns, which closes the channel and
        // stops the inflating thread if the reader gave up early (an error, a limit).
        scan(LogReader::open_decompressed(staged, cfg))
    })
}

/// The background thread: inflates into recycled chunks until the end, an error, or the
/// reader hanging up.
fn inflate(
    mut decoder: impl Read,
    chunks: SyncSender<io::Result<Vec<u8>>>,
    empties: Receiver<Vec<u8>>,
) {
    loop {
        let mut chunk = empties.try_recv().unwrap_or_default();
        chunk.resize(CHUNK, 0);
        let mut filled = 0;
        let outcome = loop {
            match decoder.read(&mut chunk[filled..]) {
                Ok(0) => break Ok(true),
                Ok(n) => {
                    filled += n;
                    if filled == chunk.len() {
                        break Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        chunk.truncate(filled);
        if filled > 0 && chunks.send(Ok(chunk)).is_err() {
            return;
        }
        match outcome {
            Ok(false) => {}
            Ok(true) => return,
            Err(e) => {
                let _ = chunks.send(Err(e));
                return;
            }
        }
    }
}

/// The reading end of the background inflation.
pub struct Inflated {
    chunks: Receiver<io::Result<Vec<u8>>>,
    empties: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
}

impl Read for Inflated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.current.len() {
            let next = match self.chunks.recv() {
                Ok(next) => next?,
                // The thread finished: the end of the data.
                Err(_) => return Ok(0),
            };
            let done = std::mem::replace(&mut self.current, next);
            let _ = self.empties.try_send(done);
            self.at = 0;
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
