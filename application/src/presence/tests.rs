use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::ports::agent_repository::MockAgentRepository;
use crate::ports::broker::MockBroker;
use crate::ports::clock::MockClock;
use crate::ports::conversation_repository::MockConversationRepository;
use crate::test_support::fixed_now;

/// Publishes recorded as (user, status).
type Log = Arc<Mutex<Vec<(String, &'static str)>>>;

/// A store that fails its first `fail` calls of arrive and depart.
struct Flaky {
    inner: LocalPresenceStore,
    fail: AtomicU32,
}

#[async_trait::async_trait]
impl PresenceStore for Flaky {
    async fn arrive(&self, user: &User) -> Result<bool, BrokerError> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(BrokerError(anyhow::anyhow!("down")));
        }
        self.inner.arrive(user).await
    }
    async fn depart(&self, user: &User) -> Result<bool, BrokerError> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(BrokerError(anyhow::anyhow!("down")));
        }
        self.inner.depart(user).await
    }
    async fn connected(&self, users: &[User]) -> Result<Vec<bool>, BrokerError> {
        self.inner.connected(users).await
    }
    async fn renew(&self) -> Result<bool, BrokerError> {
        Ok(false)
    }
    async fn reap(&self) -> Result<Vec<User>, BrokerError> {
        Ok(Vec::new())
    }
}

fn presence(fail: u32) -> (Arc<Presence>, Log) {
    let log: Log = Arc::default();
    let mut broker = MockBroker::new();
    let l = log.clone();
    broker.expect_publish().returning(move |env| {
        if let ChatEvent::Presence { user, status, .. } = &env.event {
            assert!(env.all_agents, "an agent's change goes to every agent");
            l.lock()
                .unwrap()
                .push((user.id().to_string(), status.as_str()));
        }
        Ok(())
    });
    let mut agents = MockAgentRepository::new();
    agents.expect_seen().returning(|_| Ok(()));
    agents.expect_find().returning(|_| Ok(None));
    let mut conversations = MockConversationRepository::new();
    conversations
        .expect_customers_served_by()
        .returning(|_| Ok(vec![]));
    let mut clock = MockClock::new();
    clock.expect_now().returning(fixed_now);
    let ports = PresencePorts {
        store: Arc::new(Flaky {
            inner: LocalPresenceStore::default(),
            fail: AtomicU32::new(fail),
        }),
        agents: Arc::new(agents),
        conversations: Arc::new(conversations),
        broker: Arc::new(broker),
        clock: Arc::new(clock),
    };
    (Presence::start(ports, Duration::from_secs(2)), log)
}

fn agent(s: &str) -> User {
    User::agent(UserId::new(s).unwrap())
}

/// Lets the presence task run until it waits (the clock is paused, so
/// sleeps end only when everything else is idle).
async fn settle(d: Duration) {
    tokio::time::sleep(d).await;
}

#[tokio::test(start_paused = true)]
async fn one_event_per_change_whatever_the_number_of_connections() {
    let (p, log) = presence(0);
    let a = agent("a");
    p.connected(&a);
    p.connected(&a);
    settle(Duration::from_millis(10)).await;
    p.disconnected(&a);
    settle(Duration::from_secs(3)).await;
    assert_eq!(*log.lock().unwrap(), vec![("a".into(), "online")]);
    p.disconnected(&a);
    settle(Duration::from_millis(1900)).await;
    assert_eq!(log.lock().unwrap().len(), 1, "not before the grace");
    settle(Duration::from_millis(200)).await;
    assert_eq!(
        *log.lock().unwrap(),
        vec![("a".into(), "online"), ("a".into(), "offline")]
    );
    assert_eq!(p.local_users(), 0, "nothing kept for a user gone");
}

#[tokio::test(start_paused = true)]
async fn a_reload_within_the_grace_is_no_change() {
    let (p, log) = presence(0);
    let a = agent("a");
    p.connected(&a);
    settle(Duration::from_millis(10)).await;
    p.disconnected(&a);
    settle(Duration::from_secs(1)).await;
    p.connected(&a);
    settle(Duration::from_secs(5)).await;
    assert_eq!(*log.lock().unwrap(), vec![("a".into(), "online")]);
}

#[tokio::test(start_paused = true)]
async fn what_the_store_missed_is_recorded_once_it_answers() {
    // The arrival fails twice, then goes through on a retry.
    let (p, log) = presence(2);
    let a = agent("a");
    p.connected(&a);
    settle(Duration::from_millis(10)).await;
    assert!(log.lock().unwrap().is_empty());
    settle(Duration::from_secs(3)).await;
    assert_eq!(*log.lock().unwrap(), vec![("a".into(), "online")]);
    p.disconnected(&a);
    settle(Duration::from_secs(3)).await;
    assert_eq!(
        *log.lock().unwrap(),
        vec![("a".into(), "online"), ("a".into(), "offline")]
    );
}
