//! The per-connection token bucket, and the flood detector behind the 1008 close.

use std::time::{Duration, Instant};

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

    /// How long from `now` until a token is there (zero when one is).
    pub fn wait(&self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        let tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if tokens >= 1.0 || self.rate <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - tokens) / self.rate)
    }

    /// Whether the bucket has refilled completely by `now` (it is then the
    /// same as a new one, and may be forgotten).
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.burst
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

/// A flood is a run of rate-limited drops with no quiet second (one full
/// second without a drop) in it; it closes the connection once it has
/// lasted `limit` since its first drop (CONTRACT §3: 5 s, not sooner).
#[derive(Debug)]
pub struct FloodDetector {
    limit: Duration,
    /// The first drop of the current run, and the latest one.
    run: Option<(Instant, Instant)>,
    last_error: Option<Instant>,
}

impl FloodDetector {
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            run: None,
            last_error: None,
        }
    }

    /// Records a drop at `now`. Returns `(send_error, flooding)`: at most one
    /// `rate_limited` error a second, and whether the connection must close.
    pub fn dropped(&mut self, now: Instant) -> (bool, bool) {
        let second = Duration::from_secs(1);
        let started = match self.run {
            Some((first, last)) if now.saturating_duration_since(last) < second => first,
            _ => now,
        };
        self.run = Some((started, now));
        let send_error = self
            .last_error
            .is_none_or(|t| now.saturating_duration_since(t) >= second);
        if send_error {
            self.last_error = Some(now);
        }
        (
            send_error,
            now.saturating_duration_since(started) >= self.limit,
        )
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
    fn one_error_a_second_and_a_flood_only_after_a_full_five_seconds() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut f = FloodDetector::new(Duration::from_secs(5));
        assert_eq!(f.dropped(t0 + ms(900)), (true, false));
        assert_eq!(f.dropped(t0 + ms(1400)), (false, false));
        // Drops every 500 ms: 4.95 s after the first one is not yet a flood,
        // 5 s is (second boundaries do not count, elapsed time does).
        let mut t = 1400;
        while t + 500 < 5850 {
            t += 500;
            assert!(!f.dropped(t0 + ms(t)).1, "at {t} ms");
        }
        assert!(!f.dropped(t0 + ms(5850)).1);
        assert!(f.dropped(t0 + ms(5900)).1);
        // A full quiet second ends the run: the next drop starts a new one.
        let mut g = FloodDetector::new(Duration::from_secs(5));
        g.dropped(t0);
        g.dropped(t0 + ms(900));
        assert!(!g.dropped(t0 + ms(1900)).1, "a second without a drop");
        assert!(!g.dropped(t0 + ms(6800)).1, "also ends a run");
        for t in [7300, 7800, 8300, 8800, 9300, 9800, 10300, 10800, 11300] {
            assert!(!g.dropped(t0 + ms(t)).1, "at {t} ms");
        }
        assert!(g.dropped(t0 + ms(11800)).1);
    }
}
