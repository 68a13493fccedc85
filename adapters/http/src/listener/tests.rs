use super::*;

fn watch() -> Watch {
    Watch {
        id: 1,
        deadline: Arc::new(Deadline::default()),
        registry: Arc::new(Registry {
            timeouts: HttpTimeouts {
                header: Duration::from_secs(10),
                idle: Duration::from_secs(30),
            },
            live: dashmap::DashMap::new(),
            epoch: Instant::now(),
        }),
        phase: Phase::Waiting,
        scan: 0,
        start: 0,
    }
}

#[test]
fn a_head_ends_at_the_blank_line_even_split_across_reads() {
    let mut w = watch();
    w.on_read(b"GET / HTTP/1.1\r\nHost: x\r");
    assert_eq!(w.phase, Phase::Head);
    w.on_read(b"\n\r");
    assert_eq!(w.phase, Phase::Head);
    w.on_read(b"\n");
    assert_eq!(w.phase, Phase::Handling);
    // A body that looks like a head changes nothing.
    w.on_read(b"x\r\n\r\n");
    assert_eq!(w.phase, Phase::Handling);
}

fn at(w: &Watch) -> (u8, u64) {
    (
        w.deadline.kind.load(Ordering::Relaxed),
        w.deadline.at_ms.load(Ordering::Relaxed),
    )
}

#[tokio::test(start_paused = true)]
async fn an_answer_starts_the_idle_deadline_and_a_101_ends_the_watch() {
    let mut w = watch();
    w.deadline.set(10_000, HEAD);
    // The first head keeps the deadline from the connection's start.
    w.on_read(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(at(&w), (HEAD, 10_000));
    assert!(!w.on_write(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(w.phase, Phase::Answering);
    let (kind, idle) = at(&w);
    assert_eq!(kind, IDLE);
    // The clock stands still: the registry's "now" is 1 ms (never 0).
    assert_eq!(idle, 1 + 30_000);
    // More of the answer, however slow, pushes nothing on.
    assert!(!w.on_write(b"more of the body"));
    assert_eq!(at(&w), (IDLE, idle));
    // A pipelined upgrade: its own head deadline, then the 101.
    w.on_read(b"GET /chats/clients HTTP/1.1\r\n\r\n");
    assert_eq!(at(&w).0, HEAD);
    assert!(w.on_write(b"HTTP/1.1 101 Switching Protocols\r\n"));
}

#[test]
fn an_interim_100_continue_keeps_the_head_deadline() {
    let mut w = watch();
    w.deadline.set(10_000, HEAD);
    w.on_read(b"POST /conversations HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
    assert!(!w.on_write(b"HTTP/1.1 100 Continue\r\n\r\n"));
    assert_eq!((w.phase, at(&w)), (Phase::Handling, (HEAD, 10_000)));
    assert!(w.on_write(b"HTTP/1.0 101 Switching Protocols\r\n"));
}

#[test]
fn an_http2_preface_is_refused_even_split_and_nothing_else_is() {
    let mut w = watch();
    assert!(!w.on_read(b"PR"));
    assert!(w.on_read(b"I * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    let mut ok = watch();
    assert!(
        !ok.on_read(b"PRIVATE"),
        "a word that only starts with PRI is no preface"
    );
    let mut get = watch();
    assert!(!get.on_read(b"GET / HTTP/1.1\r\n"));
    assert!(
        !get.on_read(b"PRI * HTTP/2.0"),
        "only at the connection's start"
    );
}
