//! The CloudTrail log reader: gzip (single- or multi-member) or plain JSON in, one record's
//! bytes at a time out, in memory that does not grow with the file.
//!
//! It frames `{"Records":[...]}` itself instead of deserializing the whole document: it finds
//! each element of the `Records` array by tracking string and bracket state, keeps only the
//! current element in its buffer, and hands out a byte slice that the caller parses into a
//! borrowed [`Record`](crate::detector::record::Record). This keeps memory at about one record
//! plus one read chunk however large the file is.
//!
//! Files: `framing` finds where each record ends, 64 bytes at a time with `blocks`, and notes
//! the record's landmarks for the skim; `document` reads the structure around the records;
//! `buffer` refills within the decompressed ceiling; `pipeline` inflates gzip on a second
//! thread. The ceiling cuts the input at the same byte however it arrives in pieces, so what is
//! read before a `TooLarge` error never depends on read sizes or threads.
//!
//! What counts as what:
//! - object-level errors ([`ReadError`]): empty input, not a CloudTrail log (no `Records`, not an
//!   object, `Records` not an array), corrupt gzip or truncated JSON, decompressed size over the
//!   ceiling (a gzip bomb), I/O failure. Records already handed out stay valid.
//! - skipped elements (counted, reading goes on): an element of `Records` that is not a JSON
//!   object, or one larger than `max_record_bytes`. Elements that frame but do not parse are the
//!   caller's to count.
//! - digest files (`digestStartTime` and no `Records`) are [`LogKind::Digest`]: no records, no error.

mod blocks;
mod buffer;
mod document;
mod framing;
pub mod pipeline;

use crate::detector::skim::{FieldRead, Landmarks, Skim, Wanted, skim_framed, skim_reading};
use flate2::bufread::MultiGzDecoder;
use std::io::{self, BufReader, Read};

/// Limits that protect the reader from hostile input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderConfig {
    /// Ceiling on decompressed bytes for one log object.
    pub max_decompressed_bytes: u64,
    /// Records larger than this are skipped (CloudTrail's own limit is far smaller).
    pub max_record_bytes: usize,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            max_decompressed_bytes: 2 << 30,
            max_record_bytes: 16 << 20,
        }
    }
}

/// Why a log object could not be read (whole or in part).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The object holds no bytes at all.
    #[error("empty log object")]
    Empty,
    /// The bytes are not a CloudTrail log or digest file; says what was found instead.
    #[error("not a CloudTrail log: {0}")]
    NotCloudTrail(String),
    /// The compression or the JSON is broken (truncated, invalid data); says where or how.
    #[error("corrupt log object: {0}")]
    Corrupt(String),
    /// The object decompresses to more than `max_decompressed_bytes`.
    #[error("decompressed size exceeds the ceiling of {limit} bytes")]
    TooLarge {
        /// The ceiling that was passed, in bytes.
        limit: u64,
    },
    /// Reading the underlying input failed; the only error worth a retry.
    #[error("I/O error reading log object: {0}")]
    Io(#[source] io::Error),
}

impl ReadError {
    /// True when retrying the same bytes cannot succeed (as opposed to an I/O failure).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, ReadError::Io(_))
    }
}

fn map_io(e: io::Error) -> ReadError {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
            ReadError::Corrupt(e.to_string())
        }
        _ => ReadError::Io(e),
    }
}

/// What kind of CloudTrail object this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// A log file with a `Records` array.
    Records,
    /// A digest file: nothing to detect on.
    Digest,
}

/// Counters kept while reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Elements of `Records` seen, including skipped ones.
    pub elements: u64,
    /// Elements skipped by the reader (not an object, or over `max_record_bytes`).
    pub skipped_elements: u64,
    /// Bytes of decompressed input read so far (held under `max_decompressed_bytes`).
    pub decompressed_bytes: u64,
}

/// One element of `Records`: its bytes and position.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// The element's raw JSON bytes, as they appear in the log object.
    pub bytes: &'a [u8],
    /// Its position in `Records`, from 0, counting skipped elements.
    pub index: u64,
    /// Where its strings and nested values are, found while framing it (for the skim).
    pub landmarks: &'a Landmarks,
}

impl<'a> RawRecord<'a> {
    /// The record's `eventSource`, `eventName` and caller type if certain, using what
    /// framing found; always the same answer as [`skim`](crate::detector::skim::skim).
    pub fn skim(&self) -> Skim<'a> {
        skim_framed(self.bytes, self.landmarks)
    }

    /// Like [`RawRecord::skim`], also reading the `wanted` fields into `reads` (see
    /// [`skim_reading`]).
    pub fn skim_reading(&self, wanted: &Wanted, reads: &mut [FieldRead]) -> Skim<'a> {
        skim_reading(self.bytes, self.landmarks, wanted, reads)
    }
}

