//! Appending: numbering, refusals, idempotent retries, races, publish turns.

use std::time::Duration;

use qc_domain::{ClientMsgId, Message, MessageKind, User};

use super::{
    Repositories, agent, claimed, client, draft, everything, opened, seqs, stored,
    stored_with_turn, t0, text, unique, written_at,
};
use crate::ports::{AppendError, Appended};

/// How long a released turn may take to finish.
const RELEASED: Duration = Duration::from_secs(10);

/// `seq` counts 1, 2, 3… per conversation; an append into a closed or
/// missing conversation, or from a non-participant, stores nothing.
pub(super) async fn append_numbers_messages_and_refuses_closed_missing_or_strangers(
    r: Repositories,
) {
    let (owner, a) = (client("client-1"), agent("agent"));
    let c = claimed(&r, &owner, &a, t0()).await;
    let m1 = stored(&r, text(&c, &owner.user(), "Hello", None)).await;
    let m2 = stored(&r, text(&c, &a.user(), "Hi!", None)).await;
    assert_eq!((m1.seq(), m2.seq()), (1, 2), "seq counts from 1");
    assert_eq!(m1.content(), "Hello");
    assert_eq!(m1.created_at(), written_at(), "created_at as written");
    assert_eq!(m1.conversation_id(), c.id());
    assert_eq!(m1.sender(), &owner.user());
    assert_eq!(m2.sender(), &a.user());
    assert_eq!(m1.kind(), MessageKind::Text);
    assert_eq!(m1.read_at(), None, "unread when stored");

    let other_owner = client("client-2");
    let other = opened(&r, &other_owner, t0()).await;
    let first = stored(&r, text(&other, &other_owner.user(), "x", None)).await;
    assert_eq!(first.seq(), 1, "seq is per conversation");

    let strangers = [
        ("another customer", User::customer(unique("stranger"))),
        (
            "an agent who does not hold it",
            User::agent(unique("agent-2")),
        ),
        (
            "the owner's sub as an agent",
            User::agent(owner.user_id().clone()),
        ),
    ];
    for (who, stranger) in strangers {
        let refused = r.messages.append(text(&c, &stranger, "x", None)).await;
        assert!(
            matches!(refused, Err(AppendError::NotParticipant)),
            "{who}: {refused:?}"
        );
    }
    let queued = r.messages.append(text(&other, &a.user(), "x", None)).await;
    assert!(
        matches!(queued, Err(AppendError::NotParticipant)),
        "no agent writes into a waiting conversation: {queued:?}"
    );
    let ghost = draft(&owner, t0());
    let missing = r
        .messages
        .append(text(&ghost, &owner.user(), "x", None))
        .await;
    assert!(
        matches!(missing, Err(AppendError::ConversationMissing)),
        "{missing:?}"
    );
    let m3 = stored(&r, text(&c, &owner.user(), "still there", None)).await;
    assert_eq!(m3.seq(), 3, "refused appends leave no gap");

    assert!(
        r.conversations
            .try_close(c.id(), t0(), a.user_id())
            .await
            .expect("try_close")
    );
    for from in [owner.user(), a.user()] {
        let late = r.messages.append(text(&c, &from, "late", None)).await;
        assert!(
            matches!(late, Err(AppendError::ConversationClosed)),
            "{from:?} into a closed conversation: {late:?}"
        );
    }
    assert_eq!(
        seqs(&everything(&r, c.id()).await),
        vec![1, 2, 3],
        "nothing refused was stored"
    );
}

/// A `(conversation, sender, client_msg_id)` seen before returns the stored
/// message; the retry is not stored and leaves no gap.
pub(super) async fn a_client_msg_id_makes_a_retry_return_the_original(r: Repositories) {
    let (owner, a) = (client("client"), agent("agent"));
    let c = claimed(&r, &owner, &a, t0()).await;
    let first = stored(&r, text(&c, &owner.user(), "first", Some("k-1"))).await;
    assert_eq!(first.client_msg_id().map(ClientMsgId::as_str), Some("k-1"));
    let again = r
        .messages
        .append(text(&c, &owner.user(), "retry", Some("k-1")))
        .await
        .expect("append");
    assert_eq!(
        again,
        Appended::Duplicate(first.clone()),
        "a retry returns the stored original, unchanged"
    );
    let next = stored(&r, text(&c, &owner.user(), "next", None)).await;
    assert_eq!(next.seq(), 2, "the retry left no gap");
    let theirs = stored(&r, text(&c, &a.user(), "x", Some("k-1"))).await;
    assert_eq!(
        theirs.seq(),
        3,
        "the same key from another sender is another message"
    );
    let all = everything(&r, c.id()).await;
    let contents: Vec<&str> = all.iter().map(Message::content).collect();
    assert_eq!(
        contents,
        vec!["first", "next", "x"],
        "the retry was not stored"
    );
}

