//! Reading: history pages, read receipts, notes, each side's view, and a
//! customer and an agent with one `sub`.

use qc_domain::{Identity, Message, MessageId, MessageKind, Role, Side, User};

use super::{
    Repositories, agent, at, claimed, client, everything, history_page, message_id, note, opened,
    seqs, stored, t0, text, unique, view,
};
use crate::ports::{
    AppendError, Appended, ConversationFilter, HistoryCursor, HistoryError, HistoryQuery,
    MarkReadError, PageRequest,
};

/// Pages of seven messages from every cursor, with the right `next`.
pub(super) async fn history_pages_latest_before_after_and_between(r: Repositories) {
    let owner = client("client");
    let c = opened(&r, &owner, t0()).await;
    let mut all = Vec::new();
    for i in 1..=7 {
        all.push(stored(&r, text(&c, &owner.user(), &format!("m{i}"), None)).await);
    }
    let id = |seq: usize| all[seq - 1].id();
    let page = |cursor, limit| history_page(&r, c.id(), cursor, limit);

    let whole = page(HistoryCursor::Latest, 50).await;
    assert_eq!(whole.items, all, "history returns the messages as stored");
    assert_eq!(whole.next, None, "nothing older");
    let latest = page(HistoryCursor::Latest, 3).await;
    assert_eq!(
        seqs(&latest.items),
        vec![5, 6, 7],
        "the latest, oldest first"
    );
    assert_eq!(
        latest.next,
        Some(id(5)),
        "older ones exist: the oldest item"
    );
    let before = page(HistoryCursor::Before(id(5)), 3).await;
    assert_eq!(seqs(&before.items), vec![2, 3, 4]);
    assert_eq!(before.next, Some(id(2)));
    let first = page(HistoryCursor::Before(id(2)), 3).await;
    assert_eq!(seqs(&first.items), vec![1]);
    assert_eq!(first.next, None, "nothing older than the first");
    let after = page(HistoryCursor::After(id(2)), 3).await;
    assert_eq!(seqs(&after.items), vec![3, 4, 5]);
    assert_eq!(after.next, Some(id(5)), "more follow: the newest item");
    let tail = page(HistoryCursor::After(id(5)), 3).await;
    assert_eq!(seqs(&tail.items), vec![6, 7]);
    assert_eq!(tail.next, None, "nothing newer");
    let between = page(HistoryCursor::Between(id(2), id(6)), 2).await;
    assert_eq!(seqs(&between.items), vec![3, 4]);
    assert_eq!(between.next, Some(id(4)));
    let rest = page(HistoryCursor::Between(id(4), id(6)), 2).await;
    assert_eq!(seqs(&rest.items), vec![5]);
    assert_eq!(rest.next, None);

    let other = opened(&r, &client("client-2"), t0()).await;
    let query = HistoryQuery {
        cursor: HistoryCursor::After(id(1)),
        limit: 3,
        viewer: Side::Agent,
    };
    let foreign = r.messages.history(other.id(), query).await;
    assert!(
        matches!(foreign, Err(HistoryError::UnknownCursor)),
        "a message of another conversation is no cursor: {foreign:?}"
    );
    let query = HistoryQuery {
        cursor: HistoryCursor::Before(message_id()),
        ..query
    };
    let unknown = r.messages.history(c.id(), query).await;
    assert!(
        matches!(unknown, Err(HistoryError::UnknownCursor)),
        "{unknown:?}"
    );
}

/// `mark_read` sets `read_at` on the other side's unread texts up to the
/// id, once, and counts them.
pub(super) async fn mark_read_marks_the_other_sides_texts_up_to_the_id(r: Repositories) {
    let (owner, a) = (client("client"), agent("agent"));
    let c = claimed(&r, &owner, &a, t0()).await;
    let q1 = stored(&r, text(&c, &owner.user(), "q1", None)).await;
    let a1 = stored(&r, text(&c, &a.user(), "a1", None)).await;
    let q2 = stored(&r, text(&c, &owner.user(), "q2", None)).await;
    let q3 = stored(&r, text(&c, &owner.user(), "q3", None)).await;
    let read_at = at(9);
    let reader = a.user();
    let mark = |up_to| r.messages.mark_read(c.id(), &reader, up_to, read_at);
    assert_eq!(mark(q2.id()).await.expect("mark_read"), 2, "q1 and q2");
    assert_eq!(mark(q2.id()).await.expect("mark_read"), 0, "idempotent");
    let read: Vec<_> = everything(&r, c.id())
        .await
        .iter()
        .map(|m| (m.id(), m.read_at()))
        .collect();
    assert_eq!(
        read,
        vec![
            (q1.id(), Some(read_at)),
            (a1.id(), None),
            (q2.id(), Some(read_at)),
            (q3.id(), None)
        ],
        "the customer's texts up to q2; the agent's own text stays unread"
    );
    let unknown = mark(message_id()).await;
    assert!(
        matches!(unknown, Err(MarkReadError::UnknownMessage)),
        "{unknown:?}"
    );
    let other = opened(&r, &client("client-2"), t0()).await;
    let elsewhere = stored(&r, text(&other, &other.customer(), "x", None)).await;
    let foreign = mark(elsewhere.id()).await;
    assert!(
        matches!(foreign, Err(MarkReadError::UnknownMessage)),
        "a message of another conversation: {foreign:?}"
    );
}

