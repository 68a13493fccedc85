use super::*;
use chrono::TimeZone;
use ulid::Ulid;

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_763_000_000 + s, 0).unwrap()
}

fn agent(id: &str, status: PresenceStatus, open: u32, last: Option<i64>) -> Candidate {
    Candidate {
        id: UserId::new(id).unwrap(),
        status,
        open,
        last_assigned_at: last.map(at),
    }
}

fn waiting(n: usize) -> Vec<Waiting> {
    (0..n)
        .map(|i| Waiting {
            id: ConversationId::from_ulid(Ulid::generate()),
            created_at: at(i as i64),
            customer: UserId::new(format!("customer-{i}")).unwrap(),
            subject: None,
        })
        .collect()
}

#[test]
fn vips_are_served_first_and_the_rest_by_the_usual_rule() {
    let agents = [agent("a", PresenceStatus::Online, 0, None)];
    let w = waiting(3);
    let rule = VipFirst {
        vips: [w[2].customer.clone()].into_iter().collect(),
        then: FewestOpenFirst,
    };
    // One place: the VIP, though the newest.
    let plan = rule.plan(&w, &agents, 1, at(100));
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].conversation, w[2].id);
    // Two places: the VIP, then the oldest of the rest.
    let plan = rule.plan(&w, &agents, 2, at(100));
    assert_eq!(
        plan.iter().map(|p| p.conversation).collect::<Vec<_>>(),
        vec![w[2].id, w[0].id]
    );
}

fn to(plan: &[Assignment]) -> Vec<&str> {
    plan.iter().map(|a| a.agent.as_str()).collect()
}

#[test]
fn the_fewest_open_wins_then_the_longest_since_their_last_assignment() {
    let agents = [
        agent("busy", PresenceStatus::Online, 3, Some(1)),
        agent("recent", PresenceStatus::Online, 1, Some(90)),
        agent("earlier", PresenceStatus::Online, 1, Some(10)),
        agent("away", PresenceStatus::Away, 0, None),
        agent("gone", PresenceStatus::Offline, 0, None),
    ];
    let plan = FewestOpenFirst.plan(&waiting(1), &agents, 5, at(100));
    assert_eq!(to(&plan), ["earlier"]);
    let plan = FewestOpenFirst.plan(&waiting(3), &agents, 5, at(100));
    // earlier (1 → 2), then recent (the fewest now), then both hold 2
    // and were just assigned at the same time: the id decides.
    assert_eq!(to(&plan), ["earlier", "recent", "earlier"]);
}

#[test]
fn nobody_goes_above_capacity_and_the_rest_waits_oldest_first() {
    let agents = [
        agent("a", PresenceStatus::Online, 4, None),
        agent("b", PresenceStatus::Online, 5, None),
    ];
    let w = waiting(3);
    let plan = FewestOpenFirst.plan(&w, &agents, 5, at(100));
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].conversation, w[0].id, "the oldest first");
    assert_eq!(plan[0].agent.as_str(), "a");
    assert!(FewestOpenFirst.plan(&w, &[], 5, at(100)).is_empty());
}

