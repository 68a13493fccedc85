//! The repository ports' contract: [`ConversationRepository`],
//! [`MessageRepository`] and [`AgentRepository`], as one store implements
//! them together.
//!
//! Each check is an `async fn` taking a fresh [`Repositories`]; they run
//! one after another, each as its own task, and a failing one panics
//! naming itself. Every check makes up its own ids (ULIDs), so checks do
//! not see each other's rows even when `fresh` hands out the same store
//! each time: listings are scoped by an owner or agent of the check's own,
//! and the routing check first hands whatever waits in the store to an
//! agent of its own. Nothing else may use the store while the contract
//! runs.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use qc_domain::{
    ClientMsgId, Conversation, ConversationId, ConversationView, Identity, Message, MessageContent,
    MessageId, MessageKind, NewMessage, Role, Side, User, UserId,
};
use ulid::Ulid;

use crate::ports::{
    AgentRepository, Appended, ConversationFilter, ConversationRepository, HistoryCursor,
    HistoryPage, HistoryQuery, MessageRepository, PageRequest, PublishTurn,
};

mod conversations;
mod desk;
mod messages;
mod reading;

/// One store's three repositories, as the application holds them.
#[derive(Clone)]
pub struct Repositories {
    pub conversations: Arc<dyn ConversationRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub agents: Arc<dyn AgentRepository>,
}

impl Repositories {
    /// The three repositories of one store (they share its data).
    pub fn new(
        conversations: impl ConversationRepository + 'static,
        messages: impl MessageRepository + 'static,
        agents: impl AgentRepository + 'static,
    ) -> Self {
        Self {
            conversations: Arc::new(conversations),
            messages: Arc::new(messages),
            agents: Arc::new(agents),
        }
    }
}

/// Runs every check of the repository contract, each on the store `fresh`
/// returns (a new, empty one is best; the same one each time works too).
/// Call it from a Tokio runtime; a multi-threaded one makes the races
/// real races.
///
/// # Panics
/// On the first check the store fails, naming it and saying why.
pub async fn repository_contract<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Repositories>,
{
    macro_rules! checks {
        ($fresh:ident; $($module:ident :: $name:ident),+ $(,)?) => {
            $(
                run(
                    concat!(stringify!($module), "::", stringify!($name)),
                    $module::$name($fresh().await),
                )
                .await;
            )+
        };
    }
    checks!(fresh;
        conversations::round_trip_assign_once_and_close_once,
        conversations::concurrent_claims_have_exactly_one_winner,
        conversations::open_conversations_are_capped_per_owner_even_at_once,
        conversations::listings_filter_order_and_paginate,
        conversations::a_transfer_moves_only_from_its_agent_and_only_while_open,
        messages::append_numbers_messages_and_refuses_closed_missing_or_strangers,
        messages::a_client_msg_id_makes_a_retry_return_the_original,
        messages::one_client_msg_id_sent_ten_times_at_once_is_stored_once,
        messages::two_racing_senders_get_seq_1_to_200_without_gap,
        messages::concurrent_appends_across_conversations_are_gapless,
        messages::a_settled_turn_waits_for_the_texts_stored_before_it,
        reading::history_pages_latest_before_after_and_between,
        reading::mark_read_marks_the_other_sides_texts_up_to_the_id,
        reading::notes_take_a_seq_and_only_agents_see_them,
        reading::last_message_and_unread_count_are_each_sides_view,
        reading::a_customer_and_an_agent_sharing_a_sub_are_two_users,
        desk::agents_are_recorded_once_keep_away_and_count_open_conversations,
        desk::routing_decides_within_capacity_oldest_first,
        desk::racing_claims_by_one_agent_stop_at_the_capacity,
    );
}

/// Runs one check as its own task; its panic becomes one naming it.
async fn run(name: &'static str, check: impl Future<Output = ()> + Send + 'static) {
    match tokio::spawn(check).await {
        Ok(()) => {}
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let why = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("repository contract: check `{name}` failed: {why}");
        }
        Err(e) => panic!("repository contract: check `{name}` did not finish: {e}"),
    }
}

// Fixtures shared by the checks.

/// 2025-11-18 10:30:00 UTC: whole milliseconds, as every store keeps them.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 18, 10, 30, 0).unwrap()
}

/// `seconds` after [`t0`].
fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

/// When the checks' messages are written.
fn written_at() -> DateTime<Utc> {
    t0() + Duration::milliseconds(123)
}

/// A user id nobody else uses: `name`, then a fresh ULID.
fn unique(name: &str) -> UserId {
    UserId::new(format!("{name}-{}", Ulid::generate())).expect("a valid user id")
}

/// A client of their own.
fn client(name: &str) -> Identity {
    Identity::new(unique(name), Role::Client)
}