/// A note takes a seq like a text, but a customer never sees it: not in
/// history, not as a cursor, never as a read receipt.
pub(super) async fn notes_take_a_seq_and_only_agents_see_them(r: Repositories) {
    let (owner, a) = (client("client"), agent("agent"));
    let c = claimed(&r, &owner, &a, t0()).await;
    let t1 = stored(&r, text(&c, &owner.user(), "hello", None)).await;
    let n = stored(&r, note(&c, &a.user(), "VIP customer")).await;
    let t2 = stored(&r, text(&c, &a.user(), "how can I help?", None)).await;
    assert_eq!((t1.seq(), n.seq(), t2.seq()), (1, 2, 3), "notes take a seq");
    assert_eq!(n.kind(), MessageKind::Note);

    let history = |viewer, cursor| {
        let query = HistoryQuery {
            cursor,
            limit: 50,
            viewer,
        };
        r.messages.history(c.id(), query)
    };
    let agents = history(Side::Agent, HistoryCursor::Latest).await;
    assert_eq!(seqs(&agents.expect("history").items), vec![1, 2, 3]);
    let customers = history(Side::Customer, HistoryCursor::Latest).await;
    assert_eq!(
        seqs(&customers.expect("history").items),
        vec![1, 3],
        "no note in a customer's history"
    );
    let by_note = history(Side::Customer, HistoryCursor::After(n.id())).await;
    assert!(
        matches!(by_note, Err(HistoryError::UnknownCursor)),
        "a note is no cursor for a customer: {by_note:?}"
    );

    let mark = |reader: User, up_to: MessageId| {
        let messages = r.messages.clone();
        let id = c.id();
        async move { messages.mark_read(id, &reader, up_to, t0()).await }
    };
    let customer = owner.user();
    let by_customer = mark(customer.clone(), n.id()).await;
    assert!(
        matches!(by_customer, Err(MarkReadError::UnknownMessage)),
        "a note is no read receipt: {by_customer:?}"
    );
    let by_agent = mark(a.user(), n.id()).await;
    assert!(
        matches!(by_agent, Err(MarkReadError::UnknownMessage)),
        "a note is no read receipt for agents either: {by_agent:?}"
    );
    assert_eq!(
        mark(customer, t2.id()).await.expect("mark_read"),
        1,
        "the agent's text, not the note"
    );
    let noted: Vec<Message> = everything(&r, c.id()).await;
    assert_eq!(noted[1].read_at(), None, "reading never marks a note");
}

