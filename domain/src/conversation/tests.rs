
use super::*;
use ulid::Ulid;

fn who(id: &str, role: Role) -> Identity {
    Identity {
        user_id: UserId::new(id).unwrap(),
        role,
    }
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

#[test]
fn only_customers_open_conversations() {
    let c = open_conv();
    assert_eq!(c.status, ConversationStatus::Open);
    assert_eq!(c.subject.as_deref(), Some("order 42"));
    assert!(c.support_id.is_none());
    let guest = Conversation::open(
        ConversationId::from_ulid(Ulid::generate()),
        &who("g", Role::Guest),
        Some("   ".into()),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(guest.subject, None, "blank subject becomes none");
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
    c.assign_to(agent.id.clone());
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
    c.close(Utc::now());
    assert_eq!(c.ensure_can_send(&client), Err(ConversationError::Closed));
    assert_eq!(
        c.ensure_can_send(&stranger),
        Err(ConversationError::NotFound),
        "a stranger learns nothing, not even that it is closed"
    );
}

#[test]
fn claiming_rules() {
    let mut c = open_conv();
    let a1 = who("agent-1", Role::Support);
    let a2 = who("agent-2", Role::Support);
    assert!(matches!(
        c.check_assign(&who("client-1", Role::Client)),
        Err(ConversationError::Forbidden(_))
    ));
    assert_eq!(c.check_assign(&a1), Ok(AssignOutcome::Assigned));
    c.assign_to(a1.user_id.clone());
    assert_eq!(c.check_assign(&a1), Ok(AssignOutcome::AlreadyMine));
    assert_eq!(c.check_assign(&a2), Err(ConversationError::AlreadyAssigned));
    c.close(Utc::now());
    assert_eq!(
        c.check_assign(&a2),
        Err(ConversationError::Closed),
        "closed wins"
    );
}

#[test]
fn a_sub_on_the_other_side_is_a_stranger() {
    let mut c = open_conv();
    // A support token carrying the customer's sub, and a customer token
    // carrying the agent's sub: neither is a participant.
    assert!(!c.is_participant(&agent("client-1")));
    c.assign_to(UserId::new("agent-1").unwrap());
    assert!(!c.is_participant(&agent("client-1")));
    assert!(!c.can_view(&who("client-1", Role::Support)));
    assert!(!c.is_participant(&customer("agent-1")));
    assert!(!c.can_view(&who("agent-1", Role::Guest)));
    assert_eq!(
        c.ensure_can_send(&customer("agent-1")),
        Err(ConversationError::NotFound)
    );
    assert_eq!(
        c.check_close(&agent("client-1")),
        Err(ConversationError::NotFound)
    );
    // A customer who is also an agent under the same sub, assigned to
    // their own conversation, is two participants.
    let mut own = open_conv();
    own.assign_to(UserId::new("client-1").unwrap());
    assert_eq!(
        own.participants(),
        vec![customer("client-1"), agent("client-1")]
    );
    assert_eq!(own.others(&customer("client-1")), vec![agent("client-1")]);
}

#[test]
fn transfer_rules() {
    let mut c = open_conv();
    let a1 = who("agent-1", Role::Support);
    let a2 = who("agent-2", Role::Support);
    let to2 = a2.user_id.clone();
    assert!(matches!(
        c.check_transfer(&who("client-1", Role::Client), Some(&to2)),
        Err(ConversationError::Forbidden(_))
    ));
    assert_eq!(
        c.check_transfer(&a1, Some(&to2)),
        Err(ConversationError::NotFound),
        "only the assigned agent transfers; a queued one has none"
    );
    c.assign_to(a1.user_id.clone());
    assert_eq!(
        c.check_transfer(&a1, Some(&to2)),
        Ok(TransferOutcome::Moves)
    );
    assert_eq!(c.check_transfer(&a1, None), Ok(TransferOutcome::Moves));
    assert_eq!(
        c.check_transfer(&a1, Some(&a1.user_id)),
        Ok(TransferOutcome::Unchanged)
    );
    assert_eq!(
        c.check_transfer(&a2, None),
        Err(ConversationError::NotFound)
    );
    assert_eq!(
        c.check_transfer(&who("agent-1", Role::Client), None),
        Err(ConversationError::Forbidden("support agents"))
    );
    c.close(Utc::now());
    assert_eq!(
        c.check_transfer(&a1, Some(&to2)),
        Err(ConversationError::Closed)
    );
    assert_eq!(
        c.check_transfer(&a2, Some(&to2)),
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
    c.assign_to(UserId::new("agent-1").unwrap());
    assert!(c.can_view(&who("agent-1", Role::Support)));
    assert!(!c.can_view(&who("any-agent", Role::Support)));
}

#[test]
fn closing_is_idempotent_and_for_participants() {
    let mut c = open_conv();
    let client = customer("client-1");
    assert_eq!(
        c.check_close(&customer("x")),
        Err(ConversationError::NotFound)
    );
    assert_eq!(c.check_close(&client), Ok(true));
    let at = Utc::now();
    c.close(at);
    assert_eq!(c.closed_at, Some(at));
    assert_eq!(c.check_close(&client), Ok(false));
    c.close(at + chrono::Duration::seconds(5));
    assert_eq!(c.closed_at, Some(at), "a second close changes nothing");
}
