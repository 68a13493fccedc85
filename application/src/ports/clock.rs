//! Time, behind a port so tests control it.

use chrono::{DateTime, Timelike, Utc};

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current time, truncated to milliseconds: what is stored must read
    /// back identical on every database, and the wire shows milliseconds.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        let millis = now.nanosecond() / 1_000_000 * 1_000_000;
        now.with_nanosecond(millis).unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_millisecond_precise() {
        let t = SystemClock.now();
        assert_eq!(t.nanosecond() % 1_000_000, 0);
        assert!((Utc::now() - t).num_seconds().abs() < 2);
    }
}