/// The input with its first bytes (read to look for the gzip magic) put back in front.
pub type Rejoined<R> = io::Chain<io::Take<io::Cursor<[u8; 2]>>, R>;

enum Source<R: Read> {
    Plain(BufReader<Rejoined<R>>),
    Gzip(Box<MultiGzDecoder<BufReader<Rejoined<R>>>>),
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(r) => r.read(buf),
            Source::Gzip(r) => r.read(buf),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FirstElement,
    NextElement,
    Done,
}

const CHUNK: usize = 256 << 10;

/// Streams the records of one CloudTrail log object.
pub struct LogReader<R: Read> {
    src: Source<R>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// The input went on past `max_decompressed_bytes` (`eof` is set at the ceiling).
    past_ceiling: bool,
    cfg: ReaderConfig,
    kind: LogKind,
    state: State,
    stats: ReaderStats,
    /// The current record's landmarks (see [`RawRecord::landmarks`]).
    landmarks: Landmarks,
}

/// Reads the first two bytes to tell gzip from plain text, and puts them back in front.
/// A stream may hand them out one at a time (a network body can), so it reads until there are
/// two or the input ends.
fn sniff_gzip<R: Read>(mut input: R) -> Result<(bool, Rejoined<R>), ReadError> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        match input.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(map_io(e)),
        }
    }
    if got == 0 {
        return Err(ReadError::Empty);
    }
    let is_gzip = got == 2 && magic == [0x1f, 0x8b];
    Ok((
        is_gzip,
        io::Cursor::new(magic).take(got as u64).chain(input),
    ))
}

impl<R: Read> LogReader<R> {
    /// Opens a log: detects gzip by its magic bytes and reads up to the start of `Records`.
    pub fn open(input: R, cfg: ReaderConfig) -> Result<Self, ReadError> {
        let (is_gzip, rejoined) = sniff_gzip(input)?;
        let input = BufReader::with_capacity(64 << 10, rejoined);
        let src = if is_gzip {
            Source::Gzip(Box::new(MultiGzDecoder::new(input)))
        } else {
            Source::Plain(input)
        };
        Self::start(src, cfg)
    }

    /// Opens bytes already decompressed (by [`pipeline`]): no gzip detection, so the
    /// verdict on any input is the one [`open`](Self::open) gives for its gzip form.
    fn open_decompressed(input: R, cfg: ReaderConfig) -> Result<Self, ReadError> {
        let rejoined = io::Cursor::new([0u8; 2]).take(0).chain(input);
        Self::start(Source::Plain(BufReader::with_capacity(0, rejoined)), cfg)
    }

    fn start(src: Source<R>, cfg: ReaderConfig) -> Result<Self, ReadError> {
        let mut reader = LogReader {
            src,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            eof: false,
            past_ceiling: false,
            cfg,
            kind: LogKind::Records,
            state: State::Done,
            stats: ReaderStats::default(),
            landmarks: Landmarks::default(),
        };
        reader.read_header()?;
        Ok(reader)
    }

    /// Whether this is a log or a digest.
    pub fn kind(&self) -> LogKind {
        self.kind
    }

    /// Counters so far.
    pub fn stats(&self) -> ReaderStats {
        self.stats
    }

    /// The next record's bytes, `None` at the end of `Records`.
    pub fn next_record(&mut self) -> Result<Option<RawRecord<'_>>, ReadError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::FirstElement => {
                    self.skip_ws()?;
                    if self.peek_required("Records array")? == b']' {
                        self.pos += 1;
                        self.finish_document()?;
                        continue;
                    }
                }
                State::NextElement => {
                    self.skip_ws()?;
                    match self.peek_required("Records array")? {
                        b',' => {
                            self.pos += 1;
                            self.skip_ws()?;
                        }
                        b']' => {
                            self.pos += 1;
                            self.finish_document()?;
                            continue;
                        }
                        other => {
                            return Err(ReadError::Corrupt(format!(
                                "expected ',' or ']' between records, found {:?}",
                                other as char
                            )));
                        }
                    }
                }
            }
            self.state = State::NextElement;
            let index = self.stats.elements;
            self.stats.elements += 1;
            if self.peek_required("record")? != b'{' {
                self.skip_value()?;
                self.stats.skipped_elements += 1;
                continue;
            }
            match self.frame_object()? {
                Some((start, end)) => {
                    return Ok(Some(RawRecord {
                        bytes: &self.buf[start..end],
                        index,
                        landmarks: &self.landmarks,
                    }));
                }
                None => self.stats.skipped_elements += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests;
