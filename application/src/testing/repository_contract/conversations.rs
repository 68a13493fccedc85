//! Conversations: storing, claiming, closing, listing, transferring.

use chrono::Duration;
use qc_domain::{Conversation, ConversationStatus, Identity, Role, Side};

use super::{
    Repositories, agent, at, claimed, client, conversation_id, draft, found, ids, list_all, opened,
    stored, t0, text,
};
use crate::ports::{AppendError, ConversationFilter, PageRequest, Transfer};

/// `find` returns what `insert` stored; one claim wins, one close closes.
pub(super) async fn round_trip_assign_once_and_close_once(r: Repositories) {
    let owner = client("client");
    let (a1, a2) = (agent("agent-1"), agent("agent-2"));
    let c = opened(&r, &owner, t0()).await;
    let missing = conversation_id();
    assert_eq!(
        r.conversations.find(c.id()).await.expect("find"),
        Some(c.clone()),
        "find returns the conversation as inserted"
    );
    assert_eq!(r.conversations.find(missing).await.expect("find"), None);
    assert!(
        r.conversations
            .find_view(missing, Side::Customer)
            .await
            .expect("find_view")
            .is_none(),
        "find_view of a missing conversation is None"
    );

    let claim = |who| r.conversations.try_assign(c.id(), who);
    assert!(
        claim(a1.user_id()).await.expect("try_assign"),
        "the first claim wins"
    );
    assert!(
        !claim(a2.user_id()).await.expect("try_assign"),
        "a second claim loses"
    );
    assert!(
        claim(a1.user_id()).await.is_ok_and(|won| !won),
        "claimed already: no second win, even for the holder"
    );
    assert_eq!(found(&r, c.id()).await.support_id(), Some(a1.user_id()));
    assert!(
        !r.conversations
            .try_assign(missing, a1.user_id())
            .await
            .expect("try_assign"),
        "a missing conversation is claimed by nobody"
    );

    let closed_at = at(60);
    let close = |when| r.conversations.try_close(c.id(), when, a1.user_id());
    assert!(
        close(closed_at).await.expect("try_close"),
        "the first close closes"
    );
    assert!(
        !close(closed_at + Duration::seconds(1))
            .await
            .expect("try_close"),
        "a second close changes nothing"
    );
    let after = found(&r, c.id()).await;
    assert_eq!(after.status(), ConversationStatus::Closed);
    assert_eq!(
        after.closed_at(),
        Some(closed_at),
        "closed when first closed"
    );
    assert_eq!(
        after.support_id(),
        Some(a1.user_id()),
        "closing keeps the agent"
    );
    assert!(
        !claim(a2.user_id()).await.expect("try_assign"),
        "closed: no claim"
    );
    assert!(
        !r.conversations
            .try_close(missing, closed_at, a1.user_id())
            .await
            .expect("try_close"),
        "a missing conversation is closed by nobody"
    );
    r.conversations.health().await.expect("health");
}

/// Of four agents claiming one conversation at once, exactly one wins.
pub(super) async fn concurrent_claims_have_exactly_one_winner(r: Repositories) {
    let owner = client("client");
    let agents: Vec<_> = (0..4).map(|i| agent(&format!("agent-{i}"))).collect();
    for round in 0..20 {
        let id = opened(&r, &owner, t0()).await.id();
        let claims: Vec<_> = agents
            .iter()
            .map(|a| {
                let (repo, a) = (r.conversations.clone(), a.user_id().clone());
                tokio::spawn(async move { repo.try_assign(id, &a).await.expect("try_assign") })
            })
            .collect();
        let mut wins = 0;
        for claim in claims {
            wins += usize::from(claim.await.expect("the claim ran"));
        }
        assert_eq!(wins, 1, "round {round}: one of four racing claims wins");
        let holder = found(&r, id).await;
        assert!(
            agents
                .iter()
                .any(|a| holder.support_id() == Some(a.user_id())),
            "round {round}: held by one of the claimants"
        );
    }
}

/// `insert` counts and inserts as one decision: of 40 opens at once under
/// a cap of 5, five are stored; closing one frees a place.
pub(super) async fn open_conversations_are_capped_per_owner_even_at_once(r: Repositories) {
    let flooder = Identity::new(super::unique("flooder"), Role::Guest);
    let opens: Vec<_> = (0..40)
        .map(|_| {
            let (repo, c) = (r.conversations.clone(), draft(&flooder, t0()));
            tokio::spawn(async move { repo.insert(&c, 5).await.expect("insert").then_some(c) })
        })
        .collect();
    let mut kept = Vec::new();
    for open in opens {
        kept.extend(open.await.expect("the insert ran"));
    }
    assert_eq!(
        kept.len(),
        5,
        "of 40 opens at once under a cap of 5, five are stored"
    );
    let listed = list_all(&r, &ConversationFilter::OwnedBy(flooder.user_id().clone())).await;
    assert_eq!(listed.len(), 5, "nothing past the cap is stored");

    let insert = |c: Conversation| {
        let repo = r.conversations.clone();
        async move { repo.insert(&c, 5).await.expect("insert") }
    };
    let someone = Identity::new(super::unique("someone-else"), Role::Guest);
    assert!(
        insert(draft(&someone, t0())).await,
        "another owner is not affected"
    );
    assert!(!insert(draft(&flooder, t0())).await, "the cap holds");
    assert!(
        r.conversations
            .try_close(kept[0].id(), t0(), flooder.user_id())
            .await
            .expect("try_close")
    );
    assert!(
        insert(draft(&flooder, t0())).await,
        "closing one frees a place"
    );
    assert!(!insert(draft(&flooder, t0())).await, "one place only");
}