/// Each side's view: its latest visible message, and the other side's
/// texts it has not read; the listings carry the same views.
pub(super) async fn last_message_and_unread_count_are_each_sides_view(r: Repositories) {
    let (owner, a) = (client("client"), agent("agent"));
    let c = claimed(&r, &owner, &a, t0()).await;
    let empty = view(&r, c.id(), Side::Customer).await;
    assert_eq!((empty.last_message(), empty.unread_count()), (None, 0));
    assert_eq!(empty.conversation(), &c, "the conversation as stored");

    let m1 = stored(&r, text(&c, &owner.user(), "one", None)).await;
    let m2 = stored(&r, text(&c, &owner.user(), "two", None)).await;
    let reply = stored(&r, text(&c, &a.user(), "reply", None)).await;
    let internal = stored(&r, note(&c, &a.user(), "internal")).await;

    let agents = view(&r, c.id(), Side::Agent).await;
    assert_eq!(
        agents.last_message(),
        Some(&internal),
        "the latest, note or not"
    );
    assert_eq!(agents.unread_count(), 2, "the customer's two texts");
    let customers = view(&r, c.id(), Side::Customer).await;
    assert_eq!(
        customers.last_message(),
        Some(&reply),
        "the latest text: never a note"
    );
    assert_eq!(
        customers.unread_count(),
        1,
        "the reply; a note never counts"
    );

    let reader = a.user();
    let agent_reads = |up_to| r.messages.mark_read(c.id(), &reader, up_to, t0());
    assert_eq!(agent_reads(m1.id()).await.expect("mark_read"), 1);
    assert_eq!(view(&r, c.id(), Side::Agent).await.unread_count(), 1);
    assert_eq!(agent_reads(m2.id()).await.expect("mark_read"), 1);
    assert_eq!(view(&r, c.id(), Side::Agent).await.unread_count(), 0);
    assert_eq!(view(&r, c.id(), Side::Customer).await.unread_count(), 1);

    let page = PageRequest {
        after: None,
        limit: 10,
    };
    let owned = ConversationFilter::OwnedBy(owner.user_id().clone());
    let mine = r.conversations.list(&owned, &page).await.expect("list");
    assert_eq!(mine.items.len(), 1);
    assert_eq!(
        mine.items[0].last_message(),
        Some(&reply),
        "a customer's listing"
    );
    assert_eq!(mine.items[0].unread_count(), 1);
    let assigned = ConversationFilter::AssignedTo(a.user_id().clone());
    let theirs = r.conversations.list(&assigned, &page).await.expect("list");
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(
        theirs.items[0].last_message(),
        Some(&internal),
        "an agent's listing"
    );
    assert_eq!(theirs.items[0].unread_count(), 0);
}

/// A customer and an agent with one `sub` are two users: neither is a
/// participant as the other, one `client_msg_id` on both sides is two
/// messages, and each reads only the other side's texts.
pub(super) async fn a_customer_and_an_agent_sharing_a_sub_are_two_users(r: Repositories) {
    let sub = unique("same");
    let as_customer = Identity::new(sub.clone(), Role::Client);
    let as_agent = Identity::new(sub.clone(), Role::Support);
    let own = opened(&r, &as_customer, t0()).await;
    let other_owner = client("client-2");
    let served = claimed(&r, &other_owner, &as_agent, t0()).await;
    for (c, who) in [(&own, as_agent.user()), (&served, as_customer.user())] {
        let refused = r.messages.append(text(c, &who, "x", None)).await;
        assert!(
            matches!(refused, Err(AppendError::NotParticipant)),
            "{who:?} in {}: {refused:?}",
            c.id()
        );
    }

    // Assigned to themselves, the two users talk.
    assert!(
        r.conversations
            .try_assign(own.id(), &sub)
            .await
            .expect("try_assign")
    );
    let q = stored(&r, text(&own, &as_customer.user(), "question", Some("m1"))).await;
    let a = stored(&r, text(&own, &as_agent.user(), "answer", Some("m1"))).await;
    assert_eq!((q.seq(), q.sender().side()), (1, Side::Customer));
    assert_eq!((a.seq(), a.sender().side()), (2, Side::Agent));
    let again = r
        .messages
        .append(text(&own, &as_agent.user(), "again", Some("m1")))
        .await
        .expect("append");
    assert!(
        matches!(&again, Appended::Duplicate(m) if m.id() == a.id()),
        "a retry is the agent's, not the customer's: {again:?}"
    );

    let read_at = at(3);
    let marked = r
        .messages
        .mark_read(own.id(), &as_customer.user(), a.id(), read_at)
        .await
        .expect("mark_read");
    assert_eq!(
        marked, 1,
        "the customer reads the agent's text, not their own"
    );
    let seen: Vec<_> = everything(&r, own.id())
        .await
        .iter()
        .map(|m| (m.sender().side(), m.read_at()))
        .collect();
    assert_eq!(
        seen,
        vec![(Side::Customer, None), (Side::Agent, Some(read_at))]
    );

    let mut served_by = r
        .conversations
        .customers_served_by(&sub)
        .await
        .expect("customers_served_by");
    served_by.sort();
    let mut expected = vec![sub.clone(), other_owner.user_id().clone()];
    expected.sort();
    assert_eq!(served_by, expected, "as an agent: both conversations");
    assert_eq!(
        r.conversations
            .agents_serving(&sub)
            .await
            .expect("agents_serving"),
        vec![sub.clone()],
        "as a customer: their own conversation only"
    );
}
