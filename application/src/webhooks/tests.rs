use super::*;
use crate::ports::SystemClock;
use crate::ports::outbox::{MockOutbox, MockWebhookSender};

#[test]
fn retries_start_within_2_s_double_and_stop_at_10_min() {
    assert_eq!(retry_delay(1, 0.0), Duration::from_secs(1));
    assert_eq!(retry_delay(1, 1.0), Duration::from_secs(2));
    assert_eq!(retry_delay(2, 1.0), Duration::from_secs(4));
    assert_eq!(retry_delay(5, 1.0), Duration::from_secs(32));
    assert_eq!(retry_delay(10, 1.0), Duration::from_secs(600));
    assert_eq!(retry_delay(10, 0.0), Duration::from_secs(300));
    assert_eq!(retry_delay(u32::MAX, 1.0), Duration::from_secs(600));
    for attempt in 1..40 {
        let d = retry_delay(attempt, 0.5);
        assert!(d >= retry_delay(attempt, 0.0) && d <= retry_delay(attempt, 1.0));
    }
}

#[test]
fn a_failure_at_the_deadline_gives_up_and_before_it_never_retries_past_it() {
    let now = Utc::now();
    let deadline = now + chrono::Duration::seconds(3);
    assert_eq!(
        after_failure(1, now, deadline, 1.0),
        AfterFailure::RetryAt(now + chrono::Duration::seconds(2))
    );
    assert_eq!(
        after_failure(9, now, deadline, 1.0),
        AfterFailure::RetryAt(deadline),
        "the last retry is at the deadline"
    );
    assert_eq!(
        after_failure(9, deadline, deadline, 0.3),
        AfterFailure::GiveUp
    );
}

fn event(position: i64, deadline: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent {
        position,
        id: format!("ev{position}"),
        conversation_id: "c".into(),
        event_type: "message.created".into(),
        body: "{}".into(),
        attempts: 0,
        created_at: Utc::now(),
        deadline,
    }
}

#[tokio::test]
async fn delivered_events_are_removed_failed_ones_retried_and_expired_ones_given_up() {
    let far = Utc::now() + chrono::Duration::hours(1);
    let past = Utc::now() - chrono::Duration::seconds(1);
    let mut outbox = MockOutbox::new();
    outbox
        .expect_delivered()
        .withf(|p| p == [1])
        .times(1)
        .returning(|_| Ok(()));
    outbox
        .expect_retry_at()
        .withf(move |p, due, e| {
            *p == 2
                && *due > Utc::now()
                && *due <= Utc::now() + chrono::Duration::seconds(2)
                && e == "HTTP 500"
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    outbox
        .expect_give_up()
        .withf(|p, _, e| *p == 3 && e == "HTTP 500")
        .times(1)
        .returning(|_, _, _| Ok(()));
    let d = Dispatcher {
        outbox: Arc::new(outbox),
        sender: Arc::new(MockWebhookSender::new()),
        clock: Arc::new(SystemClock),
        kick: Arc::default(),
        stopping: watch::channel(false).0,
        stopped: watch::channel(false).1,
    };
    let failed = || Err(DeliveryError("HTTP 500".into()));
    d.settle(vec![
        (event(1, far), Ok(()), Duration::ZERO),
        (event(2, far), failed(), Duration::ZERO),
        (event(3, past), failed(), Duration::ZERO),
    ])
    .await;
}

#[tokio::test]
async fn the_worker_sends_what_it_claims_and_records_it() {
    let mut outbox = MockOutbox::new();
    let far = Utc::now() + chrono::Duration::hours(1);
    let mut first = true;
    outbox.expect_backlog().returning(|| Ok(Default::default()));
    outbox.expect_claim().returning(move |_, lease, limit| {
        assert_eq!((lease, limit), (LEASE, IN_FLIGHT as u32));
        if std::mem::take(&mut first) {
            Ok(vec![event(1, far), event(2, far)])
        } else {
            Ok(vec![])
        }
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    outbox.expect_delivered().returning(move |p| {
        tx.send(p.to_vec()).unwrap();
        Ok(())
    });
    let mut sender = MockWebhookSender::new();
    sender.expect_send().times(2).returning(|_| Ok(()));
    let d = Dispatcher::start(
        Arc::new(outbox),
        Arc::new(sender),
        Arc::new(SystemClock),
        Arc::default(),
    );
    let mut positions = Vec::new();
    while positions.len() < 2 {
        positions.extend(rx.recv().await.unwrap());
    }
    positions.sort_unstable();
    assert_eq!(positions, [1, 2]);
    drop(d);
}

/// Answers 200 after a second (of the paused clock).
struct Slow;

#[async_trait::async_trait]
impl WebhookSender for Slow {
    async fn send(&self, _: &OutboxEvent) -> Result<(), DeliveryError> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_graceful_stop_records_the_attempts_in_flight_and_claims_nothing_more() {
    let far = Utc::now() + chrono::Duration::hours(1);
    let (claimed, mut was_claimed) = tokio::sync::mpsc::unbounded_channel();
    let mut outbox = MockOutbox::new();
    outbox.expect_backlog().returning(|| Ok(Default::default()));
    // Claimed once; a stopping dispatcher never claims again.
    outbox.expect_claim().times(1).returning(move |_, _, _| {
        claimed.send(()).unwrap();
        Ok(vec![event(7, far)])
    });
    let (recorded, mut was_recorded) = tokio::sync::mpsc::unbounded_channel();
    outbox.expect_delivered().times(1).returning(move |p| {
        recorded.send(p.to_vec()).unwrap();
        Ok(())
    });
    let d = Dispatcher::start(
        Arc::new(outbox),
        Arc::new(Slow),
        Arc::new(SystemClock),
        Arc::default(),
    );
    was_claimed.recv().await.unwrap();
    d.stop().await;
    assert_eq!(
        was_recorded.try_recv().unwrap(),
        [7],
        "recorded before stop returned"
    );
}
