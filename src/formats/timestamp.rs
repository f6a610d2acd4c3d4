//! CloudTrail's `eventTime` (`2024-08-01T12:25:57Z`) as epoch milliseconds, without a clock.

use crate::detector::calendar::{civil_from_days, days_from_civil};

/// Milliseconds since the Unix epoch for a UTC timestamp of the form
/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`; `None` for anything else (offsets, missing `Z`,
/// out-of-range fields), so a crafted value cannot become a plausible time.
pub fn epoch_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = match &text[19..text.len() - 1] {
        "" => 0,
        fraction => {
            let digits = fraction.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            format!("{digits:0<3}")[..3].parse::<i64>().ok()?
        }
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for epoch milliseconds: the adapter turns its clock into an
/// ASFF `UpdatedAt` with it (no date crate needed).
pub fn rfc3339_millis(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(86_400_000);
    let ms_of_day = epoch_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

/// The timestamp when it is a well-formed UTC time (see [`epoch_millis`]).
pub fn valid_utc(text: &str) -> Option<&str> {
    epoch_millis(text).map(|_| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudtrail_times_convert() {
        assert_eq!(epoch_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            epoch_millis("2024-08-01T12:25:57Z"),
            Some(1_722_515_157_000)
        );
        assert_eq!(
            epoch_millis("2000-02-29T23:59:59.5Z"),
            Some(951_868_799_500)
        );
        assert_eq!(epoch_millis("1969-12-31T23:59:59Z"), Some(-1000));
    }

    #[test]
    fn millis_format_and_parse_back() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(951_868_799_500), "2000-02-29T23:59:59.500Z");
        assert_eq!(rfc3339_millis(-1000), "1969-12-31T23:59:59.000Z");
        for ms in [
            0,
            1_722_515_157_123,
            4_102_444_800_000,
            -86_400_001,
            951_782_400_000,
        ] {
            assert_eq!(epoch_millis(&rfc3339_millis(ms)), Some(ms), "{ms}");
        }
    }

    #[test]
    fn other_shapes_are_refused() {
        for bad in [
            "",
            "2024-08-01",
            "2024-08-01T12:25:57",
            "2024-08-01T12:25:57+02:00",
            "2024-13-01T12:25:57Z",
            "2023-02-29T12:25:57Z",
            "2024-08-01T24:00:00Z",
            "2024-08-01T12:25:57.Z",
            "2024-08-01T12:25:57xZ",
            "+024-08-01T12:25:57Z",
            "2024-08-01T12:25:57.1234567890Z",
        ] {
            assert_eq!(epoch_millis(bad), None, "{bad}");
        }
    }
}
