use super::*;
use crate::ids::UserId;

fn customer() -> User {
    User::customer(UserId::new("client-1").unwrap())
}

fn agent() -> User {
    User::agent(UserId::new("agent-1").unwrap())
}

#[test]
fn the_default_is_the_contracts_rule() {
    let p = DefaultPolicy::new();
    let check = |s: &str| p.check(&customer(), MessageKind::Text, s);
    assert_eq!(check(""), Err(ContentError::Empty));
    assert_eq!(check(" \n\t "), Err(ContentError::Empty));
    assert_eq!(check("  hi "), Ok(()));
    assert_eq!(
        check(&"€".repeat(MAX_CONTENT_CHARS)),
        Ok(()),
        "characters, not bytes"
    );
    assert_eq!(
        check(&"a".repeat(MAX_CONTENT_CHARS + 1)),
        Err(ContentError::TooLong {
            limit: MAX_CONTENT_CHARS
        })
    );
    assert_eq!(
        ContentError::TooLong { limit: 4096 }.to_string(),
        "content is longer than 4096 characters"
    );
}

#[test]
fn the_worked_example_blocks_card_numbers_from_customers_and_lets_agents_write_more() {
    let p = NoCardNumbers::new(DefaultPolicy::new(), 16_384);
    let from_customer = |s: &str| p.check(&customer(), MessageKind::Text, s);
    // A valid test card number, written three ways.
    for card in [
        "4111111111111111",
        "my card is 4111 1111 1111 1111, thanks",
        "4111-1111-1111-1111",
    ] {
        assert!(
            matches!(from_customer(card), Err(ContentError::Refused(_))),
            "{card:?} is refused"
        );
    }
    // Digits that are no card: an order number failing Luhn, a phone
    // number too short, two short numbers apart.
    for fine in [
        "order 4111111111111112",
        "call +44 20 7946 0958",
        "order 1234 shipped 2026-12-01",
    ] {
        assert_eq!(from_customer(fine), Ok(()), "{fine:?} passes");
    }
    assert_eq!(
        from_customer(""),
        Err(ContentError::Empty),
        "the base rule still holds"
    );
    let long = "a".repeat(10_000);
    assert_eq!(
        from_customer(&long),
        Err(ContentError::TooLong {
            limit: MAX_CONTENT_CHARS
        })
    );
    assert_eq!(
        p.check(&agent(), MessageKind::Note, &long),
        Ok(()),
        "agents may write up to 16,384"
    );
    assert_eq!(
        p.check(&agent(), MessageKind::Text, "test card 4111 1111 1111 1111"),
        Ok(()),
        "agents may quote a test card"
    );
}
