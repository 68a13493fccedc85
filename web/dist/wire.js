// Generated from the Rust wire vocabulary by `QC_WRITE_WIRE=1 cargo test -p qc-tests wire_vocabulary`; do not edit.
// Source: adapters/http/src/wire_vocabulary.rs. What each name means: docs/protocol.md.
/** `payload.code` of a `system`/`error` frame: why the server refused a frame (the connection stays open). */
export const ERROR_CODES = [
    'invalid_json',
    'invalid_message',
    'invalid_content',
    'conversation_not_found',
    'conversation_closed',
    'unavailable',
    'rate_limited',
];
/** The close codes the server sends, by name (RFC 6455's names for the 1000s). */
export const CLOSE_CODES = {
    /** Nothing (no frame, no pong) arrived for the idle timeout. */
    normal: 1000,
    /** The server is shutting down: reconnect. */
    going_away: 1001,
    /** A WebSocket protocol violation. */
    protocol_error: 1002,
    /** A binary frame was sent. */
    unsupported_data: 1003,
    /** A text frame that is not valid UTF-8. */
    invalid_payload: 1007,
    /** Flooding past the rate limit. */
    policy_violation: 1008,
    /** A message over 64 KiB. */
    message_too_big: 1009,
    /** The token expired: get a new one before reconnecting. */
    token_expired: 4001,
    /** The outbound queue filled (the client stopped reading): reconnect and catch up. */
    slow_consumer: 4002,
};
/** `type` of a frame that carries a stored message, and that message's `message_type`. */
export const MESSAGE_TYPES = [
    'text',
    'note',
];
/** `type` of every frame that does not carry a message. */
export const SYSTEM_TYPE = 'system';
/** `sub_type` of a `system` frame a client sends. */
export const CLIENT_SUB_TYPES = [
    'typing_started',
    'typing_stopped',
];
/** `sub_type` of a `system` frame the server sends. */
export const SERVER_SUB_TYPES = [
    'typing_started',
    'typing_stopped',
    'conversation_created',
    'conversation_assigned',
    'conversation_closed',
    'presence',
    'messages_read',
    'error',
];
