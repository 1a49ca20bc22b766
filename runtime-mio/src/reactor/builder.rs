//! [`Mio`]: how a prepared manager becomes a [`Reactor`], in a `Poll` of
//! its own or in the application's. The setup before it (seed, address
//! book, trace, listeners) is `connmgr_net::Builder`'s, shared with every
//! runtime; a child of `reactor` so that it can assemble the `Reactor`
//! without its fields being widened.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::ops::Range;

use connmgr_net::{BuildError, Launch, Prepared};
use mio::{Interest, Poll, Registry, Token};

use super::{Home, Listener, Reactor, Slot};
use crate::peer::Dropped;
use crate::slots::Slots;
use crate::DEFAULT_TOKENS;

/// Where a [`Reactor`] registers its sockets: the runtime of
/// [`Builder`](crate::Builder). By default a `Poll` of its own, using
/// [`DEFAULT_TOKENS`]; or the application's, with
/// [`Mio::embedded`] and [`Builder::runtime`](crate::Builder::runtime).
#[derive(Default)]
pub struct Mio {
    embedded: Option<(Registry, Range<Token>)>,
}

impl Mio {
    /// The application's `Poll` (through `registry`, which is cloned), using
    /// only the tokens in `tokens`: one per listener and one per dial in
    /// flight. Connected peers are handed over and use none.
    pub fn embedded(registry: &Registry, tokens: Range<Token>) -> io::Result<Mio> {
        Ok(Mio {
            embedded: Some((registry.try_clone()?, tokens)),
        })
    }
}

impl fmt::Debug for Mio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.embedded {
            None => f.write_str("Mio(own Poll)"),
            Some((_, tokens)) => write!(f, "Mio(embedded, tokens {tokens:?})"),
        }
    }
}

impl Launch for Mio {
    type Built = Reactor;
    type Error = BuildError;

    fn launch(self, prepared: Prepared) -> Result<Reactor, BuildError> {
        let (home, tokens) = match self.embedded {
            Some((registry, tokens)) => (Home::Embedded(registry), tokens),
            None => (
                Home::Own(Poll::new().map_err(BuildError::Runtime)?),
                DEFAULT_TOKENS,
            ),
        };
        let Prepared {
            core,
            source,
            clock,
            listeners: sockets,
            listen_addrs,
            listen_networks,
            learn_inbound,
            ..
        } = prepared;

        let mut slots = Slots::new(tokens.clone());
        let needed = sockets.len() + 1;
        let too_few = |available| {
            BuildError::Runtime(io::Error::other(format!(
                "the token range has {available} tokens; the reactor needs at least {needed} (one per listener and one per dial in flight)"
            )))
        };
        if slots.capacity() < needed {
            return Err(too_few(slots.capacity()));
        }
        let mut listeners = Vec::with_capacity(sockets.len());
        let bound = sockets.into_iter().zip(&listen_addrs).zip(listen_networks);
        for (index, ((socket, &addr), network)) in bound.enumerate() {
            let mut socket = mio::net::TcpListener::from_std(socket);
            let token = slots
                .insert(Slot::Listener(index))
                .ok_or_else(|| too_few(slots.capacity()))?;
            home.registry()
                .register(&mut socket, token, Interest::READABLE)
                .map_err(|source| BuildError::Listen { addr, source })?;
            listeners.push(Listener {
                socket: Some(socket),
                network,
                token,
                paused: false,
                ready: false,
            });
        }

        Ok(Reactor {
            core,
            source,
            clock,
            home,
            events: None,
            tokens,
            slots,
            listeners,
            listen_addrs,
            dials: HashMap::new(),
            peers: HashMap::new(),
            next_serial: 0,
            unclaimed: None,
            inputs: VecDeque::new(),
            out: VecDeque::new(),
            dropped: Dropped::default(),
            dropped_spare: Vec::new(),
            shut_down: false,
            learn_inbound,
            isolation: connmgr_net::socks5::Isolation::new(),
        })
    }
}