/// A small deterministic generator (no dependency): xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Any sequence of opens, closes, presence changes and transfers keeps
/// the invariants, with the rule run after every step as the server
/// does: no agent above capacity, no conversation assigned twice, only
/// online agents take new ones, and nothing waits while someone
/// qualifies.
#[test]
fn random_desks_keep_every_invariant() {
    const CAPACITY: u32 = 3;
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let ids: Vec<String> = (0..6).map(|i| format!("agent-{i}")).collect();
        let mut status: Vec<PresenceStatus> = vec![PresenceStatus::Offline; ids.len()];
        let mut last: Vec<Option<i64>> = vec![None; ids.len()];
        // conversation -> (created, Some(agent index) | None, open)
        let mut convs: Vec<(Waiting, Option<usize>, bool)> = Vec::new();
        for step in 0..200i64 {
            match rng.below(6) {
                0 | 1 => convs.push((
                    Waiting {
                        id: ConversationId::from_ulid(Ulid::generate()),
                        // Ties on the time too (two opened at once).
                        created_at: at(step - (step % 3)),
                        customer: UserId::new(format!("c{step}")).unwrap(),
                        subject: None,
                    },
                    None,
                    true,
                )),
                2 => {
                    let i = rng.below(convs.len() as u64) as usize;
                    if let Some(c) = convs.get_mut(i) {
                        c.2 = false;
                    }
                }
                3 => {
                    let a = rng.below(ids.len() as u64) as usize;
                    status[a] = match rng.below(3) {
                        0 => PresenceStatus::Online,
                        1 => PresenceStatus::Away,
                        _ => PresenceStatus::Offline,
                    };
                }
                _ => {
                    // A transfer back to the queue, or to a colleague
                    // with room (a transfer checks capacity too).
                    let i = rng.below(convs.len() as u64) as usize;
                    let target = rng.below(ids.len() as u64 + 1) as usize;
                    let load = |a: usize, convs: &[(Waiting, Option<usize>, bool)]| {
                        convs.iter().filter(|c| c.2 && c.1 == Some(a)).count() as u32
                    };
                    let room = target < ids.len() && load(target, &convs) < CAPACITY;
                    if let Some(c) = convs.get_mut(i).filter(|c| c.2 && c.1.is_some()) {
                        let from = c.1;
                        c.1 = if room { Some(target) } else { None };
                        // As the store records it: the new agent was
                        // just assigned, and one who handed back too.
                        if let Some(a) = c.1.or(from) {
                            last[a] = Some(step);
                        }
                    }
                }
            }
            // The rule, as the server runs it after every change.
            let candidates: Vec<Candidate> = ids
                .iter()
                .enumerate()
                .map(|(a, id)| Candidate {
                    id: UserId::new(id.as_str()).unwrap(),
                    status: status[a],
                    open: convs.iter().filter(|c| c.2 && c.1 == Some(a)).count() as u32,
                    last_assigned_at: last[a].map(at),
                })
                .collect();
            let mut queue: Vec<Waiting> = convs
                .iter()
                .filter(|c| c.2 && c.1.is_none())
                .map(|c| c.0.clone())
                .collect();
            // In any order: the rule must sort it itself.
            for i in (1..queue.len()).rev() {
                queue.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let plan = FewestOpenFirst.plan(&queue, &candidates, CAPACITY, at(step));
            // Each pick is the qualifying agent with the fewest open,
            // then the oldest last assignment, then the smallest id.
            let mut model = candidates.clone();
            for a in &plan {
                let best = model
                    .iter()
                    .filter(|c| FewestOpenFirst::qualifies(c, CAPACITY))
                    .min_by(|x, y| {
                        (x.open, x.last_assigned_at, &x.id).cmp(&(
                            y.open,
                            y.last_assigned_at,
                            &y.id,
                        ))
                    })
                    .map(|c| c.id.clone());
                assert_eq!(
                    best.as_ref(),
                    Some(&a.agent),
                    "seed {seed}: not the fairest pick"
                );
                let c = model.iter_mut().find(|c| c.id == a.agent).unwrap();
                c.open += 1;
                c.last_assigned_at = Some(at(step));
            }
            let mut seen = std::collections::HashSet::new();
            for a in &plan {
                assert!(seen.insert(a.conversation), "seed {seed}: assigned twice");
                let who = ids.iter().position(|i| i == a.agent.as_str()).unwrap();
                assert_eq!(status[who], PresenceStatus::Online, "seed {seed}");
                let c = convs
                    .iter_mut()
                    .find(|c| c.0.id == a.conversation)
                    .expect("a planned conversation is one that waits");
                assert!(c.2 && c.1.is_none(), "seed {seed}: only waiting ones");
                c.1 = Some(who);
                last[who] = Some(step);
            }
            for (a, _) in ids.iter().enumerate() {
                let open = convs.iter().filter(|c| c.2 && c.1 == Some(a)).count() as u32;
                // Transfers by hand may only fill up to capacity, and
                // the rule never passes it.
                assert!(open <= CAPACITY, "seed {seed}: agent {a} holds {open}");
            }
            let waits = convs.iter().any(|c| c.2 && c.1.is_none());
            let someone_qualifies = ids.iter().enumerate().any(|(a, _)| {
                status[a] == PresenceStatus::Online
                    && (convs.iter().filter(|c| c.2 && c.1 == Some(a)).count() as u32) < CAPACITY
            });
            assert!(
                !(waits && someone_qualifies),
                "seed {seed} step {step}: a conversation waits while an agent qualifies"
            );
            // Oldest first: whatever still waits is newer than what was
            // just assigned.
            if let (Some(newest_assigned), Some(oldest_waiting)) = (
                plan.iter()
                    .filter_map(|a| convs.iter().find(|c| c.0.id == a.conversation))
                    .map(|c| c.0.created_at)
                    .max(),
                convs
                    .iter()
                    .filter(|c| c.2 && c.1.is_none())
                    .map(|c| c.0.created_at)
                    .min(),
            ) {
                assert!(
                    newest_assigned <= oldest_waiting,
                    "seed {seed}: not oldest first"
                );
            }
        }
    }
}
