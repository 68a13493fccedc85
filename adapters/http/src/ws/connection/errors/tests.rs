use super::*;

const CID: &str = "01KAAWW5V95WFFDERJZCTDE2QQ";

/// The contract's `error.code` of a mapped error, and the conversation it names.
fn wire(e: &FrameError) -> (&'static str, Option<&str>) {
    (e.code.as_str(), e.conversation_id.as_deref())
}

#[test]
fn each_participant_error_maps_to_the_contracts_code_and_names_the_conversation() {
    let cases = [
        (ParticipantError::NotFound, "conversation_not_found"),
        (ParticipantError::Closed, "conversation_closed"),
        (ParticipantError::NotAllowed, "invalid_message"),
        (
            ParticipantError::InvalidContent(qc_domain::ContentError::Empty),
            "invalid_content",
        ),
        (
            ParticipantError::Unavailable(anyhow::anyhow!("database down")),
            "unavailable",
        ),
    ];
    for (error, code) in cases {
        let shown = format!("{error:?}");
        assert_eq!(
            wire(&participant_error(error, CID.to_owned())),
            (code, Some(CID)),
            "{shown}"
        );
    }
}

#[test]
fn a_missing_conversation_reads_the_same_as_a_bad_id() {
    let expected = not_found(CID.to_owned());
    assert_eq!(
        participant_error(ParticipantError::NotFound, CID.to_owned()),
        expected
    );
    assert_eq!(expected.message, "no such conversation");
}

#[test]
fn a_refused_content_says_the_policys_reason() {
    let e = participant_error(
        ParticipantError::InvalidContent(qc_domain::ContentError::Refused(
            "no card numbers".into(),
        )),
        CID.to_owned(),
    );
    assert_eq!(e.message, "no card numbers");
    let e = participant_error(
        ParticipantError::InvalidContent(qc_domain::ContentError::TooLong { limit: 4096 }),
        CID.to_owned(),
    );
    assert_eq!(e.message, "content is longer than 4096 characters");
}

#[test]
fn read_errors_map_to_the_contracts_close_codes() {
    let too_long = WsError::Capacity(CapacityError::MessageTooLong {
        size: 64 * 1024 + 1,
        max_size: 64 * 1024,
    });
    assert_eq!(
        read_failed(&too_long),
        CloseAction::Close(1009, "message too big")
    );
    assert_eq!(
        read_failed(&WsError::Capacity(CapacityError::TooManyHeaders)),
        CloseAction::Close(1009, "frame too big")
    );
    assert_eq!(
        read_failed(&WsError::Utf8("invalid utf-8 sequence".to_owned())),
        CloseAction::Close(1007, "text frame is not valid UTF-8")
    );
    for violation in [
        ProtocolError::InvalidOpcode(3),
        ProtocolError::UnmaskedFrameFromClient,
    ] {
        assert_eq!(
            read_failed(&WsError::Protocol(violation)),
            CloseAction::Close(1002, "protocol violation")
        );
    }
}

#[test]
fn a_peer_that_went_away_is_dropped_without_a_close_frame() {
    assert_eq!(
        read_failed(&WsError::Protocol(
            ProtocolError::ResetWithoutClosingHandshake
        )),
        CloseAction::Drop
    );
    assert_eq!(read_failed(&WsError::ConnectionClosed), CloseAction::Drop);
    let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    assert_eq!(read_failed(&WsError::Io(reset)), CloseAction::Drop);
}
