//! Rendering the vocabulary as the TypeScript module web/src/wire.ts.

use qc_domain::MessageKind;

use super::{CLIENT_FRAMES, CLOSE_CODES, ERROR_CODES, MESSAGE_KINDS, SERVER_FRAMES, SYSTEM};
use crate::frames::ErrorCode;

/// The first line of web/src/wire.ts.
pub const TYPESCRIPT_HEADER: &str = "// Generated from the Rust wire vocabulary by \
     `QC_WRITE_WIRE=1 cargo test -p qc-tests wire_vocabulary`; do not edit.\n";

/// The TypeScript module web/src/wire.ts: this vocabulary as constants and
/// types for the browser client. Every frame is either a message frame
/// (its `type` one of the message kinds) or a `system` frame with a
/// `sub_type`, so the lists below name every frame.
pub fn render_typescript() -> String {
    let mut ts = String::from(TYPESCRIPT_HEADER);
    ts.push_str(
        "// Source: adapters/http/src/wire_vocabulary.rs. What each name means: docs/protocol.md.\n",
    );

    push_list(
        &mut ts,
        "`payload.code` of a `system`/`error` frame: why the server refused a frame (the connection stays open).",
        "ERROR_CODES",
        "ErrorCode",
        &ERROR_CODES.map(ErrorCode::as_str),
    );

    ts.push_str(
        "\n/** The close codes the server sends, by name (RFC 6455's names for the 1000s). */\n",
    );
    ts.push_str("export const CLOSE_CODES = {\n");
    for close in CLOSE_CODES {
        let code = close.code().to_string();
        ts.extend(["  /** ", close.when(), " */\n"]);
        ts.extend(["  ", close.name(), ": ", code.as_str(), ",\n"]);
    }
    ts.push_str("} as const;\n");
    ts.push_str("export type CloseCodeName = keyof typeof CLOSE_CODES;\n");
    ts.push_str("export type CloseCode = (typeof CLOSE_CODES)[CloseCodeName];\n");

    push_list(
        &mut ts,
        "`type` of a frame that carries a stored message, and that message's `message_type`.",
        "MESSAGE_TYPES",
        "MessageType",
        &MESSAGE_KINDS.map(MessageKind::as_str),
    );

    ts.extend([
        "\n/** `type` of every frame that does not carry a message. */\n",
        "export const SYSTEM_TYPE = '",
        SYSTEM,
        "';\n",
    ]);

    push_list(
        &mut ts,
        "`sub_type` of a `system` frame a client sends.",
        "CLIENT_SUB_TYPES",
        "ClientSubType",
        &distinct(CLIENT_FRAMES.iter().filter_map(|f| f.sub_type())),
    );

    push_list(
        &mut ts,
        "`sub_type` of a `system` frame the server sends.",
        "SERVER_SUB_TYPES",
        "ServerSubType",
        &distinct(
            SERVER_FRAMES
                .iter()
                .filter(|f| f.frame_type() == SYSTEM)
                .map(|f| f.sub_type()),
        ),
    );
    ts
}

/// `export const NAME = ['a', …] as const;` and its element type.
fn push_list(ts: &mut String, doc: &str, name: &str, type_name: &str, items: &[&str]) {
    ts.extend(["\n/** ", doc, " */\n"]);
    ts.extend(["export const ", name, " = [\n"]);
    for &item in items {
        ts.extend(["  '", item, "',\n"]);
    }
    ts.push_str("] as const;\n");
    ts.extend([
        "export type ",
        type_name,
        " = (typeof ",
        name,
        ")[number];\n",
    ]);
}

/// The items in their first order, each once.
fn distinct(items: impl IntoIterator<Item = &'static str>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}