/// An owner's listing is newest first and pages; the queue holds the open,
/// unassigned ones, oldest first; an agent's holds theirs.
pub(super) async fn listings_filter_order_and_paginate(r: Repositories) {
    let (owner, other, a) = (client("client-1"), client("client-2"), agent("agent"));
    let mut mine = Vec::new();
    for i in 0..5 {
        mine.push(opened(&r, &owner, at(i)).await);
    }
    let theirs = opened(&r, &other, at(5)).await;
    assert!(
        r.conversations
            .try_assign(mine[1].id(), a.user_id())
            .await
            .expect("try_assign")
    );
    assert!(
        r.conversations
            .try_close(mine[2].id(), at(10), owner.user_id())
            .await
            .expect("try_close")
    );

    let owned = ConversationFilter::OwnedBy(owner.user_id().clone());
    let first = PageRequest {
        after: None,
        limit: 3,
    };
    let p1 = r.conversations.list(&owned, &first).await.expect("list");
    assert_eq!(
        ids(&p1.items),
        vec![mine[4].id(), mine[3].id(), mine[2].id()],
        "an owner's listing: newest first, closed ones too"
    );
    assert_eq!(
        p1.items[2].conversation().status(),
        ConversationStatus::Closed
    );
    assert!(p1.next.is_some(), "more follow the first page");
    let second = PageRequest {
        after: p1.next,
        limit: 3,
    };
    let p2 = r.conversations.list(&owned, &second).await.expect("list");
    assert_eq!(ids(&p2.items), vec![mine[1].id(), mine[0].id()]);
    assert_eq!(p2.next, None, "the last page");
    assert_eq!(
        p2.items[0].conversation().support_id(),
        Some(a.user_id()),
        "listed as stored"
    );

    // The queue is the whole store's: of ours, the open, unassigned ones.
    let queue = list_all(&r, &ConversationFilter::Queue).await;
    assert!(
        queue.windows(2).all(|w| {
            let (older, newer) = (w[0].conversation(), w[1].conversation());
            older.created_at() <= newer.created_at()
        }),
        "the queue: oldest first"
    );
    assert!(
        queue.iter().all(|v| {
            let c = v.conversation();
            c.is_open() && c.support_id().is_none()
        }),
        "the queue: open and unassigned only"
    );
    let ours: Vec<_> = ids(&queue)
        .into_iter()
        .filter(|id| *id == theirs.id() || mine.iter().any(|c| c.id() == *id))
        .collect();
    assert_eq!(
        ours,
        vec![mine[0].id(), mine[3].id(), mine[4].id(), theirs.id()],
        "every open, unassigned conversation waits in the queue"
    );

    let assigned = ConversationFilter::AssignedTo(a.user_id().clone());
    assert_eq!(ids(&list_all(&r, &assigned).await), vec![mine[1].id()]);
}

/// A transfer moves a conversation only from its agent and only while it
/// is open; who serves whom follows it.
pub(super) async fn a_transfer_moves_only_from_its_agent_and_only_while_open(r: Repositories) {
    let owner = client("client");
    let (agent_1, agent_2) = (agent("agent-1"), agent("agent-2"));
    let (a1, a2) = (agent_1.user_id(), agent_2.user_id());
    let c = claimed(&r, &owner, &agent_1, t0()).await;
    let transfer = |from, to, capacity| r.conversations.try_transfer(c.id(), from, to, capacity);
    assert_eq!(
        transfer(a2, Some(a1.clone()), None)
            .await
            .expect("try_transfer"),
        Transfer::Lost,
        "not agent-2's to give"
    );
    for content in ["one", "two"] {
        stored(&r, text(&c, &owner.user(), content, None)).await;
    }
    assert_eq!(
        transfer(a1, Some(a2.clone()), None)
            .await
            .expect("try_transfer"),
        Transfer::Moved { last_seq: 2 },
        "moved after the two texts: seq 1 and 2 were agent-1's"
    );
    assert_eq!(found(&r, c.id()).await.support_id(), Some(a2));
    let served_by = |a| r.conversations.customers_served_by(a);
    assert_eq!(
        served_by(a2).await.expect("customers_served_by"),
        vec![owner.user_id().clone()]
    );
    assert!(served_by(a1).await.expect("customers_served_by").is_empty());
    let serving = || r.conversations.agents_serving(owner.user_id());
    assert_eq!(serving().await.expect("agents_serving"), vec![a2.clone()]);

    let late = r
        .messages
        .append(text(&c, &agent_1.user(), "still here?", None))
        .await;
    assert!(
        matches!(late, Err(AppendError::NotParticipant)),
        "the previous agent's text is refused: {late:?}"
    );

    assert_eq!(
        transfer(a2, None, None).await.expect("try_transfer"),
        Transfer::Moved { last_seq: 2 },
        "back to the queue"
    );
    assert_eq!(found(&r, c.id()).await.support_id(), None);
    assert!(serving().await.expect("agents_serving").is_empty());
    assert!(
        r.conversations
            .try_assign(c.id(), a1)
            .await
            .expect("try_assign")
    );
    assert!(
        r.conversations
            .try_close(c.id(), t0(), a1)
            .await
            .expect("try_close")
    );
    assert_eq!(
        transfer(a1, Some(a2.clone()), None)
            .await
            .expect("try_transfer"),
        Transfer::Lost,
        "a closed conversation never moves"
    );
    assert!(
        served_by(a1).await.expect("customers_served_by").is_empty(),
        "a closed conversation serves nobody"
    );
}
