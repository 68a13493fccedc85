//! The per-connection token bucket, and the flood detector behind the 1008 close.

use std::time::Instant;

/// Refills `rate` tokens a second up to `burst`; a frame takes one.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_sec: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate_per_sec),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Whether a frame arriving at `now` may pass.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Tracks the seconds in which frames were dropped for the rate: a run of
/// `limit` consecutive such seconds means a flood.
#[derive(Debug)]
pub struct FloodDetector {
    start: Instant,
    last_second: Option<u64>,
    run: u32,
    limit: u32,
    last_error_second: Option<u64>,
}

impl FloodDetector {
    pub fn new(start: Instant, limit: u32) -> Self {
        Self {
            start,
            last_second: None,
            run: 0,
            limit,
            last_error_second: None,
        }
    }

    /// Records a drop at `now`. Returns `(send_error, flooding)`: at most one
    /// `rate_limited` error a second, and whether the connection must close.
    pub fn dropped(&mut self, now: Instant) -> (bool, bool) {
        let second = now.saturating_duration_since(self.start).as_secs();
        match self.last_second {
            Some(s) if s == second => {}
            Some(s) if s + 1 == second => self.run += 1,
            _ => self.run = 1,
        }
        self.last_second = Some(second);
        let send_error = self.last_error_second != Some(second);
        if send_error {
            self.last_error_second = Some(second);
        }
        (send_error, self.run >= self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(20, 40, t0);
        assert_eq!((0..40).filter(|_| b.try_take(t0)).count(), 40);
        assert!(!b.try_take(t0));
        // 100 ms refills 2 tokens.
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.try_take(t1));
        assert!(b.try_take(t1));
        assert!(!b.try_take(t1));
        // Never above the burst.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!((0..100).filter(|_| b.try_take(t2)).count(), 40);
    }

    #[test]
    fn one_error_a_second_and_five_seconds_in_a_row_is_a_flood() {
        let t0 = Instant::now();
        let mut f = FloodDetector::new(t0, 5);
        assert_eq!(f.dropped(t0), (true, false));
        assert_eq!(f.dropped(t0 + Duration::from_millis(500)), (false, false));
        for s in 1..4 {
            assert_eq!(f.dropped(t0 + Duration::from_secs(s)), (true, false));
        }
        assert_eq!(f.dropped(t0 + Duration::from_secs(4)), (true, true));
        // A quiet second breaks the run.
        let mut g = FloodDetector::new(t0, 5);
        for s in [0, 1, 2, 3, 5, 6, 7, 8] {
            assert!(!g.dropped(t0 + Duration::from_secs(s)).1);
        }
        assert!(g.dropped(t0 + Duration::from_secs(9)).1);
    }
}
