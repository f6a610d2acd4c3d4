//! The CloudTrail log reader: gzip (single- or multi-member) or plain JSON in, one record's
//! bytes at a time out, in memory that does not grow with the file.
//!
//! It frames `{"Records":[...]}` itself instead of deserializing the whole document: it finds
//! each element of the `Records` array by tracking string and bracket state, keeps only the
//! current element in its buffer, and hands out a byte slice that the caller parses into a
//! borrowed [`Record`](crate::detector::record::Record). This keeps memory at about one record
//! plus one read chunk however large the file is.
//!
//! What counts as what:
//! - object-level errors ([`ReadError`]): empty input, not a CloudTrail log (no `Records`, not an
//!   object, `Records` not an array), corrupt gzip or truncated JSON, decompressed size over the
//!   ceiling (a gzip bomb), I/O failure. Records already handed out stay valid.
//! - skipped elements (counted, reading goes on): an element of `Records` that is not a JSON
//!   object, or one larger than `max_record_bytes`. Elements that frame but do not parse are the
//!   caller's to count.
//! - digest files (`digestStartTime` and no `Records`) are [`LogKind::Digest`]: no records, no error.

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
    #[error("empty log object")]
    Empty,
    #[error("not a CloudTrail log: {0}")]
    NotCloudTrail(String),
    #[error("corrupt log object: {0}")]
    Corrupt(String),
    #[error("decompressed size exceeds the ceiling of {limit} bytes")]
    TooLarge { limit: u64 },
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
    pub decompressed_bytes: u64,
}

/// One element of `Records`: its bytes and position.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub bytes: &'a [u8],
    pub index: u64,
}

/// The input with its first bytes (read to look for the gzip magic) put back in front.
type Rejoined<R> = io::Chain<io::Take<io::Cursor<[u8; 2]>>, R>;

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
const MAX_TOP_LEVEL_KEY: usize = 1024;

/// Streams the records of one CloudTrail log object.
pub struct LogReader<R: Read> {
    src: Source<R>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    cfg: ReaderConfig,
    kind: LogKind,
    state: State,
    stats: ReaderStats,
}

impl<R: Read> LogReader<R> {
    /// Opens a log: detects gzip by its magic bytes and reads up to the start of `Records`.
    pub fn open(input: R, cfg: ReaderConfig) -> Result<Self, ReadError> {
        // Two bytes decide gzip or not. A stream may hand them out one at a time (a network
        // body can), so read until there are two or the input ends.
        let mut input = input;
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
        let rejoined = io::Cursor::new(magic).take(got as u64).chain(input);
        let input = BufReader::with_capacity(64 << 10, rejoined);
        let src = if is_gzip {
            Source::Gzip(Box::new(MultiGzDecoder::new(input)))
        } else {
            Source::Plain(input)
        };
        let mut reader = LogReader {
            src,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            eof: false,
            cfg,
            kind: LogKind::Records,
            state: State::Done,
            stats: ReaderStats::default(),
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
            let is_object = self.peek_required("record")? == b'{';
            match self.scan_value(is_object)? {
                Some((start, end)) if is_object => {
                    return Ok(Some(RawRecord {
                        bytes: &self.buf[start..end],
                        index,
                    }));
                }
                _ => self.stats.skipped_elements += 1,
            }
        }
    }

