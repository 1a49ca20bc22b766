//! Measures connections established per second on loopback, and resident
//! memory per 1 000 established connections.
//!
//! One manager dials N manual connections to K listeners of another
//! manager, in this process; the clock runs from the first `connect` until
//! both managers have handed every connection to the application.
//!
//! `cargo run --release -p connmgr-smol --example smol_establish -- [N] [K] [ROUNDS]`

use std::time::{Duration, Instant};

use connmgr::Config;
use connmgr_smol::{Builder, Event, Events};

fn vm_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn connected(events: &mut Events, n: usize, held: &mut Vec<connmgr_smol::PeerStream>) {
    while held.len() < n {
        let next = futures_lite::future::or(async { Ok(events.recv().await) }, async {
            async_io::Timer::after(Duration::from_secs(30)).await;
            Err(())
        });
        match next.await {
            Ok(Some(Event::Connected { stream, .. })) => held.push(stream),
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            _ => panic!("only {} of {n} connections", held.len()),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    async_io::block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let n = args.next().transpose()?.unwrap_or(4000);
    let k = args.next().transpose()?.unwrap_or(8);
    let rounds = args.next().transpose()?.unwrap_or(3);

    let config = Config {
        automatic_outbound: false,
        max_inbound: u32::try_from(n)?,
        ..Config::default()
    };
    for round in 1..=rounds {
        let mut server = Builder::new(config.clone());
        for _ in 0..k {
            server = server.listen("127.0.0.1:0".parse()?);
        }
        // Each driver on a thread of its own: the two managers run in
        // parallel, as with tokio's two worker threads.
        let (server, mut server_events, driver) = server.build()?;
        std::thread::spawn(|| async_io::block_on(driver));
        let (client, mut client_events, driver) = Builder::new(config.clone()).build()?;
        std::thread::spawn(|| async_io::block_on(driver));
        let addrs = server.listen_addrs().to_vec();
        let rss_before = vm_rss_kb();
        let cpu_before = cpu_ms();

        let started = Instant::now();
        let mut outbound = Vec::with_capacity(n);
        let mut inbound = Vec::with_capacity(n);
        let dial = async {
            for i in 0..n {
                client.connect(addrs[i % k], false).await.unwrap();
            }
        };
        futures_lite::future::zip(
            dial,
            futures_lite::future::zip(
                connected(&mut client_events, n, &mut outbound),
                connected(&mut server_events, n, &mut inbound),
            ),
        )
        .await;
        let took = started.elapsed();
        let cpu = cpu_ms() - cpu_before;
        let rss_after = vm_rss_kb();
        let per_1000 = (rss_after.saturating_sub(rss_before)) as f64 / (n as f64 / 1000.0);
        println!(
            "round {round}: N={n} K={k}: {:.3} s, {:.0} conn/s, CPU {} ms ({:.0} µs/conn), \
             RSS {rss_before} -> {rss_after} kB: {per_1000:.0} kB per 1000 connections \
             (both ends in this process)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            cpu,
            cpu as f64 * 1000.0 / n as f64,
        );
        drop((outbound, inbound));
        client.shutdown().await?;
        server.shutdown().await?;
        while client_events.recv().await.is_some() {}
        while server_events.recv().await.is_some() {}
    }
    Ok(())
}

/// User + system CPU time of this process (Linux, USER_HZ = 100).
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let Some(at) = stat.rfind(')') else { return 0 };
    let fields: Vec<&str> = stat[at + 2..].split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (get(11) + get(12)) * 10
}
