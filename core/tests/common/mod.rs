//! A small driver for scenario tests: feeds inputs in virtual time, records
//! every action with the time it was emitted, and can answer the manager's
//! requests automatically, the way a runtime would.
#![allow(dead_code)]

use std::time::Duration;

use connmgr::{
    Action, Config, ConnId, ConnManager, Ignored, Input, Instant, PeerAddr, PeerEvent, Seed,
};

/// How the simulated runtime answers `RequestAddress` and `Dial`.
pub trait Responder {
    fn address(&mut self, now: Instant, id: ConnId) -> Input;
    fn dial(&mut self, now: Instant, id: ConnId, attempt: u32, addr: PeerAddr) -> Option<Input>;
}

/// Answers nothing: the test feeds every result by hand.
pub struct Manual;

impl Responder for Manual {
    fn address(&mut self, _: Instant, _: ConnId) -> Input {
        unreachable!("Manual responder is never asked")
    }
    fn dial(&mut self, _: Instant, _: ConnId, _: u32, _: PeerAddr) -> Option<Input> {
        unreachable!("Manual responder is never asked")
    }
}

pub struct Driver {
    pub mgr: ConnManager,
    pub now: Instant,
    /// Every action drained so far, with the time it was drained.
    pub log: Vec<(Instant, Action)>,
}

/// A test address, as the context wants it: a `SocketAddr` (what a
/// listener reports) or a `PeerAddr` (what the manager dials).
pub fn addr<A: std::str::FromStr>(s: &str) -> A
where
    A::Err: std::fmt::Debug,
{
    s.parse().expect("test address")
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Driver {
    /// A manager on `config`, with a fixed seed unless the test set one
    /// (the scenarios must be reproducible).
    pub fn new(mut config: Config) -> Driver {
        config.rng_seed.get_or_insert(Seed::from_u64(0));
        Driver {
            mgr: ConnManager::new(config, Instant::ZERO).expect("valid config"),
            now: Instant::ZERO,
            log: Vec::new(),
        }
    }

    /// Feeds one input now and returns what it produced.
    pub fn feed(&mut self, input: Input) -> (Result<Option<ConnId>, Ignored>, Vec<Action>) {
        let result = self.mgr.handle(self.now, input);
        (result, self.drain())
    }

    /// Feeds one input and returns only its actions.
    pub fn actions(&mut self, input: Input) -> Vec<Action> {
        self.feed(input).1
    }

    /// Feeds an input that must create an id.
    pub fn id(&mut self, input: Input) -> ConnId {
        self.mgr
            .handle(self.now, input)
            .expect("accepted")
            .expect("an id")
    }

    pub fn drain(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(action) = self.mgr.poll_action() {
            self.log.push((self.now, action.clone()));
            out.push(action);
        }
        out
    }

    /// Feeds `input`, then answers every request it causes (and the ones those
    /// cause) at the current time. Returns all actions emitted.
    pub fn run(&mut self, input: Input, responder: &mut impl Responder) -> Vec<Action> {
        let (_, first) = self.feed(input);
        self.answer(first, responder)
    }

    fn answer(&mut self, mut pending: Vec<Action>, responder: &mut impl Responder) -> Vec<Action> {
        let mut all = Vec::new();
        for _ in 0..100_000 {
            if pending.is_empty() {
                return all;
            }
            let batch = std::mem::take(&mut pending);
            for action in &batch {
                let reply = match *action {
                    Action::RequestAddress { id } => Some(responder.address(self.now, id)),
                    Action::Dial {
                        id, attempt, addr, ..
                    } => responder.dial(self.now, id, attempt, addr),
                    _ => None,
                };
                if let Some(reply) = reply {
                    let (_, more) = self.feed(reply);
                    pending.extend(more);
                }
            }
            all.extend(batch);
        }
        panic!("responder loop did not settle");
    }

    /// Advances to `until`, ticking at every deadline on the way and answering
    /// what the ticks cause. Returns all actions emitted.
    pub fn advance(&mut self, until: Instant, responder: &mut impl Responder) -> Vec<Action> {
        let mut all = Vec::new();
        for _ in 0..100_000 {
            match self.mgr.poll_timeout() {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    all.extend(self.run(Input::Tick, responder));
                }
                _ => {
                    self.now = until;
                    return all;
                }
            }
        }
        panic!("timers did not settle");
    }

    /// Advances without answering anything.
    pub fn advance_manual(&mut self, until: Instant) -> Vec<Action> {
        let mut all = Vec::new();
        for _ in 0..100_000 {
            match self.mgr.poll_timeout() {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    all.extend(self.actions(Input::Tick));
                }
                _ => {
                    self.now = until;
                    return all;
                }
            }
        }
        panic!("timers did not settle");
    }

    /// The first Dial for `id` in `actions`.
    pub fn dial_of(actions: &[Action], id: ConnId) -> Option<u32> {
        actions.iter().find_map(|a| match *a {
            Action::Dial { id: d, attempt, .. } if d == id => Some(attempt),
            _ => None,
        })
    }
}

/// A runtime that answers every address request with `addr` and every dial
/// with `dial_ok(now)`.
pub struct Fixed<F: FnMut(Instant) -> Result<(), connmgr::DialError>> {
    pub addr: PeerAddr,
    pub dial_ok: F,
    pub dials: usize,
}

impl<F: FnMut(Instant) -> Result<(), connmgr::DialError>> Responder for Fixed<F> {
    fn address(&mut self, _: Instant, id: ConnId) -> Input {
        Input::AddressResult {
            id,
            result: Ok(self.addr),
        }
    }
    fn dial(&mut self, now: Instant, id: ConnId, attempt: u32, _: PeerAddr) -> Option<Input> {
        self.dials += 1;
        Some(Input::DialResult {
            id,
            attempt,
            result: (self.dial_ok)(now),
        })
    }
}

pub fn fixed_ok(a: &str) -> Fixed<impl FnMut(Instant) -> Result<(), connmgr::DialError>> {
    Fixed {
        addr: addr(a),
        dial_ok: |_| Ok(()),
        dials: 0,
    }
}

/// The connections `actions` report connected, each with whether it is
/// permanent.
pub fn connected(actions: &[Action]) -> Vec<(ConnId, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::NotifyPeer(PeerEvent::Connected { id, kind, .. }) => {
                Some((*id, *kind == connmgr::ConnKind::Permanent))
            }
            _ => None,
        })
        .collect()
}

pub fn count(actions: &[Action], pred: impl Fn(&Action) -> bool) -> usize {
    actions.iter().filter(|a| pred(a)).count()
}
