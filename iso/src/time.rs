//! Timestamps. Every date in the image comes from one instant, SOURCE_DATE_EPOCH (default 0), so
//! two builds of the same inputs are byte-identical (reproducible-builds.org convention).

use crate::error::{Error, Result};

/// A UTC calendar instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl Civil {
    /// Unix seconds to a UTC calendar date (Howard Hinnant's `civil_from_days`).
    pub fn from_unix(secs: u64) -> Civil {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// ECMA-119 9.1.5 "recording date and time": 7 bytes, years since 1900, GMT offset 0.
    /// The year byte holds 1900..=2155; later instants are clamped rather than wrapped.
    pub fn iso_dir_date(&self) -> [u8; 7] {
        let c = self.clamp_years(1900, 2155);
        [
            (c.year - 1900) as u8,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            0,
        ]
    }

    /// ECMA-119 8.4.26.1 "dec-datetime": "YYYYMMDDHHMMSScc" digits plus a GMT offset byte.
    pub fn iso_dec_datetime(&self) -> [u8; 17] {
        let c = self.clamp_years(1, 9999);
        let s = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}00",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        );
        let mut out = [0u8; 17];
        out[..16].copy_from_slice(s.as_bytes());
        out
    }

    /// FAT can only say 1980..=2107; earlier instants (the default epoch 0) become 1980-01-01.
    pub fn fat_clamped(&self) -> Civil {
        self.clamp_years(1980, 2107)
    }

    fn clamp_years(&self, lo: i64, hi: i64) -> Civil {
        if self.year < lo {
            Civil {
                year: lo,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
            }
        } else if self.year > hi {
            Civil {
                year: hi,
                month: 12,
                day: 31,
                hour: 23,
                minute: 59,
                second: 59,
            }
        } else {
            *self
        }
    }
}

/// Read SOURCE_DATE_EPOCH; unset or empty means 0.
pub fn source_date_epoch() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if v.trim().is_empty() => Ok(0),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| Error::BadSourceDateEpoch { value: v }),
        Err(std::env::VarError::NotPresent) => Ok(0),
        Err(std::env::VarError::NotUnicode(v)) => Err(Error::BadSourceDateEpoch {
            value: v.to_string_lossy().into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        let c = Civil::from_unix(0);
        assert_eq!((c.year, c.month, c.day, c.hour), (1970, 1, 1, 0));
        // 2024-02-29 12:34:56 UTC, a leap day.
        let c = Civil::from_unix(1_709_210_096);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second),
            (2024, 2, 29, 12, 34, 56)
        );
        assert_eq!(c.iso_dir_date(), [124, 2, 29, 12, 34, 56, 0]);
        assert_eq!(&c.iso_dec_datetime(), b"2024022912345600\0");
    }

    #[test]
    fn fat_clamps_before_1980() {
        let c = Civil::from_unix(0).fat_clamped();
        assert_eq!((c.year, c.month, c.day, c.hour), (1980, 1, 1, 0));
    }
}
