// Wire types of the Quick Connect Chat WebSocket protocol (docs/protocol.md).

/** The stored message, as in a `text` frame's payload and in history. */
export interface Message {
  id: string;
  conversation_id: string;
  sender_id: string;
  message_type: 'text';
  content: string;
  created_at: string;
  read_at: string | null;
  seq: number;
  client_msg_id: string | null;
}

export interface Conversation {
  id: string;
  client_id: string;
  support_id: string | null;
  status: 'open' | 'closed';
  subject: string | null;
  created_at: string;
  closed_at: string | null;
}

/** Every frame the server sends. */
export type ServerFrame =
  | { type: 'text'; sub_type: ''; timestamp: string; payload: Message }
  | {
      type: 'system';
      sub_type: 'typing_started' | 'typing_stopped';
      timestamp: string;
      payload: { conversation_id: string; sender_id: string };
    }
  | {
      type: 'system';
      sub_type: 'conversation_assigned';
      timestamp: string;
      payload: { conversation_id: string; support_id: string };
    }
  | {
      type: 'system';
      sub_type: 'conversation_closed';
      timestamp: string;
      payload: { conversation_id: string; closed_by: string };
    }
  | {
      type: 'system';
      sub_type: 'messages_read';
      timestamp: string;
      payload: { conversation_id: string; reader_id: string; up_to: string };
    }
  | {
      type: 'system';
      sub_type: 'error';
      timestamp: string;
      payload: { code: ErrorCode; message: string; conversation_id?: string };
    };

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_message'
  | 'invalid_content'
  | 'conversation_not_found'
  | 'conversation_closed'
  | 'unavailable'
  | 'rate_limited';

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
} as const;
