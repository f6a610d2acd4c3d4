//! Which rules a record goes to: the event index, the caller-type rules and the Sigma gates,
//! asked first from the skim (no parse) and then from the parsed record.

use super::Detector;
use crate::detector::reader::RawRecord;
use crate::detector::record::Record;
use crate::detector::sigma::RecordText;
use crate::detector::skim::FieldRead;

impl Detector {
    /// The rules interested in a record (by its eventSource and eventName, or by its caller
    /// type): catalogue order, then Sigma rules.
    pub(super) fn interested(&self, record: &Record<'_>) -> Vec<usize> {
        let (source, name) = (record.source(), record.name());
        let mut found = self.every_record.clone();
        if let Some(slots) = self.identity_rules(record) {
            found.extend_from_slice(slots);
        }
        let kind = record
            .user_identity
            .as_ref()
            .and_then(|u| u.identity_type.as_deref());
        found.extend(self.sigma_identity_slots(kind));
        // A text-gated rule only where its text may be: one search of the record's bytes
        // (a rule match costs more, a regular expression say).
        if let Some(any) = &self.sigma_text_any {
            let mut text = RecordText::framed(record.raw, record.landmarks);
            if let Some((wanted, reads)) = record.skimmed
                && std::ptr::eq(wanted, &self.skim_wanted)
            {
                text = text.skimmed(wanted, reads);
            }
            if text.may_contain(any) {
                found.extend(
                    self.sigma_by_text
                        .iter()
                        .filter(|(finder, _)| text.may_contain(finder))
                        .map(|(_, slot)| *slot),
                );
            }
        }
        if let Some(entry) = self.index.get(source) {
            entry.collect(name, &mut found);
        }
        self.any_source.collect(name, &mut found);
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The rules that want every event of this record's caller type, if any.
    pub(super) fn identity_rules(&self, record: &Record<'_>) -> Option<&[usize]> {
        if self.by_identity_type.is_empty() {
            return None;
        }
        let kind = record.user_identity.as_ref()?.identity_type.as_deref()?;
        self.by_identity_type.get(kind).map(Vec::as_slice)
    }

    /// Sigma rules gated by this caller type.
    pub(super) fn sigma_identity_slots<'s>(
        &'s self,
        kind: Option<&'s str>,
    ) -> impl Iterator<Item = usize> + 's {
        self.sigma_by_identity_type
            .iter()
            .filter(move |(k, _)| kind.is_some_and(|kind| k.eq_ignore_ascii_case(kind)))
            .map(|(_, slot)| *slot)
    }

    /// True when some rule wants this record: by its event, or by its caller type.
    pub fn wants_record(&self, record: &Record<'_>) -> bool {
        let kind = record
            .user_identity
            .as_ref()
            .and_then(|u| u.identity_type.as_deref());
        self.wants(record.source(), record.name())
            || self.identity_rules(record).is_some()
            || self.sigma_identity_slots(kind).next().is_some()
    }

    /// True when some rule wants a record with this event and caller type (from a skim).
    /// Without the record's bytes, a text-gated Sigma rule wants every record.
    pub fn wants_event(&self, source: &str, name: &str, identity_type: Option<&str>) -> bool {
        self.wants_by_event_or_caller(source, name, identity_type) || !self.sigma_by_text.is_empty()
    }

    /// Like [`Detector::wants_event`], with the record's raw bytes for text-gated Sigma rules:
    /// the scan loop's fast path, deciding from a skim whether to parse the record.
    pub fn wants_skimmed(
        &self,
        source: &str,
        name: &str,
        identity_type: Option<&str>,
        bytes: &[u8],
    ) -> bool {
        self.wants_text(source, name, identity_type, RecordText::new(bytes))
    }

    /// Like [`Detector::wants_skimmed`], with the landmarks framing noted in the record and the
    /// fields the skim read for [`Detector::skim_wanted`], from which a text gate's field is
    /// read without searching the bytes.
    pub fn wants_framed(
        &self,
        source: &str,
        name: &str,
        identity_type: Option<&str>,
        raw: &RawRecord<'_>,
        reads: &[FieldRead],
    ) -> bool {
        let text =
            RecordText::framed(raw.bytes, Some(raw.landmarks)).skimmed(&self.skim_wanted, reads);
        self.wants_text(source, name, identity_type, text)
    }

    fn wants_text(
        &self,
        source: &str,
        name: &str,
        identity_type: Option<&str>,
        mut text: RecordText<'_>,
    ) -> bool {
        let mut passes = |slot: usize| self.slot_may_match(slot, identity_type, &mut text);
        self.every_record.iter().any(|&slot| passes(slot))
            || self
                .index
                .get(source)
                .is_some_and(|entry| entry.any_slot(name, &mut passes))
            || self.any_source.any_slot(name, &mut passes)
            || identity_type.is_some_and(|kind| self.by_identity_type.contains_key(kind))
            || self.sigma_identity_slots(identity_type).any(&mut passes)
            || (self
                .sigma_text_any
                .as_ref()
                .is_some_and(|any| text.may_contain(any))
                && self.sigma_by_text.iter().any(|(finder, slot)| {
                    text.may_contain(finder) && self.slot_may_match(*slot, identity_type, &mut text)
                }))
    }

    /// False when a Sigma rule surely cannot match the record: its caller type is one the rule
    /// rules out, or a text it requires is absent.
    pub(super) fn slot_may_match(
        &self,
        slot: usize,
        identity_type: Option<&str>,
        text: &mut RecordText<'_>,
    ) -> bool {
        let Some(i) = slot.checked_sub(self.rules.len()) else {
            return true;
        };
        if let Some(kind) = identity_type
            && self.sigma_excludes[i]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(kind))
        {
            return false;
        }
        match &self.sigma_requires[i] {
            None => true,
            Some(any) => text.may_contain(any),
        }
    }

    pub(super) fn wants_by_event_or_caller(
        &self,
        source: &str,
        name: &str,
        kind: Option<&str>,
    ) -> bool {
        self.wants_by_event(source, name)
            || kind.is_some_and(|kind| self.by_identity_type.contains_key(kind))
            || self.sigma_identity_slots(kind).next().is_some()
    }

    /// True when some rule may want this event whatever the caller and text (a Sigma rule
    /// gated by text counts as wanting every event).
    pub fn wants(&self, source: &str, name: &str) -> bool {
        self.wants_by_event(source, name) || !self.sigma_by_text.is_empty()
    }

    pub(super) fn wants_by_event(&self, source: &str, name: &str) -> bool {
        !self.every_record.is_empty()
            || self
                .index
                .get(source)
                .is_some_and(|entry| entry.wants(name))
            || (!self.any_source.is_empty() && self.any_source.wants(name))
    }
}