/// Ten appends with one `client_msg_id` at once: one stored, nine get it.
pub(super) async fn one_client_msg_id_sent_ten_times_at_once_is_stored_once(r: Repositories) {
    let owner = client("client");
    let c = opened(&r, &owner, t0()).await;
    let sends: Vec<_> = (0..10)
        .map(|i| {
            let messages = r.messages.clone();
            let m = text(&c, &owner.user(), &format!("try {i}"), Some("same"));
            tokio::spawn(async move { messages.append(m).await.expect("append") })
        })
        .collect();
    let (mut accepted, mut duplicates) = (Vec::new(), Vec::new());
    for send in sends {
        match send.await.expect("the append ran") {
            Appended::Stored { message, .. } => accepted.push(message),
            Appended::Duplicate(message) => duplicates.push(message),
        }
    }
    assert_eq!(accepted.len(), 1, "stored once");
    assert_eq!(duplicates.len(), 9, "the other nine are duplicates");
    assert!(
        duplicates.iter().all(|d| d == &accepted[0]),
        "each duplicate is the stored message"
    );
    assert_eq!(accepted[0].seq(), 1);
    let next = stored(&r, text(&c, &owner.user(), "after", None)).await;
    assert_eq!(next.seq(), 2, "the duplicates left no gap");
}

/// Customer and agent sending 100 texts each at once: seq 1 to 200, no gap,
/// no duplicate.
pub(super) async fn two_racing_senders_get_seq_1_to_200_without_gap(r: Repositories) {
    let (owner, a) = (client("client"), agent("agent"));
    let c = claimed(&r, &owner, &a, t0()).await;
    let senders: Vec<_> = [owner.user(), a.user()]
        .into_iter()
        .map(|who| {
            let (r, c) = (r.clone(), c.clone());
            tokio::spawn(async move {
                for i in 0..100 {
                    stored(&r, text(&c, &who, &format!("{i}"), None)).await;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("the sender finished");
    }
    assert_eq!(
        seqs(&everything(&r, c.id()).await),
        (1..=200).collect::<Vec<_>>()
    );
}

/// 20 conversations, their customer, their agent and a stranger sending
/// into each at once: every conversation gets 1 to 40, the broadcast goes
/// to its participants, the stranger stores nothing.
pub(super) async fn concurrent_appends_across_conversations_are_gapless(r: Repositories) {
    let a = agent("agent");
    let stranger = User::customer(unique("stranger"));
    let mut conversations = Vec::new();
    for i in 0..20 {
        let owner = client(&format!("client-{i}"));
        conversations.push(claimed(&r, &owner, &a, t0()).await);
    }
    let mut senders = Vec::new();
    for c in &conversations {
        for who in [c.customer(), a.user(), stranger.clone()] {
            let (r, c) = (r.clone(), c.clone());
            senders.push(tokio::spawn(async move {
                let mut expected = c.participants();
                expected.sort();
                let mut refused = 0;
                for i in 0..20 {
                    let m = text(&c, &who, &format!("{i}"), None);
                    match r.messages.append(m).await {
                        Ok(Appended::Stored {
                            mut participants, ..
                        }) => {
                            participants.sort();
                            assert_eq!(participants, expected, "the broadcast's recipients");
                        }
                        Err(AppendError::NotParticipant) => refused += 1,
                        other => panic!("{who:?} into {}: unexpected {other:?}", c.id()),
                    }
                }
                (who, refused)
            }));
        }
    }
    for sender in senders {
        let (who, refused) = sender.await.expect("the sender finished");
        let expected = if who == stranger { 20 } else { 0 };
        assert_eq!(refused, expected, "{who:?}: refusals");
    }
    for c in &conversations {
        let all = everything(&r, c.id()).await;
        assert_eq!(seqs(&all), (1..=40).collect::<Vec<_>>(), "{}", c.id());
        assert!(
            all.iter().all(|m| m.sender() != &stranger),
            "the stranger stored nothing"
        );
    }
}

/// `settled` gives a turn after every text stored so far: it waits for
/// their publish, and the next text waits for it in turn.
pub(super) async fn a_settled_turn_waits_for_the_texts_stored_before_it(r: Repositories) {
    let (owner, a) = (client("client"), agent("agent"));
    let c = claimed(&r, &owner, &a, t0()).await;
    let (_, held) = stored_with_turn(&r, text(&c, &owner.user(), "before", None)).await;

    // The text's publish is still under way (its turn is held): polled
    // once, the fence's wait is pending, and stays so until the turn goes.
    let mut fence = r.messages.settled(c.id()).await;
    {
        let mut waiting = std::pin::pin!(fence.wait());
        assert!(
            poll_once(&mut waiting).await.is_pending(),
            "the fence waits for the text's publish"
        );
        drop(held);
        tokio::time::timeout(RELEASED, waiting)
            .await
            .expect("the fence is released once the text before it is published");
    }

    // The next text waits for the fence in turn.
    let (_, mut next) = stored_with_turn(&r, text(&c, &owner.user(), "after", None)).await;
    {
        let mut waiting = std::pin::pin!(next.wait());
        assert!(
            poll_once(&mut waiting).await.is_pending(),
            "the next text waits while the fence is held"
        );
        drop(fence);
        tokio::time::timeout(RELEASED, waiting)
            .await
            .expect("the next text's turn comes once the fence is dropped");
    }

    // A conversation with nothing stored has nothing to wait for.
    let other = opened(&r, &client("client-2"), t0()).await;
    let mut nothing = r.messages.settled(other.id()).await;
    tokio::time::timeout(RELEASED, nothing.wait())
        .await
        .expect("nothing stored: nothing to wait for");
}

/// Polls `future` once: whether it is ready now, without waiting and
/// without dropping it (a dropped wait would give its turn up).
async fn poll_once<F: std::future::Future + Unpin>(future: &mut F) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *future).poll(cx)))
        .await
}
