//! Three managers on loopback: two listen, the third keeps two automatic
//! outbound connections to them, found in its address book's seeds.
//!
//! `cargo run -p connmgr-tokio --example tokio_loopback`

use std::time::Duration;

use connmgr::Config;
use connmgr_tokio::{Builder, Event};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listening = Config {
        automatic_outbound: false,
        ..Config::default()
    };
    let a = Builder::new(listening.clone())
        .listen("127.0.0.1:0".parse()?)
        .spawn()?;
    let b = Builder::new(listening)
        .listen("127.0.0.1:0".parse()?)
        .spawn()?;
    let seeds = [a.0.listen_addrs()[0], b.0.listen_addrs()[0]];

    let config = Config {
        target_outbound: 2,
        ..Config::default()
    };
    let (node, mut events) = Builder::new(config)
        .seeds(seeds)
        .accept_local_addresses(true) // loopback seeds are fine here
        .spawn()?;

    let mut streams = Vec::new();
    let deadline = tokio::time::sleep(Duration::from_secs(2));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            Some(event) = events.recv() => match event {
                Event::Connected { id, addr, direction, stream, .. } => {
                    println!("{id}: connected to {addr} ({direction:?})");
                    streams.push(stream); // ours to read and write; drop to close
                }
                other => println!("{other:?}"),
            },
            () = &mut deadline => break,
        }
    }
    println!("counts: {:?}", node.counts().await?);
    let stats = node.shutdown().await?;
    println!("dials {}, connected {}", stats.dials, stats.dial_successes);
    a.0.shutdown().await?;
    b.0.shutdown().await?;
    Ok(())
}
