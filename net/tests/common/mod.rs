//! What the driver's tests share: a [`Harness`] per runtime (tokio, smol),
//! so that each test is written once and runs on both, and the loopback
//! fixtures. Every wait is bounded.

#![allow(dead_code)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use connmgr::{Config, Event};
use connmgr_net::driver::{Events, Handle, Runtime};
use connmgr_net::{BuildError, Builder};
use socket2::{Domain, Protocol, Socket, Type};

/// How long any one wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A whole test's limit.
pub const TEST_LIMIT: Duration = Duration::from_secs(30);

/// The application's end of a connection on harness `H`.
pub type Peer<H> = <<H as Harness>::Runtime as Runtime>::Peer;

/// A runtime as a test drives it: an executor, the driver running in the
/// background, a timer, and reads and writes on its peer streams.
pub trait Harness: 'static {
    /// The runtime under test.
    type Runtime: Runtime + Default;

    /// Its name, for file names.
    const NAME: &'static str;

    /// Runs `test` to completion, failing it after [`TEST_LIMIT`].
    fn run<F: Future<Output = ()> + Send + 'static>(test: F);

    /// Builds a manager and runs its driver in the background.
    fn start(builder: Builder<Self::Runtime>) -> Result<(Handle, Events<Peer<Self>>), BuildError>;

    /// Waits `duration` on the runtime's timer.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;

    /// One read.
    fn read<'a>(
        peer: &'a mut Peer<Self>,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// Writes all of `buf`.
    fn write_all<'a>(
        peer: &'a mut Peer<Self>,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

/// The driver on tokio: a 2-worker runtime, as most applications run.
pub struct Tokio;

impl Harness for Tokio {
    type Runtime = connmgr_tokio::Tokio;
    const NAME: &'static str = "tokio";

    fn run<F: Future<Output = ()> + Send + 'static>(test: F) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            tokio::time::timeout(TEST_LIMIT, test)
                .await
                .expect("the test took too long");
        });
    }

    fn start(builder: Builder<Self::Runtime>) -> Result<(Handle, Events<Peer<Self>>), BuildError> {
        builder.spawn()
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    async fn read<'a>(peer: &'a mut Peer<Self>, buf: &'a mut [u8]) -> io::Result<usize> {
        tokio::io::AsyncReadExt::read(peer, buf).await
    }

    async fn write_all<'a>(peer: &'a mut Peer<Self>, buf: &'a [u8]) -> io::Result<()> {
        tokio::io::AsyncWriteExt::write_all(peer, buf).await
    }
}

/// The driver on async-io: each driver on a thread of its own under
/// `async_io::block_on`, the test on the calling thread.
pub struct Smol;

impl Harness for Smol {
    type Runtime = connmgr_smol::Smol;
    const NAME: &'static str = "smol";

    fn run<F: Future<Output = ()> + Send + 'static>(test: F) {
        let limited = futures_lite::future::or(
            async {
                test.await;
                true
            },
            async {
                async_io::Timer::after(TEST_LIMIT).await;
                false
            },
        );
        assert!(async_io::block_on(limited), "the test took too long");
    }

    fn start(builder: Builder<Self::Runtime>) -> Result<(Handle, Events<Peer<Self>>), BuildError> {
        let (handle, events, driver) = builder.build()?;
        std::thread::spawn(|| async_io::block_on(driver));
        Ok((handle, events))
    }

    async fn sleep(duration: Duration) {
        async_io::Timer::after(duration).await;
    }

    async fn read<'a>(peer: &'a mut Peer<Self>, buf: &'a mut [u8]) -> io::Result<usize> {
        futures_lite::AsyncReadExt::read(peer, buf).await
    }

    async fn write_all<'a>(peer: &'a mut Peer<Self>, buf: &'a [u8]) -> io::Result<()> {
        futures_lite::AsyncWriteExt::write_all(peer, buf).await
    }
}

/// `future`'s output, or `None` after `limit`.
pub async fn timeout<H: Harness, T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(future.await) }, async {
        H::sleep(limit).await;
        None
    })
    .await
}

/// The next event, or a panic naming what was awaited.
pub async fn next<H: Harness>(events: &mut Events<Peer<H>>, what: &str) -> Event<Peer<H>> {
    match timeout::<H, _>(WAIT, events.recv()).await {
        Some(Some(event)) => event,
        Some(None) => panic!("events ended while waiting for {what}"),
        None => panic!("timed out waiting for {what}"),
    }
}

/// Events until one matches, skipping others (bounded by `WAIT`).
pub async fn until<H: Harness>(
    events: &mut Events<Peer<H>>,
    what: &str,
    matches: impl Fn(&Event<Peer<H>>) -> bool,
) -> Event<Peer<H>> {
    let find = async {
        loop {
            match events.recv().await {
                Some(event) if matches(&event) => return event,
                Some(_) => continue,
                None => panic!("events ended while waiting for {what}"),
            }
        }
    };
    timeout::<H, _>(WAIT, find)
        .await
        .unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// Polls `condition` every 10 ms until it holds (bounded by `WAIT`).
pub async fn eventually<H: Harness, F: Future<Output = bool>>(
    what: &str,
    mut condition: impl FnMut() -> F,
) {
    let deadline = std::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        H::sleep(Duration::from_millis(10)).await;
    }
}

/// A config for tests: no automatic outbound unless asked, fast retries.
pub fn config() -> Config {
    Config {
        automatic_outbound: false,
        retry_interval: Duration::from_millis(50),
        max_retry_interval: Duration::from_millis(200),
        ..Config::default()
    }
}

/// 127.0.0.1 with a port chosen by the system.
pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// An address nobody listens on (a port just released).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A listener whose accept queue is full and never drained: a dial to it
/// never completes (the SYN is dropped). Keep the result alive.
pub struct Blackhole {
    /// Where it listens.
    pub addr: SocketAddr,
    _listener: Socket,
    _queued: Vec<std::net::TcpStream>,
}

/// Makes a [`Blackhole`]: backlog 0, filled until a connect times out.
pub fn blackhole() -> Blackhole {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    listener.bind(&loopback().into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => queued.push(stream),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Blackhole {
                    addr,
                    _listener: listener,
                    _queued: queued,
                }
            }
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
    panic!("the backlog of {addr} never filled");
}

/// A fresh directory for one test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connmgr-driver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Descriptors this process has open.
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// `addr`, advertised as seen now (the runtimes' clock is the Unix time).
pub fn advertised(addr: SocketAddr) -> connmgr::Advertised {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    connmgr::Advertised::new(addr, connmgr::Instant::from_nanos(unix.as_nanos() as u64))
}

/// Whether the book saved at `path` knows `addr`: `Some(true)` if tried,
/// `Some(false)` if new, `None` if unknown (or no file yet).
pub fn saved_state(path: &std::path::Path, addr: SocketAddr) -> Option<bool> {
    let book = connmgr_store::load_book(path).ok()??;
    let found = book.addresses().into_iter().find(|(a, _)| *a == addr);
    found.map(|(_, tried)| tried)
}
