//! A readable lifecycle of a few connections, driven by hand-written inputs.
//!
//! Run with `cargo run -p connmgr --example lifecycle`. A pretend runtime
//! answers the manager: two addresses work, one refuses, a permanent peer
//! drops twice and is redialled with growing backoff, an inbound peer
//! arrives, and finally the manager stops. Every input and every action is
//! printed with its virtual time.

use std::collections::VecDeque;
use std::time::Duration;

use connmgr::{
    Action, Config, ConnId, ConnManager, DialError, Input, Instant, ListenerId, PeerAddr, Seed,
};

struct Runtime {
    mgr: ConnManager,
    now: Instant,
    /// Addresses handed out, in order, to `RequestAddress`.
    book: VecDeque<PeerAddr>,
    /// Inputs the pretend network will deliver once the current one is done.
    replies: VecDeque<Input>,
}

impl Runtime {
    /// Feeds one input, performs its actions, delivers the replies they
    /// cause; returns the id the input created, if any.
    fn feed(&mut self, input: Input) -> Option<ConnId> {
        println!("{:>9}  -> {input:?}", self.now.to_string());
        let created = match self.mgr.handle(self.now, input) {
            Ok(id) => id,
            Err(ignored) => {
                println!("{:>9}     (ignored: {ignored})", "");
                None
            }
        };
        while let Some(action) = self.mgr.poll_action() {
            println!("{:>9}  <- {action:?}", "");
            self.perform(action);
        }
        while let Some(reply) = self.replies.pop_front() {
            self.feed(reply);
        }
        created
    }

    /// What a runtime would do; here the network's answers are scripted.
    fn perform(&mut self, action: Action) {
        match action {
            Action::RequestAddress { id } => {
                let result = self.book.pop_front().ok_or(connmgr::AddressError::Empty);
                self.replies.push_back(Input::AddressResult { id, result });
            }
            Action::Dial {
                id, attempt, addr, ..
            } => {
                let refused = addr.port() == 1;
                let result = if refused {
                    Err(DialError::Refused)
                } else {
                    Ok(())
                };
                self.replies.push_back(Input::DialResult {
                    id,
                    attempt,
                    result,
                });
            }
            _ => {}
        }
    }

    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(at) = self.mgr.poll_timeout().filter(|at| *at <= until) {
            self.now = at;
            self.feed(Input::Tick);
        }
        self.now = until;
    }
}

fn main() {
    let config = Config {
        target_outbound: 2,
        // A fixed secret, so the walk-through prints the same every time; a
        // node draws its seed from the operating system.
        rng_seed: Some(Seed::from_u64(1)),
        ..Config::default()
    };
    let addrs = ["203.0.113.10:8333", "198.51.100.20:1", "192.0.2.30:8333"];
    let mut rt = Runtime {
        mgr: ConnManager::new(config, Instant::ZERO).expect("valid config"),
        now: Instant::ZERO,
        book: addrs.iter().map(|a| a.parse().expect("address")).collect(),
        replies: VecDeque::new(),
    };
    let permanent: PeerAddr = "203.0.114.1:8333".parse().expect("address");

    println!("== start: two automatic connections, one address refuses");
    rt.feed(Input::Start);
    println!("\n== a permanent peer");
    let peer = rt
        .feed(Input::Connect {
            addr: permanent,
            permanent: true,
        })
        .expect("Connect returns the new id");

    for _ in 0..2 {
        rt.advance(Duration::from_secs(2));
        println!("\n== the permanent peer drops before it is stable (60 s): its backoff grows");
        rt.feed(Input::Closed { id: peer });
        rt.advance(Duration::from_secs(15));
    }

    println!("\n== an inbound peer arrives");
    rt.feed(Input::Accepted {
        listener: ListenerId(0),
        remote: "198.51.100.99:50000".parse().expect("address"),
        network: None,
    });

    println!("\n== stop: everything the manager owns is closed");
    rt.advance(Duration::from_secs(1));
    rt.feed(Input::Stop);
    println!("\n{:?}", rt.mgr.stats());
}
