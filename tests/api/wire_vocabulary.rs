//! One source for the WebSocket's vocabulary (error codes, close codes,
//! frame types): `qc_http::wire_vocabulary`. web/src/wire.ts is rendered
//! from it, and docs/asyncapi.yaml and docs/protocol.md name the same sets.
//!
//! After a change to the vocabulary: `QC_WRITE_WIRE=1 cargo test -p qc-tests
//! wire_vocabulary` rewrites web/src/wire.ts; then `npm run build` in web/
//! (web/dist is committed).

use std::collections::BTreeSet;

use qc_http::wire_vocabulary::{
    CLIENT_FRAMES, CLOSE_CODES, ERROR_CODES, SERVER_FRAMES, render_typescript,
};
use serde_json::Value;

use crate::asyncapi;

fn repo_file(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// web/src/wire.ts is what the vocabulary renders, byte for byte.
/// Regenerate: `QC_WRITE_WIRE=1 cargo test -p qc-tests wire_vocabulary`.
#[test]
fn web_src_wire_ts_is_rendered_from_the_rust_vocabulary() {
    let path = repo_file("web/src/wire.ts");
    let rendered = render_typescript();
    if std::env::var_os("QC_WRITE_WIRE").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .replace("\r\n", "\n");
    if committed != rendered {
        let first = committed
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(rendered.lines().count()));
        panic!(
            "web/src/wire.ts drifted from the Rust wire vocabulary \
             (adapters/http/src/wire_vocabulary.rs), first at line {}:\n  \
             committed: {:?}\n  rendered:  {:?}\n\
             Run QC_WRITE_WIRE=1 cargo test -p qc-tests wire_vocabulary, then npm run build in web/.",
            first + 1,
            committed.lines().nth(first).unwrap_or("(end of file)"),
            rendered.lines().nth(first).unwrap_or("(end of file)"),
        );
    }
}

type Frames = BTreeSet<(String, Option<String>)>;

/// The (`type`, `sub_type`) of every message the document's operations
/// with this `action` carry (`receive`: what clients send; `send`: what
/// the server sends). `None`: the frame has no `sub_type`.
fn documented_frames(root: &Value, action: &str) -> Frames {
    let mut frames = Frames::new();
    let operations = root["operations"].as_object().expect("operations");
    for op in operations.values().filter(|op| op["action"] == action) {
        for reference in op["messages"].as_array().expect("an operation's messages") {
            let message = asyncapi::resolve(root, reference);
            let props = &asyncapi::resolve(root, &message["payload"])["properties"];
            let kind = props["type"]["const"]
                .as_str()
                .unwrap_or_else(|| panic!("{reference}: no const type"))
                .to_owned();
            let sub = &props["sub_type"];
            let subs: Vec<Option<String>> = if let Some(c) = sub.get("const") {
                vec![Some(c.as_str().expect("a string sub_type").to_owned())]
            } else if let Some(e) = sub.get("enum") {
                e.as_array()
                    .expect("an enum")
                    .iter()
                    .map(|s| Some(s.as_str().expect("a string sub_type").to_owned()))
                    .collect()
            } else {
                vec![None]
            };
            for s in subs {
                frames.insert((kind.clone(), s));
            }
        }
    }
    frames
}

/// docs/asyncapi.yaml names every error code and every frame in and out,
/// and no other. (It has no close codes: docs/protocol.md has them, below.)
#[test]
fn docs_asyncapi_yaml_names_the_wire_vocabulary() {
    let root = asyncapi::doc();
    let error = asyncapi::resolve(&root, &root["components"]["messages"]["Error"]["payload"]);
    let documented: BTreeSet<&str> = error["properties"]["payload"]["properties"]["code"]["enum"]
        .as_array()
        .expect("the Error payload's code enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let codes: BTreeSet<&str> = ERROR_CODES.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, codes, "error codes in docs/asyncapi.yaml");

    let client: Frames = CLIENT_FRAMES
        .iter()
        .map(|f| (f.frame_type().to_owned(), f.sub_type().map(str::to_owned)))
        .collect();
    assert_eq!(
        documented_frames(&root, "receive"),
        client,
        "frames clients send, in docs/asyncapi.yaml"
    );
    let server: Frames = SERVER_FRAMES
        .iter()
        .map(|f| (f.frame_type().to_owned(), Some(f.sub_type().to_owned())))
        .collect();
    assert_eq!(
        documented_frames(&root, "send"),
        server,
        "frames the server sends, in docs/asyncapi.yaml"
    );
}

/// The cells of the rows of the first table under `heading` (its header
/// row and the `|---|` line skipped).
fn table_under<'a>(doc: &'a str, heading: &str) -> Vec<Vec<&'a str>> {
    let rows: Vec<Vec<&str>> = doc
        .lines()
        .skip_while(|l| l.trim_end() != heading)
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect()
        })
        .collect();
    assert!(
        !rows.is_empty(),
        "docs/protocol.md has no table under {heading:?}"
    );
    rows
}

/// The words in backticks in a cell, in order.
fn quoted(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// docs/protocol.md's tables and examples name the same codes and frames:
/// the error table's codes, the close-code table's numbers, the frames in
/// "Frames you send" and the table of "Frames you receive".
#[test]
fn docs_protocol_md_names_the_wire_vocabulary() {
    let doc = std::fs::read_to_string(repo_file("docs/protocol.md")).unwrap();

    let errors = table_under(&doc, "## Errors");
    let documented: BTreeSet<&str> = errors
        .iter()
        .map(|row| quoted(row.last().unwrap())[0])
        .collect();
    let codes: BTreeSet<&str> = ERROR_CODES.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, codes, "the error table of docs/protocol.md");

    let closes = table_under(&doc, "## Close codes");
    let documented: BTreeSet<u16> = closes
        .iter()
        .map(|row| row[0].parse().unwrap_or_else(|_| panic!("{row:?}")))
        .collect();
    let numbers: BTreeSet<u16> = CLOSE_CODES.iter().map(|c| c.code()).collect();
    assert_eq!(
        documented, numbers,
        "the close-code table of docs/protocol.md"
    );

    // The JSON examples under "Frames you send", one frame a line.
    let sent: Frames = doc
        .lines()
        .skip_while(|l| l.trim_end() != "## Frames you send")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            (
                v["type"].as_str().unwrap().to_owned(),
                v["sub_type"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let client: Frames = CLIENT_FRAMES
        .iter()
        .map(|f| (f.frame_type().to_owned(), f.sub_type().map(str::to_owned)))
        .collect();
    assert_eq!(
        sent, client,
        "the examples of docs/protocol.md's Frames you send"
    );

    // `type` / `sub_type`, `sub_type`…; `""` is the empty sub_type.
    let mut received = Frames::new();
    let receive = table_under(&doc, "## Frames you receive");
    for row in &receive {
        let words = quoted(row[0]);
        let kind = words[0];
        for sub in &words[1..] {
            let sub = if *sub == "\"\"" { "" } else { *sub };
            received.insert((kind.to_owned(), Some(sub.to_owned())));
        }
    }
    let server: Frames = SERVER_FRAMES
        .iter()
        .map(|f| (f.frame_type().to_owned(), Some(f.sub_type().to_owned())))
        .collect();
    assert_eq!(
        received, server,
        "the table of docs/protocol.md's Frames you receive"
    );
}
