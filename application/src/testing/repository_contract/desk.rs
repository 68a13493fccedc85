//! The desk: agents, automatic routing, claims within a capacity.

use std::sync::Arc;

use qc_domain::{ConversationId, FewestOpenFirst, Identity, Role, RoutingRule, UserId};

use super::{Repositories, at, claimed, client, found, list_all, opened, t0, unique};
use crate::ports::{AgentRecord, Claim, ConversationFilter, Transfer};

/// Agents numbered `1`, `2`… of one check: they sort by their number.
fn numbered(base: &UserId, n: &str) -> UserId {
    UserId::new(format!("{base}-{n}")).expect("a valid user id")
}

/// Agents are recorded once, not away at first; `set_away` keeps the flag
/// (and records a new agent); each counts their open conversations.
pub(super) async fn agents_are_recorded_once_keep_away_and_count_open_conversations(
    r: Repositories,
) {
    let base = unique("agent");
    let (a1, a2, a3) = (
        numbered(&base, "1"),
        numbered(&base, "2"),
        numbered(&base, "3"),
    );
    assert_eq!(r.agents.find(&a2).await.expect("find"), None, "never seen");
    r.agents.seen(&a2).await.expect("seen");
    r.agents.seen(&a2).await.expect("seen again");
    let as_agent = Identity::new(a1.clone(), Role::Support);
    claimed(&r, &client("client-1"), &as_agent, t0()).await;
    claimed(&r, &client("client-2"), &as_agent, t0()).await;
    let closed = claimed(&r, &client("client-3"), &as_agent, t0()).await;
    assert!(
        r.conversations
            .try_close(closed.id(), t0(), &a1)
            .await
            .expect("try_close")
    );
    r.agents.seen(&a1).await.expect("seen");
    assert!(
        !r.agents.set_away(&a1, true).await.expect("set_away"),
        "was not away"
    );
    assert!(
        r.agents.set_away(&a1, true).await.expect("set_away"),
        "already away"
    );

    let record = |id: &UserId, away, open_conversations| AgentRecord {
        id: id.clone(),
        away,
        open_conversations,
    };
    let everyone = r.agents.list().await.expect("list");
    let ours: Vec<AgentRecord> = everyone
        .into_iter()
        .filter(|x| x.id == a1 || x.id == a2)
        .collect();
    assert_eq!(
        ours,
        vec![record(&a1, true, 2), record(&a2, false, 0)],
        "each agent once, by id, with their open conversations"
    );
    assert_eq!(
        r.agents.find(&a1).await.expect("find"),
        Some(record(&a1, true, 2))
    );
    assert!(
        r.agents.set_away(&a1, false).await.expect("set_away"),
        "was away"
    );
    let back = r.agents.find(&a1).await.expect("find");
    assert_eq!(back, Some(record(&a1, false, 2)), "the flag is kept");

    assert!(
        !r.agents.set_away(&a3, true).await.expect("set_away"),
        "a new agent was not away"
    );
    let recorded = r.agents.find(&a3).await.expect("find");
    assert_eq!(
        recorded,
        Some(record(&a3, true, 0)),
        "setting a status records a new agent"
    );
}

/// Hands whatever waits in the store to an agent of this check's own, so
/// that routing sees only what the check opens next.
async fn empty_the_queue(r: &Repositories, rule: &Arc<dyn RoutingRule>) {
    let sink = unique("sink");
    r.agents.seen(&sink).await.expect("seen");
    let online = [sink];
    for _ in 0..1000 {
        let out = r
            .conversations
            .route(&online, 1_000_000_000, rule.clone())
            .await
            .expect("route");
        if out.waiting == 0 {
            return;
        }
    }
    panic!("route: an agent with room for everything leaves conversations waiting");
}

