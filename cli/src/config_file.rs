//! `connmgr node --config FILE` and `connmgr config`: the node's options and
//! the manager's whole [`Config`] in one TOML file.
//!
//! The file has two tables: `[node]` (what the command's flags say: where
//! to listen, whom to connect to, files, metrics, logging) and `[manager]`
//! (every `Config` field, durations as people write them). Anything left
//! out takes its default; flags given on the command line override the
//! file. A mistake is refused before anything starts, naming the file, the
//! line, the key and what is allowed there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use connmgr::{Config, ConfigError, PeerAddr};
use serde::{Deserialize, Serialize};

use crate::{Error, Outcome};

/// The commented default file `connmgr config --default` prints.
pub const DEFAULT_FILE: &str = include_str!("node.toml");

/// A config file.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeFile {
    /// The node's own options.
    pub node: NodeOptions,
    /// The connection manager's policy.
    pub manager: Config,
}

/// The `[node]` table: what `connmgr node`'s flags set.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeOptions {
    pub listen: Vec<SocketAddr>,
    pub listen_onion: Vec<SocketAddr>,
    pub connect: Vec<PeerAddr>,
    pub seeds: Vec<PeerAddr>,
    pub peers_file: Option<PathBuf>,
    pub allow_local: bool,
    pub trace: Option<PathBuf>,
    #[serde(with = "connmgr::serde_duration")]
    pub status_every: Duration,
    pub metrics: Option<SocketAddr>,
    pub log: String,
}

impl Default for NodeOptions {
    fn default() -> NodeOptions {
        NodeOptions {
            listen: Vec::new(),
            listen_onion: Vec::new(),
            connect: Vec::new(),
            seeds: Vec::new(),
            peers_file: None,
            allow_local: false,
            trace: None,
            status_every: Duration::from_secs(10),
            metrics: None,
            log: "info".to_owned(),
        }
    }
}

impl NodeFile {
    /// Reads and checks `path`: its syntax, its keys, its values' types
    /// and ranges, and the manager's config as a whole.
    pub fn load(path: &Path) -> Result<NodeFile, Error> {
        let text = read_bounded(path)?;
        let file: NodeFile = toml::from_str(&text).map_err(|e| {
            let at = e.span().map_or(0, |span| span.start);
            let (line, key) = locate(&text, at);
            format!(
                "{}:{line}: {key}: {}{}",
                path.display(),
                e.message().trim_end(),
                hint(&key)
            )
        })?;
        file.manager
            .validate()
            .map_err(|e| invalid(path, &text, &e))?;
        Ok(file)
    }
}

/// The most a config file may be: a full one is about 5 KiB.
const MAX_FILE: u64 = 1 << 20;

