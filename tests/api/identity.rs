//! CONTRACT §2: a user is the pair (side, sub). A customer token and a
//! support token that carry the same `sub` are two users who see, receive
//! and send nothing of each other's, over HTTP or live.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_guest_and_an_agent_sharing_a_sub_see_nothing_of_each_others() {
    let app = spawn_app().await;
    let sub = ulid::Ulid::generate().to_string();
    let agent = user_with_sub("support", &sub);
    let guest = user_with_sub("guest", &sub);
    let customer = app.user("client");

    // The agent serves a real customer's conversation.
    let served = app.open_conversation(&customer).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.assign(&agent, &served).await.status(), 200);
    // The guest with the agent's sub has a conversation of their own.
    let owned = app.open_conversation(&guest).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Over HTTP: each sees only their own side's conversation.
    for path in [
        format!("/conversations/{served}"),
        format!("/conversations/{served}/messages"),
    ] {
        assert_eq!(app.get(&path, &guest.token).await.status(), 404, "{path}");
    }
    let r = app
        .post(
            &format!("/conversations/{served}/close"),
            &guest.token,
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let listed: Value = app
        .get("/conversations", &guest.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&listed), vec![owned.clone()]);
    let listed: Value = app
        .get("/conversations", &agent.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(&listed),
        vec![served.clone()],
        "an agent lists what they serve, not what their sub owns"
    );

    // Live: the customer's text reaches the agent, never the guest.
    let mut agent_ws = app.connect("/chats/supports", &agent.token).await;
    let mut guest_ws = app.connect("/chats/clients", &guest.token).await;
    let mut customer_ws = app.connect("/chats/clients", &customer.token).await;
    customer_ws
        .send(json!({ "type": "text", "conversation_id": served, "content": "for the agent" }))
        .await;
    let got = agent_ws.recv().await;
    assert_eq!(got["payload"]["content"], "for the agent");
    assert_eq!(
        customer_ws.recv().await["payload"]["content"],
        "for the agent"
    );

    // The guest cannot post into the agent's conversation, nor type there.
    guest_ws
        .send(json!({ "type": "text", "conversation_id": served, "content": "as the agent?" }))
        .await;
    assert_error(&guest_ws.recv().await, "conversation_not_found");
    guest_ws.send(typing(&served, "typing_started")).await;
    // The guest's own conversation, and the agent's typing, stay apart too.
    guest_ws
        .send(json!({ "type": "text", "conversation_id": owned, "content": "my own" }))
        .await;
    let mut own = guest_ws.recv().await;
    if own["type"] == "system" {
        // The refused typing signal, if the server answers it.
        assert_error(&own, "conversation_not_found");
        own = guest_ws.recv().await;
    }
    assert_eq!(own["payload"]["content"], "my own");
    assert_eq!(own["payload"]["sender_id"], sub.as_str());
    // The guest's text is published (they have their copy) and the refused
    // frames were answered: nothing of either was queued for the others.
    agent_ws.expect_nothing_queued().await;
    customer_ws.expect_nothing_queued().await;

    // The history holds exactly one text of each user, nothing of the
    // guest in the served conversation.
    let served_history = app.all_messages(&agent, &served).await;
    assert_eq!(served_history.len(), 1);
    assert_eq!(served_history[0]["sender_id"], customer.id.as_str());
    assert_eq!(
        app.get(&format!("/conversations/{owned}/messages"), &agent.token)
            .await
            .status(),
        200,
        "an unassigned conversation is in the queue: any agent may preview it"
    );
}

#[tokio::test]
async fn a_support_token_carrying_a_customers_sub_is_not_that_customer() {
    let app = spawn_app().await;
    let customer = app.user("client");
    let impostor = user_with_sub("support", &customer.id);
    let agent = app.user("support");
    let cid = app.open_conversation(&customer).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.assign(&agent, &cid).await.status(), 200);

    let mut impostor_ws = app.connect("/chats/supports", &impostor.token).await;
    let mut customer_ws = app.connect("/chats/clients", &customer.token).await;
    let mut agent_ws = app.connect("/chats/supports", &agent.token).await;

    // Assigned to someone else: the impostor reads nothing, sends nothing.
    for path in [
        format!("/conversations/{cid}"),
        format!("/conversations/{cid}/messages"),
    ] {
        assert_eq!(
            app.get(&path, &impostor.token).await.status(),
            404,
            "{path}"
        );
    }
    let listed: Value = app
        .get("/conversations", &impostor.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(ids(&listed).is_empty());
    impostor_ws
        .send(json!({ "type": "text", "conversation_id": cid, "content": "as the customer?" }))
        .await;
    assert_error(&impostor_ws.recv().await, "conversation_not_found");

    agent_ws
        .send(json!({ "type": "text", "conversation_id": cid, "content": "hello customer" }))
        .await;
    assert_eq!(
        customer_ws.recv().await["payload"]["content"],
        "hello customer"
    );
    assert_eq!(
        agent_ws.recv().await["payload"]["content"],
        "hello customer"
    );
    // Published (both participants have it): nothing for the impostor.
    impostor_ws.expect_nothing_queued().await;

    // Marking read as the impostor is refused; the customer's read marks
    // the agent's text.
    let last = app.all_messages(&customer, &cid).await;
    let up_to = last[0]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/conversations/{cid}/read"),
            &impostor.token,
            json!({ "up_to": up_to }),
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = app
        .post(
            &format!("/conversations/{cid}/read"),
            &customer.token,
            json!({ "up_to": up_to }),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert!(app.all_messages(&agent, &cid).await[0]["read_at"].is_string());
}