/// A support agent of their own.
fn agent(name: &str) -> Identity {
    Identity::new(unique(name), Role::Support)
}

fn conversation_id() -> ConversationId {
    ConversationId::from_ulid(Ulid::generate())
}

fn message_id() -> MessageId {
    MessageId::from_ulid(Ulid::generate())
}

/// A conversation `owner` opens at `at`, not stored yet.
fn draft(owner: &Identity, at: DateTime<Utc>) -> Conversation {
    Conversation::open(conversation_id(), owner, Some("subject".into()), at)
        .expect("a customer opens a conversation")
}

/// A conversation `owner` opened at `at`, stored (well under the cap).
async fn opened(r: &Repositories, owner: &Identity, at: DateTime<Utc>) -> Conversation {
    let c = draft(owner, at);
    let inserted = r.conversations.insert(&c, 1000).await.expect("insert");
    assert!(inserted, "insert under the cap stores the conversation");
    c
}

/// A conversation `owner` opened at `at`, stored and claimed by `agent`;
/// returned as stored.
async fn claimed(
    r: &Repositories,
    owner: &Identity,
    agent: &Identity,
    at: DateTime<Utc>,
) -> Conversation {
    let mut c = opened(r, owner, at).await;
    let won = r
        .conversations
        .try_assign(c.id(), agent.user_id())
        .await
        .expect("try_assign");
    assert!(won, "try_assign claims an open, unassigned conversation");
    c.assign(agent)
        .expect("an agent claims an open conversation");
    c
}

/// A message of `kind` from `from` into `c`, written at [`written_at`].
fn write(
    c: &Conversation,
    from: &User,
    kind: MessageKind,
    content: &str,
    client_msg_id: Option<&str>,
) -> NewMessage {
    NewMessage::write(
        message_id(),
        c.id(),
        from.clone(),
        kind,
        MessageContent::new(content).expect("non-blank content"),
        client_msg_id.map(|k| ClientMsgId::new(k).expect("a valid client_msg_id")),
        written_at(),
    )
    .expect("this side may write this kind")
}

/// A text from `from` into `c`.
fn text(c: &Conversation, from: &User, content: &str, client_msg_id: Option<&str>) -> NewMessage {
    write(c, from, MessageKind::Text, content, client_msg_id)
}

/// A note from the agent `from` into `c`.
fn note(c: &Conversation, from: &User, content: &str) -> NewMessage {
    write(c, from, MessageKind::Note, content, None)
}

/// Appends `m`, which must be stored (not a duplicate, not refused); its
/// publish turn is released at once.
async fn stored(r: &Repositories, m: NewMessage) -> Message {
    stored_with_turn(r, m).await.0
}

/// Appends `m`, which must be stored; with its publish turn, still held.
async fn stored_with_turn(r: &Repositories, m: NewMessage) -> (Message, PublishTurn) {
    match r.messages.append(m).await {
        Ok(Appended::Stored { message, turn, .. }) => (message, turn),
        other => panic!("append: expected the message stored, got {other:?}"),
    }
}

/// A page of `c`'s history as an agent sees it (everything).
async fn history_page(
    r: &Repositories,
    c: ConversationId,
    cursor: HistoryCursor,
    limit: u32,
) -> HistoryPage {
    let query = HistoryQuery {
        cursor,
        limit,
        viewer: Side::Agent,
    };
    r.messages.history(c, query).await.expect("history")
}

/// The latest 1,000 messages of `c` (all of a check's), oldest first.
async fn everything(r: &Repositories, c: ConversationId) -> Vec<Message> {
    history_page(r, c, HistoryCursor::Latest, 1000).await.items
}

fn seqs(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(Message::seq).collect()
}

fn ids(views: &[ConversationView]) -> Vec<ConversationId> {
    views.iter().map(|v| v.conversation().id()).collect()
}

/// The stored conversation `id`, which must exist.
async fn found(r: &Repositories, id: ConversationId) -> Conversation {
    r.conversations
        .find(id)
        .await
        .expect("find")
        .expect("the conversation is stored")
}

/// Conversation `id` as a user on `side` sees it; it must exist.
async fn view(r: &Repositories, id: ConversationId, side: Side) -> ConversationView {
    r.conversations
        .find_view(id, side)
        .await
        .expect("find_view")
        .expect("the conversation is stored")
}

/// Every page of a listing, in the listing's order.
async fn list_all(r: &Repositories, filter: &ConversationFilter) -> Vec<ConversationView> {
    let mut all = Vec::new();
    let mut after = None;
    for _ in 0..10_000 {
        let page = PageRequest { after, limit: 100 };
        let page = r.conversations.list(filter, &page).await.expect("list");
        all.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
    panic!("list {filter:?}: `next` never ends");
}
