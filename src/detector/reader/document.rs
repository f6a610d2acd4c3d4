//! The document around the records: the top-level object, its `Records` array(s), and
//! documents concatenated after it.

use super::{LogKind, LogReader, ReadError, State};
use std::io::Read;

/// Longest top-level key read (others are not CloudTrail).
const MAX_TOP_LEVEL_KEY: usize = 1024;

impl<R: Read> LogReader<R> {
    pub(super) fn read_header(&mut self) -> Result<(), ReadError> {
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
            self.skip_value()?;
        }
    }

    /// Reads what follows a `Records` array: other keys are skipped, but a second `Records`
    /// array is read too (a JSON parser would keep only one of the two and drop the other's
    /// records without a word). At the end of the document, another document may follow (two
    /// logs concatenated, such as `cat a.json.gz b.json.gz`): its records are read as well.
    /// The state is left at the next element to read, or `Done`.
    pub(super) fn finish_document(&mut self) -> Result<(), ReadError> {
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
                    self.skip_value()?;
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
    pub(super) fn next_document(&mut self) -> Result<(), ReadError> {
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

    pub(super) fn read_key(&mut self) -> Result<Vec<u8>, ReadError> {
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
}