/// `path`'s text, refused past [`MAX_FILE`] (a config file named by
/// mistake as `/dev/zero` must not fill the memory).
fn read_bounded(path: &Path) -> Result<String, Error> {
    use std::io::Read;
    let unreadable =
        |e: std::io::Error| format!("cannot read the config file {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!(
            "the config file {} is larger than {} KiB; is it the right file?",
            path.display(),
            MAX_FILE >> 10
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "the config file {} is not UTF-8 text (byte {}); TOML files are UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// The line (1-based) of byte `at` in `text`, and the dotted key there:
/// the table it is in, then the key on its line (or the table itself, on a
/// table's header).
fn locate(text: &str, at: usize) -> (usize, String) {
    let at = at.min(text.len());
    let line = text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    let mut table = String::new();
    let mut key = String::new();
    for (n, content) in text.lines().enumerate().take(line) {
        let content = content.trim();
        if let Some(header) = content.strip_prefix('[') {
            table = header.trim_end_matches(']').trim().to_owned();
            key.clear();
        } else if n + 1 == line {
            if let Some((name, _)) = content.split_once('=') {
                key = name.trim().to_owned();
            }
        }
    }
    let dotted = match (table.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    };
    (line, dotted)
}

/// What to write instead, for keys whose values have a form to follow.
fn hint(key: &str) -> &'static str {
    let last = key.rsplit('.').next().unwrap_or(key);
    match last {
        "listen" | "listen_onion" | "metrics" | "addr" => {
            "; write an IP address and port, e.g. \"127.0.0.1:8333\" or \"[::1]:8333\""
        }
        "connect" | "seeds" => {
            "; write \"IP:PORT\", \"[IPv6]:PORT\", \"NAME.onion:PORT\" or \"NAME.b32.i2p:0\""
        }
        "allowlist" => "; write subnets, e.g. \"10.0.0.0/8\" or \"2001:db8::/32\"",
        _ => "",
    }
}

/// A config that parsed but cannot work, with the line of the field it
/// names when the file sets it.
fn invalid(path: &Path, text: &str, error: &ConfigError) -> String {
    let field = error.field();
    let wanted = format!("manager.{field}");
    let mut table = String::new();
    let line = text.lines().enumerate().find_map(|(n, content)| {
        let content = content.trim();
        if let Some(header) = content.strip_prefix('[') {
            table = header.trim_end_matches(']').trim().to_owned();
            return None;
        }
        let (key, _) = content.split_once('=')?;
        (format!("{table}.{}", key.trim()) == wanted).then_some(n + 1)
    });
    match line {
        Some(line) => format!("{}:{line}: manager.{field}: {error}", path.display()),
        None => format!("{}: manager.{field}: {error}", path.display()),
    }
}

/// Arguments of `connmgr config`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Args {
    /// Print a config file with every default, commented.
    #[arg(long)]
    pub default: bool,
    /// Check FILE as `connmgr node --config FILE` would, and say what is
    /// wrong (exit status 2) or that it is fine.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
}

/// Runs `connmgr config`.
pub fn run(args: &Args) -> Result<Outcome, Error> {
    if args.default {
        print!("{DEFAULT_FILE}");
        return Ok(Outcome::Success);
    }
    if let Some(path) = &args.check {
        let file = NodeFile::load(path)?;
        if file.node.peers_file.is_none() {
            println!(
                "{}: ok (no node.peers_file: give --peers-file when starting the node)",
                path.display()
            );
        } else {
            println!("{}: ok", path.display());
        }
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_file_is_the_defaults() {
        let file: NodeFile = toml::from_str(DEFAULT_FILE).unwrap();
        assert_eq!(file, NodeFile::default());
    }

    #[test]
    fn the_default_file_names_every_config_field() {
        let mut config = Config {
            rng_seed: Some(connmgr::Seed::from_u64(1)),
            ..Config::default()
        };
        config.networks.ipv4.max_outbound = Some(1);
        config.networks.ipv4.max_inbound = Some(1);
        config.networks.ipv4.proxy = Some(connmgr::Proxy::new(([127, 0, 0, 1], 9050).into()));
        let every = toml::to_string(&NodeFile {
            node: NodeOptions {
                peers_file: Some("p".into()),
                trace: Some("t".into()),
                metrics: Some(([127, 0, 0, 1], 1).into()),
                ..NodeOptions::default()
            },
            manager: config,
        })
        .unwrap();
        let value: toml::Table = toml::from_str(&every).unwrap();
        let mut keys = Vec::new();
        collect_keys(&value, &mut keys);
        for key in keys {
            assert!(
                DEFAULT_FILE.contains(&format!("{key} =")),
                "{key} is missing from node.toml"
            );
        }
    }

    fn collect_keys(table: &toml::Table, keys: &mut Vec<String>) {
        for (key, value) in table {
            match value {
                toml::Value::Table(inner) => collect_keys(inner, keys),
                _ => keys.push(key.clone()),
            }
        }
    }

    #[test]
    fn a_key_is_located_with_its_table() {
        let text = "[node]\nlisten = []\n\n[manager.networks.onion]\nreachable = 5\n";
        let at = text.find("5").unwrap();
        assert_eq!(
            locate(text, at),
            (5, "manager.networks.onion.reachable".into())
        );
        let at = text.find("[manager").unwrap() + 1;
        assert_eq!(locate(text, at), (4, "manager.networks.onion".into()));
    }
}
