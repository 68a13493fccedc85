// Wire types of the Quick Connect Chat WebSocket protocol and HTTP API
// (docs/protocol.md, docs/http-api.md). The vocabulary (error codes, close
// codes, frame types) is generated from the server into ./wire.ts; the
// shapes built on it are here.
/** The subprotocol offered beside `bearer.<jwt>`. */
export const SUBPROTOCOL = 'quickconnect.v1';
