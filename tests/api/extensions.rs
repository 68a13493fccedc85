//! docs/architecture.md's worked example of a rule of one's own, on a real
//! server: `NoCardNumbers` plugged in with `Application::build_with`.

use qc_domain::{DefaultPolicy, NoCardNumbers};
use quickconnect::Extensions;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_plugged_in_message_policy_refuses_a_card_number_and_lets_agents_write_more() {
    let (url, dir) = fresh_database().await;
    let rules =
        Extensions::default().with_message_policy(NoCardNumbers::new(DefaultPolicy::new(), 16_384));
    let app = spawn_with_rules(url, dir, |_| {}, rules).await;
    let mut p = app.chat_pair().await;

    p.client_ws
        .send(json!({ "type": "text", "conversation_id": p.cid, "content": "my card is 4111 1111 1111 1111" }))
        .await;
    let refused = p.client_ws.recv().await;
    assert_eq!(refused["sub_type"], "error");
    assert_eq!(refused["payload"]["code"], "invalid_content");
    assert_eq!(refused["payload"]["conversation_id"], p.cid.as_str());
    assert!(
        refused["payload"]["message"]
            .as_str()
            .unwrap()
            .contains("card"),
        "the policy's own words: {refused}"
    );

    // Past the contract's 4,096 characters: an agent may, a customer may not.
    let long = "x".repeat(6000);
    p.agent_ws
        .send(json!({ "type": "text", "conversation_id": p.cid, "content": long }))
        .await;
    let stored = p.client_ws.recv().await;
    assert_eq!(stored["type"], "text");
    assert_eq!(stored["payload"]["content"].as_str().unwrap().len(), 6000);
    assert_eq!(stored["payload"]["seq"], 1, "the refused text took no seq");
    assert_eq!(p.agent_ws.recv().await["payload"]["seq"], 1);
    p.client_ws
        .send(json!({ "type": "text", "conversation_id": p.cid, "content": long }))
        .await;
    let too_long = p.client_ws.recv().await;
    assert_eq!(too_long["payload"]["code"], "invalid_content");
    assert_eq!(
        too_long["payload"]["message"],
        "content is longer than 4096 characters"
    );

    let history = app.all_messages(&p.client, &p.cid).await;
    assert_eq!(history.len(), 1, "only the agent's answer was stored");
}
