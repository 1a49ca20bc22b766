//! The manager's secret, drawn from the operating system.

use std::io;

use connmgr::{Config, Seed};

/// 32 bytes from the operating system's entropy (`getrandom(2)` on Linux):
/// the seed a node's keys derive from when its config sets none.
pub fn os_seed() -> io::Result<Seed> {
    let mut bytes = [0; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        io::Error::other(format!(
            "cannot draw the manager's secret seed from the operating system: {e}"
        ))
    })?;
    Ok(Seed::from_bytes(bytes))
}

/// Fills `config.rng_seed` from the operating system if it is `None`; a
/// seed already set (to reproduce a run) is kept.
pub fn resolve_seed(config: &mut Config) -> io::Result<Seed> {
    match config.rng_seed {
        Some(seed) => Ok(seed),
        None => {
            let seed = os_seed()?;
            config.rng_seed = Some(seed);
            Ok(seed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ() {
        assert_ne!(os_seed().unwrap(), os_seed().unwrap());
    }

    #[test]
    fn a_set_seed_is_kept_and_an_unset_one_is_drawn() {
        let fixed = Seed::from_u64(5);
        let mut config = Config {
            rng_seed: Some(fixed),
            ..Config::default()
        };
        assert_eq!(resolve_seed(&mut config).unwrap(), fixed);
        let mut config = Config::default();
        let drawn = resolve_seed(&mut config).unwrap();
        assert_eq!(config.rng_seed, Some(drawn));
    }
}
