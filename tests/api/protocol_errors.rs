//! WebSocket protocol violations get their close codes (CONTRACT §3): 1002
//! for a broken frame, 1007 for a text frame that is not UTF-8. The frames
//! are written byte by byte on a raw socket (no client library would send
//! them), after a real upgrade.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Upgrades a raw TCP connection to `/chats/clients`.
async fn raw_upgrade(app: &TestApp, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET /chats/clients HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Authorization: Bearer {token}\r\n\r\n",
        app.addr
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        s.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "RFC 6455's example key gets its example accept value: {head}"
    );
    s
}

/// A client frame: `first` is FIN/RSV/opcode, masked unless told not to.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut f = vec![first, (payload.len() as u8) | if masked { 0x80 } else { 0 }];
    if masked {
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// The code of the server's close frame (the first frame it sends here).
async fn close_code(s: &mut TcpStream) -> Option<u16> {
    let mut header = [0u8; 2];
    tokio::time::timeout(RECV_TIMEOUT, s.read_exact(&mut header))
        .await
        .ok()?
        .ok()?;
    assert_eq!(
        header[0] & 0x0f,
        0x8,
        "a close frame, got opcode {}",
        header[0] & 0x0f
    );
    let len = usize::from(header[1] & 0x7f);
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.ok()?;
    (len >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

async fn code_for(bytes: Vec<u8>) -> Option<u16> {
    let app = spawn_on_sqlite(|_| {}).await;
    let token = mint("client", "raw-client", 600);
    let mut s = raw_upgrade(&app, &token).await;
    s.write_all(&bytes).await.unwrap();
    close_code(&mut s).await
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_is_closed_with_1007() {
    assert_eq!(code_for(frame(0x81, &[0xc3, 0x28], true)).await, Some(1007));
}

#[tokio::test]
async fn protocol_violations_are_closed_with_1002() {
    let cases = [
        ("RSV1 set", frame(0xc1, b"{}", true)),
        ("unmasked client frame", frame(0x81, b"{}", false)),
        ("reserved opcode 3", frame(0x83, b"{}", true)),
        ("fragmented ping", frame(0x09, b"", true)),
        (
            "continuation with nothing to continue",
            frame(0x80, b"x", true),
        ),
    ];
    for (what, bytes) in cases {
        assert_eq!(code_for(bytes).await, Some(1002), "{what}");
    }
}

#[tokio::test]
async fn a_fragmented_text_still_works() {
    // The positive control: the same raw client, a valid two-part message.
    let app = spawn_on_sqlite(|_| {}).await;
    let client = app.user("client");
    let conv = app.open_conversation(&client).await;
    let cid = conv["id"].as_str().unwrap();
    let mut s = raw_upgrade(&app, &client.token).await;
    let text = format!(r#"{{"type":"text","conversation_id":"{cid}","content":"split"}}"#);
    let (a, b) = text.as_bytes().split_at(10);
    let mut bytes = frame(0x01, a, true);
    bytes.extend(frame(0x80, b, true));
    s.write_all(&bytes).await.unwrap();
    let mut header = [0u8; 2];
    s.read_exact(&mut header).await.unwrap();
    assert_eq!(header[0], 0x81, "a text frame back: the stored echo");
}