/// A routing decision assigns the oldest waiting conversations to the
/// online agents who are not away, within the capacity, fewest open first;
/// by hand, nobody goes past it either.
pub(super) async fn routing_decides_within_capacity_oldest_first(r: Repositories) {
    let rule: Arc<dyn RoutingRule> = Arc::new(FewestOpenFirst);
    empty_the_queue(&r, &rule).await;
    let base = unique("agent");
    let (a1, a2, away) = (
        numbered(&base, "1"),
        numbered(&base, "2"),
        numbered(&base, "away"),
    );
    for a in [&a1, &a2, &away] {
        r.agents.seen(a).await.expect("seen");
    }
    r.agents.set_away(&away, true).await.expect("set_away");
    let mut waiting = Vec::new();
    for i in 0..5 {
        waiting.push(opened(&r, &client(&format!("c{i}")), at(i)).await);
    }
    let online = [a1.clone(), a2.clone(), away.clone()];
    let route = |online: Vec<UserId>, capacity| {
        let (repo, rule) = (r.conversations.clone(), rule.clone());
        async move { repo.route(&online, capacity, rule).await.expect("route") }
    };

    let out = route(online.to_vec(), 2).await;
    let mut got: Vec<(ConversationId, UserId, UserId)> = out
        .routed
        .iter()
        .map(|x| (x.conversation, x.agent.clone(), x.customer.clone()))
        .collect();
    got.sort();
    let to = |i: usize, agent: &UserId| {
        let c = &waiting[i];
        (c.id(), agent.clone(), c.client_id().clone())
    };
    let mut expected = vec![to(0, &a1), to(1, &a2), to(2, &a1), to(3, &a2)];
    expected.sort();
    assert_eq!(
        got, expected,
        "capacity 2, two agents not away: the four oldest, alternately"
    );
    assert_eq!(out.waiting, 1, "one still waits");
    assert_eq!(out.oldest_waiting, Some(waiting[4].created_at()));
    for (c, agent, _) in &expected {
        assert_eq!(found(&r, *c).await.support_id(), Some(agent), "applied");
    }

    let again = route(online.to_vec(), 2).await;
    assert!(again.routed.is_empty(), "nobody has room: nothing more");
    assert_eq!(
        r.conversations
            .try_assign_within(waiting[4].id(), &a1, 2)
            .await
            .expect("try_assign_within"),
        Claim::AtCapacity,
        "nor by hand"
    );
    assert_eq!(
        r.conversations
            .try_transfer(waiting[0].id(), &a1, Some(a2.clone()), Some(2))
            .await
            .expect("try_transfer"),
        Transfer::AtCapacity,
        "nor by a transfer"
    );
    assert_eq!(found(&r, waiting[0].id()).await.support_id(), Some(&a1));

    // A close frees a place; the next decision fills it.
    assert!(
        r.conversations
            .try_close(waiting[0].id(), t0(), &a1)
            .await
            .expect("try_close")
    );
    let out = route(online.to_vec(), 2).await;
    assert_eq!(out.routed.len(), 1, "{:?}", out.routed);
    assert_eq!(out.routed[0].conversation, waiting[4].id());
    assert_eq!(out.routed[0].agent, a1, "the one with room");
    assert_eq!((out.waiting, out.oldest_waiting), (0, None));
    assert_eq!(
        r.conversations
            .try_assign_within(waiting[4].id(), &a2, 5)
            .await
            .expect("try_assign_within"),
        Claim::Lost,
        "taken already"
    );

    // Nobody online: nothing is assigned, whatever waits.
    let late = opened(&r, &client("c9"), t0()).await;
    let out = route(Vec::new(), 2).await;
    assert!(out.routed.is_empty(), "nobody online");
    assert_eq!(out.waiting, 1);
    assert_eq!(found(&r, late.id()).await.support_id(), None);
}

/// Ten claims by one agent at once, capacity 3: three win, seven find the
/// agent full.
pub(super) async fn racing_claims_by_one_agent_stop_at_the_capacity(r: Repositories) {
    let agent = unique("agent");
    r.agents.seen(&agent).await.expect("seen");
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(opened(&r, &client(&format!("c{i}")), t0()).await.id());
    }
    let claims: Vec<_> = ids
        .iter()
        .map(|&id| {
            let (repo, agent) = (r.conversations.clone(), agent.clone());
            tokio::spawn(async move {
                let claim = repo.try_assign_within(id, &agent, 3).await;
                claim.expect("try_assign_within")
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for claim in claims {
        outcomes.push(claim.await.expect("the claim ran"));
    }
    let assigned = outcomes.iter().filter(|c| **c == Claim::Assigned).count();
    let full = outcomes.iter().filter(|c| **c == Claim::AtCapacity).count();
    assert_eq!((assigned, full), (3, 7), "{outcomes:?}");
    let held = list_all(&r, &ConversationFilter::AssignedTo(agent.clone())).await;
    assert_eq!(held.len(), 3, "the agent holds three");
}
