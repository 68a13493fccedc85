/** `payload.code` of a `system`/`error` frame: why the server refused a frame (the connection stays open). */
export declare const ERROR_CODES: readonly ["invalid_json", "invalid_message", "invalid_content", "conversation_not_found", "conversation_closed", "unavailable", "rate_limited"];
export type ErrorCode = (typeof ERROR_CODES)[number];
/** The close codes the server sends, by name (RFC 6455's names for the 1000s). */
export declare const CLOSE_CODES: {
    /** Nothing (no frame, no pong) arrived for the idle timeout. */
    readonly normal: 1000;
    /** The server is shutting down: reconnect. */
    readonly going_away: 1001;
    /** A WebSocket protocol violation. */
    readonly protocol_error: 1002;
    /** A binary frame was sent. */
    readonly unsupported_data: 1003;
    /** A text frame that is not valid UTF-8. */
    readonly invalid_payload: 1007;
    /** Flooding past the rate limit. */
    readonly policy_violation: 1008;
    /** A message over 64 KiB. */
    readonly message_too_big: 1009;
    /** The token expired: get a new one before reconnecting. */
    readonly token_expired: 4001;
    /** The outbound queue filled (the client stopped reading): reconnect and catch up. */
    readonly slow_consumer: 4002;
};
export type CloseCodeName = keyof typeof CLOSE_CODES;
export type CloseCode = (typeof CLOSE_CODES)[CloseCodeName];
/** `type` of a frame that carries a stored message, and that message's `message_type`. */
export declare const MESSAGE_TYPES: readonly ["text", "note"];
export type MessageType = (typeof MESSAGE_TYPES)[number];
/** `type` of every frame that does not carry a message. */
export declare const SYSTEM_TYPE = "system";
/** `sub_type` of a `system` frame a client sends. */
export declare const CLIENT_SUB_TYPES: readonly ["typing_started", "typing_stopped"];
export type ClientSubType = (typeof CLIENT_SUB_TYPES)[number];
/** `sub_type` of a `system` frame the server sends. */
export declare const SERVER_SUB_TYPES: readonly ["typing_started", "typing_stopped", "conversation_created", "conversation_assigned", "conversation_closed", "presence", "messages_read", "error"];
export type ServerSubType = (typeof SERVER_SUB_TYPES)[number];