    fn read_header(&mut self) -> Result<(), ReadError> {
        // A UTF-8 byte-order mark is tolerated.
        self.ensure(3)?;
        if self.buf[self.pos..self.end].starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.pos += 3;
        }
        self.skip_ws()?;
        match self.peek()? {
            Some(b'{') => self.pos += 1,
            Some(_) => {
                return Err(ReadError::NotCloudTrail(
                    "the document is not a JSON object".into(),
                ));
            }
            None => return Err(ReadError::NotCloudTrail("the document is blank".into())),
        }
        let mut digest = false;
        let mut first = true;
        loop {
            self.skip_ws()?;
            match self.peek_required("top-level object")? {
                b'}' => {
                    self.pos += 1;
                    if digest {
                        self.kind = LogKind::Digest;
                        self.state = State::Done;
                        return Ok(());
                    }
                    return Err(ReadError::NotCloudTrail("no Records array".into()));
                }
                b',' if !first => {
                    self.pos += 1;
                    self.skip_ws()?;
                }
                _ if first => {}
                other => {
                    return Err(ReadError::NotCloudTrail(format!(
                        "malformed top-level object near {:?}",
                        other as char
                    )));
                }
            }
            first = false;
            let key = self.read_key()?;
            self.skip_ws()?;
            if self.peek_required("top-level object")? != b':' {
                return Err(ReadError::NotCloudTrail(
                    "malformed top-level object".into(),
                ));
            }
            self.pos += 1;
            self.skip_ws()?;
            if key == b"Records" {
                if self.peek_required("Records")? != b'[' {
                    return Err(ReadError::NotCloudTrail("Records is not an array".into()));
                }
                self.pos += 1;
                self.state = State::FirstElement;
                return Ok(());
            }
            if key.starts_with(b"digest") {
                digest = true;
            }
            self.scan_value(false)?;
        }
    }

    /// Reads what follows a `Records` array: other keys are skipped, but a second `Records`
    /// array is read too (a JSON parser would keep only one of the two and drop the other's
    /// records without a word). At the end of the document, another document may follow (two
    /// logs concatenated, such as `cat a.json.gz b.json.gz`): its records are read as well.
    /// The state is left at the next element to read, or `Done`.
    fn finish_document(&mut self) -> Result<(), ReadError> {
        self.state = State::Done;
        loop {
            self.skip_ws()?;
            match self.peek_required("top-level object")? {
                b'}' => {
                    self.pos += 1;
                    return self.next_document();
                }
                b',' => {
                    self.pos += 1;
                    self.skip_ws()?;
                    let key = self.read_key()?;
                    self.skip_ws()?;
                    if self.peek_required("top-level object")? != b':' {
                        return Err(ReadError::Corrupt("malformed top-level object".into()));
                    }
                    self.pos += 1;
                    self.skip_ws()?;
                    if key == b"Records" {
                        if self.peek_required("Records")? != b'[' {
                            return Err(ReadError::Corrupt(
                                "a second Records key that is not an array".into(),
                            ));
                        }
                        self.pos += 1;
                        self.state = State::FirstElement;
                        return Ok(());
                    }
                    self.scan_value(false)?;
                }
                other => {
                    return Err(ReadError::Corrupt(format!(
                        "unexpected {:?} after Records",
                        other as char
                    )));
                }
            }
        }
    }

    /// After a document's closing brace: the end of input, or another whole document.
    fn next_document(&mut self) -> Result<(), ReadError> {
        self.skip_ws()?;
        match self.peek()? {
            None => Ok(()),
            Some(b'{') => match self.read_header() {
                Ok(()) if self.kind == LogKind::Digest => Err(ReadError::Corrupt(
                    "a digest document after the log document".into(),
                )),
                Ok(()) => Ok(()),
                Err(ReadError::NotCloudTrail(why)) => Err(ReadError::Corrupt(format!(
                    "a second document that is not a CloudTrail log: {why}"
                ))),
                Err(e) => Err(e),
            },
            Some(other) => Err(ReadError::Corrupt(format!(
                "unexpected {:?} after the log document",
                other as char
            ))),
        }
    }

    fn read_key(&mut self) -> Result<Vec<u8>, ReadError> {
        if self.peek_required("object key")? != b'"' {
            return Err(ReadError::NotCloudTrail("expected an object key".into()));
        }
        self.pos += 1;
        let mut key = Vec::new();
        loop {
            let b = self.peek_required("object key")?;
            self.pos += 1;
            match b {
                b'"' => return Ok(key),
                b'\\' => {
                    key.push(b);
                    key.push(self.peek_required("object key")?);
                    self.pos += 1;
                }
                _ => key.push(b),
            }
            if key.len() > MAX_TOP_LEVEL_KEY {
                return Err(ReadError::NotCloudTrail("top-level key too long".into()));
            }
        }
    }

    /// Scans one JSON value starting at `pos`. With `keep`, returns its byte range in `buf`, or
    /// `None` when it outgrew `max_record_bytes` (it is then consumed and dropped).
    fn scan_value(&mut self, keep: bool) -> Result<Option<(usize, usize)>, ReadError> {
        let mut origin = self.pos;
        let mut i = self.pos;
        let first = self.buf[i];
        let container = first == b'{' || first == b'[';
        let bare_scalar = !container && first != b'"';
        let mut discard = !keep;
        let mut depth: u64 = 0;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            if i >= self.end {
                if !discard && i - origin > self.cfg.max_record_bytes {
                    discard = true;
                }
                let keep_from = if discard { i } else { origin };
                let shift = self.refill(keep_from)?;
                i -= shift;
                origin = origin.saturating_sub(shift);
                if i >= self.end {
                    if bare_scalar {
                        // A scalar can end at end of input; the caller reports what follows.
                        self.pos = i;
                        return Ok(None);
                    }
                    return Err(ReadError::Corrupt("truncated JSON".into()));
                }
                continue;
            }
            if escaped {
                escaped = false;
                i += 1;
                continue;
            }
            if in_string {
                match memchr::memchr2(b'"', b'\\', &self.buf[i..self.end]) {
                    None => i = self.end,
                    Some(offset) => {
                        let at = i + offset;
                        i = at + 1;
                        if self.buf[at] == b'\\' {
                            escaped = true;
                        } else {
                            in_string = false;
                            if !container && !bare_scalar {
                                break;
                            }
                        }
                    }
                }
                continue;
            }
            let b = self.buf[i];
            if bare_scalar {
                if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    self.pos = i;
                    return Ok(None);
                }
                i += 1;
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i;
        // The size check also applies when the whole value arrived in one read, so the
        // verdict never depends on how the input was chunked.
        if discard || !keep || i - origin > self.cfg.max_record_bytes {
            return Ok(None);
        }
        Ok(Some((origin, i)))
    }

    fn skip_ws(&mut self) -> Result<(), ReadError> {
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

    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        if self.pos >= self.end && self.refill_at_pos()? == 0 {
            return Ok(None);
        }
        Ok(Some(self.buf[self.pos]))
    }

    fn peek_required(&mut self, context: &str) -> Result<u8, ReadError> {
        self.peek()?
            .ok_or_else(|| ReadError::Corrupt(format!("truncated JSON in {context}")))
    }

    /// Makes at least `n` bytes available from `pos` unless the input ends first.
    fn ensure(&mut self, n: usize) -> Result<(), ReadError> {
        while self.end - self.pos < n {
            if self.refill_at_pos()? == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Refills keeping bytes from `pos`; returns how many new bytes arrived.
    fn refill_at_pos(&mut self) -> Result<usize, ReadError> {
        let before = self.end - self.pos;
        let shift = self.refill(self.pos)?;
        self.pos -= shift;
        Ok(self.end - self.pos - before)
    }

    /// Moves `buf[keep_from..end]` to the front, reads more, and returns the shift applied
    /// to indices. Grows the buffer only when the kept bytes fill it.
    fn refill(&mut self, keep_from: usize) -> Result<usize, ReadError> {
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
                    if self.stats.decompressed_bytes + n as u64 > self.cfg.max_decompressed_bytes {
                        self.stats.decompressed_bytes = self.cfg.max_decompressed_bytes;
                        return Err(ReadError::TooLarge {
                            limit: self.cfg.max_decompressed_bytes,
                        });
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn collect(input: &[u8], cfg: ReaderConfig) -> Result<(Vec<String>, ReaderStats), ReadError> {
        let mut reader = LogReader::open(input, cfg)?;
        let mut out = Vec::new();
        while let Some(rec) = reader.next_record()? {
            out.push(String::from_utf8_lossy(rec.bytes).into_owned());
        }
        Ok((out, reader.stats()))
    }

    fn records(input: &[u8]) -> Vec<String> {
        collect(input, ReaderConfig::default()).unwrap().0
    }

    const LOG: &[u8] =
        br#"{"Records":[{"eventName":"A","x":"}]\"{"},{"eventName":"B","n":[1,{"y":[]}]}]}"#;

    #[test]
    fn frames_records_from_plain_json() {
        assert_eq!(
            records(LOG),
            vec![
                r#"{"eventName":"A","x":"}]\"{"}"#,
                r#"{"eventName":"B","n":[1,{"y":[]}]}"#
            ]
        );
    }

    /// CLI item of issue 8: `cat a.json.gz b.json.gz` is a valid two-member gzip holding two
    /// documents; the second one's records were dropped without a word.
    #[test]
    fn concatenated_documents_are_all_read() {
        let second = br#"{"Records":[{"eventName":"C"}]}"#;
        let mut two = gzip(LOG);
        two.extend(gzip(second));
        let mut expected = records(LOG);
        expected.push(r#"{"eventName":"C"}"#.into());
        assert_eq!(records(&two), expected);
        let mut plain = LOG.to_vec();
        plain.extend(b"\n");
        plain.extend(second);
        assert_eq!(records(&plain), expected);
        // What follows a document must be another log, or the file is an error.
        for tail in [&b"{\"x\":1}"[..], b"garbage", b"{\"Records\":[{\"a\":1}"] {
            let mut bad = LOG.to_vec();
            bad.extend(tail);
            let result = collect(&bad, ReaderConfig::default());
            assert!(
                matches!(result, Err(ReadError::Corrupt(_))),
                "{tail:?}: {result:?}"
            );
        }
        // A digest after a log is not a log.
        let mut digest = LOG.to_vec();
        digest.extend(br#"{"digestStartTime":"x"}"#);
        assert!(collect(&digest, ReaderConfig::default()).is_err());
    }

    /// CLI item of issue 8: a second `Records` key was skipped with its records.
    #[test]
    fn a_second_records_key_is_read_too() {
        assert_eq!(
            records(br#"{"Records":[{"a":1}],"other":2,"Records":[{"b":2}]}"#),
            vec![r#"{"a":1}"#, r#"{"b":2}"#]
        );
        assert!(
            collect(
                br#"{"Records":[{"a":1}],"Records":3}"#,
                ReaderConfig::default()
            )
            .is_err()
        );
    }

    #[test]
    fn frames_records_from_gzip_and_multi_member_gzip() {
        assert_eq!(records(&gzip(LOG)), records(LOG));
        let mut multi = gzip(&LOG[..20]);
        multi.extend(gzip(&LOG[20..]));
        assert_eq!(records(&multi), records(LOG));
    }

    /// Hands out at most one byte per read, as a slow network body may.
    struct OneByteAtATime<'a>(&'a [u8]);

    impl Read for OneByteAtATime<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn gzip_is_detected_when_the_stream_hands_out_one_byte_at_a_time() {
        // Found by the `reader` fuzz target: the magic used to be judged on the first read.
        for input in [gzip(LOG), LOG.to_vec()] {
            let mut reader =
                LogReader::open(OneByteAtATime(&input), ReaderConfig::default()).unwrap();
            let mut got = Vec::new();
            while let Some(raw) = reader.next_record().unwrap() {
                got.push(String::from_utf8(raw.bytes.to_vec()).unwrap());
            }
            assert_eq!(got, records(LOG));
        }
        assert!(matches!(
            LogReader::open(OneByteAtATime(&[0x1f]), ReaderConfig::default()),
            Err(ReadError::NotCloudTrail(_))
        ));
    }

    #[test]
    fn tolerates_bom_whitespace_and_other_keys() {
        let mut input = vec![0xEF, 0xBB, 0xBF];
        input.extend_from_slice(
            b" \n{ \"meta\" : {\"a\":[1,2]}, \"Records\" : [ {\"a\":1} , {\"b\":2} ] , \"after\": \"x\" }\n",
        );
        assert_eq!(records(&input), vec![r#"{"a":1}"#, r#"{"b":2}"#]);
    }

    #[test]
    fn empty_records_array() {
        assert!(records(br#"{"Records":[]}"#).is_empty());
    }

    #[test]
    fn non_object_elements_are_skipped_and_counted() {
        let (recs, stats) = collect(
            br#"{"Records":[1,"s",{"a":1},null,[{"b":2}],true,{"c":3}]}"#,
            ReaderConfig::default(),
        )
        .unwrap();
        assert_eq!(recs, vec![r#"{"a":1}"#, r#"{"c":3}"#]);
        assert_eq!(stats.elements, 7);
        assert_eq!(stats.skipped_elements, 5);
    }

    #[test]
    fn oversized_records_are_skipped_and_reading_goes_on() {
        let big = format!(r#"{{"big":"{}"}}"#, "x".repeat(3 * CHUNK));
        let input = format!(r#"{{"Records":[{{"a":1}},{big},{{"b":2}}]}}"#);
        let cfg = ReaderConfig {
            max_record_bytes: CHUNK,
            ..ReaderConfig::default()
        };
        let (recs, stats) = collect(input.as_bytes(), cfg).unwrap();
        assert_eq!(recs, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(stats.skipped_elements, 1);
        // The default limit keeps it.
        assert_eq!(records(input.as_bytes()).len(), 3);
    }

    #[test]
    fn the_record_limit_holds_when_the_record_arrives_in_one_read() {
        // Found by the `reader` fuzz target: the limit used to be checked only on refills.
        let input =
            br#"{"Records":[{"a":1},{"big":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},{"b":2}]}"#;
        let cfg = ReaderConfig {
            max_record_bytes: 16,
            ..ReaderConfig::default()
        };
        let (recs, stats) = collect(input, cfg).unwrap();
        assert_eq!(recs, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(stats.skipped_elements, 1);
    }

    #[test]
    fn records_spanning_many_chunks_are_reassembled() {
        let mut input = String::from(r#"{"Records":["#);
        for i in 0..5000 {
            if i > 0 {
                input.push(',');
            }
            input.push_str(&format!(
                r#"{{"i":{i},"pad":"{}","esc":"\\\"\\\\"}}"#,
                "p".repeat(i % 300)
            ));
        }
        input.push_str("]}");
        let recs = records(&gzip(input.as_bytes()));
        assert_eq!(recs.len(), 5000);
        for (i, r) in recs.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(r).unwrap();
            assert_eq!(v["i"], i);
        }
    }

    #[test]
    fn empty_input_is_its_own_error() {
        assert!(matches!(
            LogReader::open(&b""[..], ReaderConfig::default()),
            Err(ReadError::Empty)
        ));
    }

    #[test]
    fn not_cloudtrail_inputs_are_refused() {
        for input in [
            &b"   "[..],
            b"[1,2]",
            b"hello",
            br#"{"foo":1}"#,
            br#"{"Records":{"a":1}}"#,
            br#"{"Records":null}"#,
            b"\x00\x01\x02binary",
        ] {
            assert!(
                matches!(
                    LogReader::open(input, ReaderConfig::default()),
                    Err(ReadError::NotCloudTrail(_))
                ),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(matches!(
            LogReader::open(&gzip(b"this is not json")[..], ReaderConfig::default()),
            Err(ReadError::NotCloudTrail(_))
        ));
    }

    #[test]
    fn digest_files_are_recognised() {
        let digest = br#"{"awsAccountId":"111122223333","digestStartTime":"2024-01-01T00:00:00Z",
            "digestEndTime":"2024-01-01T01:00:00Z","logFiles":[{"s3Object":"a"}]}"#;
        let mut reader = LogReader::open(&digest[..], ReaderConfig::default()).unwrap();
        assert_eq!(reader.kind(), LogKind::Digest);
        assert!(reader.next_record().unwrap().is_none());
    }

    #[test]
    fn truncated_json_is_corrupt_after_the_good_records() {
        let input = br#"{"Records":[{"a":1},{"b":2},{"c":"unterminated"#;
        let mut reader = LogReader::open(&input[..], ReaderConfig::default()).unwrap();
        assert!(reader.next_record().unwrap().is_some());
        assert!(reader.next_record().unwrap().is_some());
        assert!(matches!(reader.next_record(), Err(ReadError::Corrupt(_))));
    }

    #[test]
    fn truncated_gzip_is_corrupt() {
        let data = gzip(LOG);
        let cut = &data[..data.len() - 12];
        let result = collect(cut, ReaderConfig::default());
        assert!(matches!(result, Err(ReadError::Corrupt(_))), "{result:?}");
    }

    #[test]
    fn gzip_bomb_stops_at_the_ceiling() {
        let mut body = String::from(r#"{"Records":[{"pad":""#);
        body.push_str(&" ".repeat(8 << 20));
        body.push_str(r#""}]}"#);
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(body.as_bytes()).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 64 << 10, "small file, huge output");
        let cfg = ReaderConfig {
            max_decompressed_bytes: 1 << 20,
            ..ReaderConfig::default()
        };
        assert!(matches!(
            collect(&bomb, cfg),
            Err(ReadError::TooLarge { limit }) if limit == 1 << 20
        ));
    }

    #[test]
    fn garbage_between_records_is_corrupt() {
        let result = collect(br#"{"Records":[{"a":1} {"b":2}]}"#, ReaderConfig::default());
        assert!(matches!(result, Err(ReadError::Corrupt(_))));
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let deep = format!(
            r#"{{"Records":[{{"d":{}1{}}},{{"ok":1}}]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let recs = records(deep.as_bytes());
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1], r#"{"ok":1}"#);
    }
}
