// Wire types of the Quick Connect Chat WebSocket protocol and HTTP API
// (docs/protocol.md, docs/http-api.md).
/** The subprotocol offered beside `bearer.<jwt>`. */
export const SUBPROTOCOL = 'quickconnect.v1';
/** Close codes (docs/protocol.md). */
export const CloseCode = {
    Normal: 1000,
    GoingAway: 1001,
    Unsupported: 1003,
    Policy: 1008,
    TooBig: 1009,
    TokenExpired: 4001,
    SlowConsumer: 4002,
};
