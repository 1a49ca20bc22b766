//! Three managers on loopback: two listen, the third keeps two automatic
//! outbound connections to them, found in its address book's seeds. Each
//! driver runs on a thread of its own (any executor would do).
//!
//! `cargo run -p connmgr-smol --example smol_loopback`

use std::time::Duration;

use connmgr::Config;
use connmgr_smol::{Builder, Event};
use futures_lite::future;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listening = Config {
        automatic_outbound: false,
        ..Config::default()
    };
    let mut handles = Vec::new();
    for _ in 0..2 {
        let (handle, _events, driver) = Builder::new(listening.clone())
            .listen("127.0.0.1:0".parse()?)
            .build()?;
        std::thread::spawn(|| async_io::block_on(driver));
        handles.push(handle);
    }
    let seeds: Vec<_> = handles.iter().map(|h| h.listen_addrs()[0]).collect();

    let config = Config {
        target_outbound: 2,
        ..Config::default()
    };
    let (node, mut events, driver) = Builder::new(config)
        .seeds(seeds)
        .accept_local_addresses(true) // loopback seeds are fine here
        .build()?;
    std::thread::spawn(|| async_io::block_on(driver));

    async_io::block_on(async {
        let mut streams = Vec::new();
        let watch = async {
            while let Some(event) = events.recv().await {
                match event {
                    Event::Connected {
                        id,
                        addr,
                        direction,
                        stream,
                        ..
                    } => {
                        println!("{id}: connected to {addr} ({direction:?})");
                        streams.push(stream); // ours to read and write; drop to close
                    }
                    other => println!("{other:?}"),
                }
            }
        };
        future::or(watch, async {
            async_io::Timer::after(Duration::from_secs(2)).await;
        })
        .await;
        println!("counts: {:?}", node.counts().await?);
        let stats = node.shutdown().await?;
        println!("dials {}, connected {}", stats.dials, stats.dial_successes);
        for handle in handles {
            handle.shutdown().await?;
        }
        Ok(())
    })
}
