//! What time it is, injected. The store and the web layer ask the store's clock — never the
//! wall clock directly — so that a test can pin "now" (and with it "today" in Beijing, where
//! a date near midnight UTC once made a test flake) and move it on.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock: what a running system uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A test's clock: it starts where the test says and runs on at the machine's pace (so that
/// events still follow one another), and the test can set it or move it on. Clones share it.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<Mutex<(DateTime<Utc>, std::time::Instant)>>);

impl TestClock {
    /// A clock reading `at` now.
    pub fn at(at: DateTime<Utc>) -> TestClock {
        TestClock(Arc::new(Mutex::new((at, std::time::Instant::now()))))
    }

    /// Sets the time it reads now.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = (at, std::time::Instant::now());
    }

    /// Moves the time on (or back, with a negative duration).
    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        t.0 += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let (at, since) = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        at + chrono::Duration::from_std(since.elapsed()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_starts_where_told_runs_on_and_clones_share_it() {
        let t0 = DateTime::parse_from_rfc3339("2024-04-30T15:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = TestClock::at(t0);
        let shared = c.clone();
        let read = c.now();
        assert!(
            read >= t0 && read - t0 < chrono::Duration::seconds(1),
            "{read}"
        );
        assert_eq!(
            anju_domain::rules::beijing_date(read).to_string(),
            "2024-04-30"
        );
        shared.advance(chrono::Duration::seconds(2));
        // 16:00:01 UTC is already 1 May in Beijing.
        assert_eq!(
            anju_domain::rules::beijing_date(c.now()).to_string(),
            "2024-05-01"
        );
        assert!(c.now() >= t0 + chrono::Duration::seconds(2));
        c.set(t0);
        assert!(shared.now() < t0 + chrono::Duration::seconds(1));
    }
}
