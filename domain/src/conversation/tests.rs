use super::*;
use ulid::Ulid;

fn who(id: &str, role: Role) -> Identity {
    Identity::new(UserId::new(id).unwrap(), role)
}

fn open_conv() -> Conversation {
    Conversation::open(
        ConversationId::from_ulid(Ulid::generate()),
        &who("client-1", Role::Client),
        Some("  order 42  ".into()),
        Utc::now(),
    )
    .unwrap()
}

/// `c` once the agent `sub` claimed it.
fn assign(c: &mut Conversation, sub: &str) {
    assert_eq!(
        c.assign(&who(sub, Role::Support)),
        Ok(AssignOutcome::Assigned)
    );
}

#[test]
fn only_customers_open_conversations() {
    let c = open_conv();
    assert_eq!(c.status(), ConversationStatus::Open);
    assert_eq!(c.subject(), Some("order 42"));
    assert!(c.support_id().is_none());
    let guest = Conversation::open(
        ConversationId::from_ulid(Ulid::generate()),
        &who("g", Role::Guest),
        Some("   ".into()),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(guest.subject(), None, "blank subject becomes none");
    let err = Conversation::open(
        ConversationId::from_ulid(Ulid::generate()),
        &who("agent", Role::Support),
        None,
        Utc::now(),
    );
    assert!(matches!(err, Err(ConversationError::Forbidden(_))));
}

fn customer(id: &str) -> User {
    User::customer(UserId::new(id).unwrap())
}

fn agent(id: &str) -> User {
    User::agent(UserId::new(id).unwrap())
}

#[test]
fn participants_are_owner_and_assigned_agent() {
    let mut c = open_conv();
    let client = customer("client-1");
    let agent = agent("agent-1");
    assert!(c.is_participant(&client));
    assert!(!c.is_participant(&agent));
    assert_eq!(c.participants(), vec![client.clone()]);
    assign(&mut c, "agent-1");
    assert!(c.is_participant(&agent));
    assert_eq!(c.participants(), vec![client.clone(), agent.clone()]);
    assert_eq!(c.others(&client), vec![agent.clone()]);
    assert_eq!(c.others(&agent), vec![client]);
}

#[test]
fn sending_needs_participation_then_an_open_conversation() {
    let mut c = open_conv();
    let client = customer("client-1");
    let stranger = customer("stranger");
    assert_eq!(c.ensure_can_send(&client), Ok(()));
    assert_eq!(
        c.ensure_can_send(&stranger),
        Err(ConversationError::NotFound)
    );
    assert_eq!(c.close(&client, Utc::now()), Ok(true));
    assert_eq!(c.ensure_can_send(&client), Err(ConversationError::Closed));
    assert_eq!(
        c.ensure_can_send(&stranger),
        Err(ConversationError::NotFound),
        "a stranger learns nothing, not even that it is closed"
    );
}

#[test]
fn claiming_checks_and_applies_in_one_call() {
    let mut c = open_conv();
    let a1 = who("agent-1", Role::Support);
    let a2 = who("agent-2", Role::Support);
    assert!(matches!(
        c.assign(&who("client-1", Role::Client)),
        Err(ConversationError::Forbidden(_))
    ));
    assert_eq!(c.support_id(), None, "a refused claim changes nothing");
    assert_eq!(c.assign(&a1), Ok(AssignOutcome::Assigned));
    assert_eq!(c.support_id(), Some(a1.user_id()));
    assert_eq!(c.assign(&a1), Ok(AssignOutcome::AlreadyMine));
    assert_eq!(c.assign(&a2), Err(ConversationError::AlreadyAssigned));
    assert_eq!(c.support_id(), Some(a1.user_id()), "still the first's");
    assert_eq!(c.close(&customer("client-1"), Utc::now()), Ok(true));
    assert_eq!(c.assign(&a2), Err(ConversationError::Closed), "closed wins");
}

#[test]
fn a_sub_on_the_other_side_is_a_stranger() {
    let mut c = open_conv();
    // A support token carrying the customer's sub, and a customer token
    // carrying the agent's sub: neither is a participant.
    assert!(!c.is_participant(&agent("client-1")));
    assign(&mut c, "agent-1");
    assert!(!c.is_participant(&agent("client-1")));
    assert!(!c.can_view(&who("client-1", Role::Support)));
    assert!(!c.is_participant(&customer("agent-1")));
    assert!(!c.can_view(&who("agent-1", Role::Guest)));
    assert_eq!(
        c.ensure_can_send(&customer("agent-1")),
        Err(ConversationError::NotFound)
    );
    assert_eq!(
        c.close(&agent("client-1"), Utc::now()),
        Err(ConversationError::NotFound)
    );
    assert!(c.is_open());
    // A customer who is also an agent under the same sub, assigned to
    // their own conversation, is two participants.
    let mut own = open_conv();
    assign(&mut own, "client-1");
    assert_eq!(
        own.participants(),
        vec![customer("client-1"), agent("client-1")]
    );
    assert_eq!(own.others(&customer("client-1")), vec![agent("client-1")]);
}

#[test]
fn transfer_checks_and_applies_in_one_call() {
    let mut c = open_conv();
    let a1 = who("agent-1", Role::Support);
    let a2 = who("agent-2", Role::Support);
    let to2 = a2.user_id().clone();
    assert!(matches!(
        c.transfer(&who("client-1", Role::Client), Some(&to2)),
        Err(ConversationError::Forbidden(_))
    ));
    assert_eq!(
        c.transfer(&a1, Some(&to2)),
        Err(ConversationError::NotFound),
        "only the assigned agent transfers; a queued one has none"
    );
    assign(&mut c, "agent-1");
    assert_eq!(
        c.transfer(&a1, Some(a1.user_id())),
        Ok(TransferOutcome::Unchanged)
    );
    assert_eq!(c.support_id(), Some(a1.user_id()));
    assert_eq!(c.transfer(&a2, None), Err(ConversationError::NotFound));
    assert_eq!(
        c.transfer(&who("agent-1", Role::Client), None),
        Err(ConversationError::Forbidden("support agents"))
    );
    assert_eq!(c.transfer(&a1, Some(&to2)), Ok(TransferOutcome::Moves));
    assert_eq!(c.support_id(), Some(&to2), "agent-2's now");
    assert_eq!(
        c.transfer(&a1, None),
        Err(ConversationError::NotFound),
        "agent-1 gave it away"
    );
    assert_eq!(c.transfer(&a2, None), Ok(TransferOutcome::Moves));
    assert_eq!(c.support_id(), None, "back in the queue");
    assign(&mut c, "agent-1");
    assert_eq!(c.close(&customer("client-1"), Utc::now()), Ok(true));
    assert_eq!(c.transfer(&a1, Some(&to2)), Err(ConversationError::Closed));
    assert_eq!(
        c.transfer(&a2, Some(&to2)),
        Err(ConversationError::NotFound),
        "a stranger learns nothing, not even that it is closed"
    );
}

#[test]
fn viewing_rules() {
    let mut c = open_conv();
    assert!(c.can_view(&who("client-1", Role::Client)));
    assert!(
        c.can_view(&who("any-agent", Role::Support)),
        "queue preview"
    );
    assert!(!c.can_view(&who("other-client", Role::Client)));
    assign(&mut c, "agent-1");
    assert!(c.can_view(&who("agent-1", Role::Support)));
    assert!(!c.can_view(&who("any-agent", Role::Support)));
}

#[test]
fn closing_is_idempotent_and_for_participants() {
    let mut c = open_conv();
    let client = customer("client-1");
    assert_eq!(
        c.close(&customer("x"), Utc::now()),
        Err(ConversationError::NotFound)
    );
    assert!(c.is_open());
    let at = Utc::now();
    assert_eq!(c.close(&client, at), Ok(true));
    assert_eq!(c.closed_at(), Some(at));
    assert_eq!(
        c.close(&client, at + chrono::Duration::seconds(5)),
        Ok(false)
    );
    assert_eq!(c.closed_at(), Some(at), "a second close changes nothing");
}

#[test]
fn replayed_events_change_only_their_conversation() {
    let mut c = open_conv();
    let other = ConversationId::from_ulid(Ulid::generate());
    let at = Utc::now();
    let agent = UserId::new("agent-9").unwrap();
    let assigned = |conversation_id, support_id: Option<UserId>| ChatEvent::ConversationAssigned {
        conversation_id,
        support_id,
        previous_support_id: None,
        last_seq: None,
        at,
    };
    c.apply(&assigned(other, Some(agent.clone())));
    assert_eq!(c.support_id(), None, "another conversation's event");
    c.apply(&assigned(c.id(), Some(agent.clone())));
    assert_eq!(c.support_id(), Some(&agent));
    c.apply(&ChatEvent::ConversationClosed {
        conversation_id: c.id(),
        closed_by: agent.clone(),
        at,
    });
    assert_eq!(
        (c.status(), c.closed_at()),
        (ConversationStatus::Closed, Some(at))
    );
    c.apply(&ChatEvent::ConversationClosed {
        conversation_id: c.id(),
        closed_by: agent,
        at: at + chrono::Duration::seconds(1),
    });
    assert_eq!(c.closed_at(), Some(at), "closed once");
}

#[test]
fn restore_keeps_status_and_close_time_coherent() {
    let c = open_conv();
    let at = Utc::now();
    let closed = Conversation::restore(
        c.id(),
        c.client_id().clone(),
        None,
        ConversationStatus::Closed,
        None,
        at,
        None,
    );
    assert_eq!(
        closed.closed_at(),
        Some(at),
        "a closed one has a close time"
    );
    let open = Conversation::restore(
        c.id(),
        c.client_id().clone(),
        None,
        ConversationStatus::Open,
        None,
        at,
        Some(at),
    );
    assert_eq!(open.closed_at(), None, "an open one has none");
}
