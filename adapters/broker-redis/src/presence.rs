//! Presence across nodes, kept in Redis ([`PresenceStore`]).
//!
//! - `<prefix>:pres:nodes`: a sorted set of node ids scored by when their
//!   lease runs out (Redis's own clock, so nodes' clocks need not agree).
//!   A node renews its lease every few seconds; [`LEASE`] after its last
//!   renewal it counts as dead.
//! - `<prefix>:pres:u:<user>`: a hash of the nodes holding the user.
//! - `<prefix>:pres:n:<node>`: the users a node holds (what to take over
//!   when it dies).
//!
//! Each change is one Lua script, so it is atomic: of two nodes that see
//! a user arrive at once, exactly one learns "now online"; a dead node is
//! reaped by exactly one node, which learns who went offline with it.
//! The scripts build some key names themselves, so they suit one Redis
//! (or a primary with replicas), not Redis Cluster.

use std::time::Duration;

use async_trait::async_trait;
use qc_application::ports::{BrokerError, PresenceStore};
use qc_domain::User;
use redis::Script;
use redis::aio::ConnectionManager;

use crate::REDIS_TIMEOUT;
use crate::wire::{parse_user_key, user_key};

/// How long a node counts as alive after renewing its lease. The presence
/// task renews every 3 s and reaps every second, so a node that dies
/// silently has its users shown offline within about 10 s.
pub const LEASE: Duration = Duration::from_secs(9);

/// Milliseconds by Redis's clock, as the scripts' `now`.
const NOW: &str = "local t = redis.call('TIME') \
                   local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/// Counts the live nodes (other than ARGV[1]) in hash `key`.
const LIVE: &str = "local function live(key, nodes, except, now) \
     local n = 0 \
     for _, node in ipairs(redis.call('HKEYS', key)) do \
       if node ~= except then \
         local exp = redis.call('ZSCORE', nodes, node) \
         if exp and tonumber(exp) > now then n = n + 1 end \
       end \
     end \
     return n end";

/// KEYS: user hash, node set, nodes zset. ARGV: node, user key.
/// Returns 1 when no other live node held the user (now online).
const ARRIVE: &str = "local others = live(KEYS[1], KEYS[3], ARGV[1], now) \
     local added = redis.call('HSET', KEYS[1], ARGV[1], 1) \
     redis.call('SADD', KEYS[2], ARGV[2]) \
     if others == 0 and added == 1 then return 1 end return 0";

/// KEYS: user hash, node set, nodes zset. ARGV: node, user key.
/// Returns 1 when no live node holds the user any more (now offline).
const DEPART: &str = "local removed = redis.call('HDEL', KEYS[1], ARGV[1]) \
     redis.call('SREM', KEYS[2], ARGV[2]) \
     if removed == 1 and live(KEYS[1], KEYS[3], '', now) == 0 then \
       redis.call('DEL', KEYS[1]) return 1 end return 0";

/// KEYS: user hashes. ARGV: nodes zset. One 0/1 per user.
const CONNECTED: &str = "local out = {} \
     for i, key in ipairs(KEYS) do \
       out[i] = (live(key, ARGV[1], '', now) > 0) and 1 or 0 end \
     return out";

/// KEYS: nodes zset. ARGV: node, lease ms. Returns 1 when the lease had
/// run out (or been reaped) before this renewal.
const RENEW: &str = "local had = redis.call('ZSCORE', KEYS[1], ARGV[1]) \
     redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) \
     if (not had) or tonumber(had) <= now then return 1 end return 0";

/// KEYS: nodes zset. ARGV: key prefix. Takes over up to 16 dead nodes;
/// returns the user keys nobody live holds any more.
const REAP: &str = "local offline = {} \
     local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 16) \
     for _, node in ipairs(dead) do \
       redis.call('ZREM', KEYS[1], node) \
       local set = ARGV[1] .. ':pres:n:' .. node \
       for _, user in ipairs(redis.call('SMEMBERS', set)) do \
         local key = ARGV[1] .. ':pres:u:' .. user \
         if redis.call('HDEL', key, node) == 1 and live(key, KEYS[1], '', now) == 0 then \
           redis.call('DEL', key) \
           table.insert(offline, user) \
         end \
       end \
       redis.call('DEL', set) \
     end \
     return offline";

fn script(body: &str) -> Script {
    Script::new(&format!("{NOW}\n{LIVE}\n{body}"))
}

pub struct RedisPresence {
    conn: ConnectionManager,
    prefix: String,
    node: String,
    lease: Duration,
    arrive: Script,
    depart: Script,
    connected: Script,
    renew: Script,
    reap: Script,
}

fn failed(what: &str, e: impl std::fmt::Display) -> BrokerError {
    BrokerError(anyhow::anyhow!("Redis presence {what}: {e}"))
}

impl RedisPresence {
    pub(crate) fn new(conn: ConnectionManager, prefix: &str, node: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            node: node.to_owned(),
            lease: LEASE,
            arrive: script(ARRIVE),
            depart: script(DEPART),
            connected: script(CONNECTED),
            renew: script(RENEW),
            reap: script(REAP),
        }
    }

    /// The same book with a shorter lease (tests of a node dying).
    #[cfg(test)]
    pub(crate) fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    fn nodes(&self) -> String {
        format!("{}:pres:nodes", self.prefix)
    }

    fn user(&self, user: &User) -> String {
        format!("{}:pres:u:{}", self.prefix, user_key(user))
    }

    fn node_set(&self) -> String {
        format!("{}:pres:n:{}", self.prefix, self.node)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        what: &str,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, BrokerError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(failed(what, e)),
            Err(_) => Err(failed(what, "timed out")),
        }
    }

    async fn change(&self, script: &Script, what: &str, user: &User) -> Result<bool, BrokerError> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.user(user))
            .key(self.node_set())
            .key(self.nodes())
            .arg(&self.node)
            .arg(user_key(user));
        let changed: i64 = self.run(what, invocation).await?;
        Ok(changed == 1)
    }
}

#[async_trait]
impl PresenceStore for RedisPresence {
    async fn arrive(&self, user: &User) -> Result<bool, BrokerError> {
        self.change(&self.arrive, "arrive", user).await
    }

    async fn depart(&self, user: &User) -> Result<bool, BrokerError> {
        self.change(&self.depart, "depart", user).await
    }

    async fn connected(&self, users: &[User]) -> Result<Vec<bool>, BrokerError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.connected.prepare_invoke();
        for user in users {
            invocation.key(self.user(user));
        }
        invocation.arg(self.nodes());
        let flags: Vec<i64> = self.run("lookup", invocation).await?;
        Ok(flags.into_iter().map(|f| f == 1).collect())
    }

    async fn renew(&self) -> Result<bool, BrokerError> {
        let mut invocation = self.renew.prepare_invoke();
        invocation
            .key(self.nodes())
            .arg(&self.node)
            .arg(u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX));
        let lapsed: i64 = self.run("renewal", invocation).await?;
        Ok(lapsed == 1)
    }

    async fn reap(&self) -> Result<Vec<User>, BrokerError> {
        let mut invocation = self.reap.prepare_invoke();
        invocation.key(self.nodes()).arg(&self.prefix);
        let keys: Vec<String> = self.run("reaping", invocation).await?;
        Ok(keys.iter().filter_map(|k| parse_user_key(k)).collect())
    }
}
