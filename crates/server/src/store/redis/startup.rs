//! Connecting to Redis when the server starts, or refusing to start.
//!
//! The server refuses to start (one line naming the URL and what to do) if the URL is not one,
//! if Redis cannot be reached, is older than 5.0, or refuses the store's scripts: an instance
//! that would answer 503 to every store request from its first minute is a mistake to show at
//! once (a typo in the URL, Redis not started yet: an orchestrator starts the server again).
//! Losing Redis *later* stops nothing (`outage.rs`). It warns, and starts, if Redis does not
//! keep what it acknowledges on disk (`appendonly yes`, `appendfsync always`) or may evict keys
//! when full (`maxmemory-policy` other than `noeviction`), or if it cannot tell (`CONFIG`
//! refused, as managed Redis services often do).

use super::scripts::SCRIPTS;
use ::redis::aio::ConnectionManager;
use ::redis::{Client, RedisError};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::timeout;
use tracing::{info, warn};

/// How long startup waits for Redis to answer at all.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The oldest Redis the scripts run on: 5.0 replicates a script's effects (its writes), not
/// the script, and takes `HSET` with several fields.
const OLDEST_MAJOR: u32 = 5;

/// What startup found.
pub struct Connected {
    pub manager: ConnectionManager,
    pub version: String,
    /// `appendonly`, if `CONFIG GET` told.
    pub appendonly: Option<bool>,
}

/// Connects with `client` (made from the URL shown as `shown`), checks Redis, loads the scripts.
pub async fn connect(
    client: &Client,
    config: ::redis::aio::ConnectionManagerConfig,
    shown: &str,
) -> Result<Connected, String> {
    let unreachable = |why: String| {
        format!(
            "cannot connect to Redis at {shown} ({why}): start Redis there, or fix --redis (COMMONPLACE_REDIS)"
        )
    };
    let mut manager = timeout(
        START_TIMEOUT,
        client.get_connection_manager_with_config(config),
    )
    .await
    .map_err(|_| unreachable(format!("no answer within {} s", START_TIMEOUT.as_secs())))?
    .map_err(|e| unreachable(e.to_string()))?;
    let asked = |e: RedisError| unreachable(e.to_string());
    let info: String = within(::redis::cmd("INFO").arg("server"), &mut manager)
        .await
        .map_err(asked)?;
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let major = version
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    if major.is_none_or(|major| major < OLDEST_MAJOR) {
        return Err(format!(
            "Redis at {shown} is version {version:?}: the store needs Redis {OLDEST_MAJOR}.0 or later"
        ));
    }
    for script in SCRIPTS.all() {
        let load = script.load_async(&mut manager);
        match timeout(START_TIMEOUT, load).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(format!(
                    "Redis at {shown} does not take the store's Lua scripts ({e}): the store needs SCRIPT LOAD and EVALSHA (an ACL user allowed @scripting)"
                ))
            }
            Err(_) => return Err(unreachable("no answer to SCRIPT LOAD".into())),
        }
    }
    let appendonly = check_durability(&mut manager, shown).await;
    check_eviction(&mut manager, shown).await;
    Ok(Connected {
        manager,
        version,
        appendonly,
    })
}

async fn within<T: ::redis::FromRedisValue>(
    cmd: &::redis::Cmd,
    manager: &mut ConnectionManager,
) -> Result<T, RedisError> {
    match timeout(START_TIMEOUT, cmd.query_async(manager)).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::from(
            std::io::ErrorKind::TimedOut,
        ))),
    }
}

/// Warns unless Redis writes every acknowledged write to disk before answering it. Returns
/// `appendonly`, if it could be read.
async fn check_durability(manager: &mut ConnectionManager, shown: &str) -> Option<bool> {
    let settings: HashMap<String, String> = match within(
        ::redis::cmd("CONFIG").arg("GET").arg("append*"),
        manager,
    )
    .await
    {
        Ok(settings) => settings,
        Err(e) => {
            warn!(
                    "store: cannot read the durability settings of Redis at {shown} (CONFIG GET: {e}); an acknowledged write survives a crash only if Redis runs with appendonly yes and appendfsync always (docs/store.md)"
                );
            return None;
        }
    };
    let appendonly = settings.get("appendonly").map(String::as_str);
    let appendfsync = settings.get("appendfsync").map(String::as_str);
    match (appendonly, appendfsync) {
        (Some("yes"), Some("always")) => info!(
            "store: Redis at {shown} writes each acknowledged write to disk first (appendonly yes, appendfsync always)"
        ),
        (Some("yes"), Some("everysec")) => warn!(
            "store: Redis at {shown} runs with appendfsync everysec: up to about a second of acknowledged store writes is lost if its machine crashes or loses power; run it with appendfsync always (docs/store.md)"
        ),
        (Some("yes"), other) => warn!(
            "store: Redis at {shown} runs with appendfsync {}: the operating system decides when acknowledged store writes reach the disk (often 30 s later); run it with appendfsync always (docs/store.md)",
            other.unwrap_or("unknown")
        ),
        (other, _) => warn!(
            "store: Redis at {shown} runs with appendonly {}: acknowledged store writes since its last snapshot (RDB) are lost if Redis stops or crashes; run it with appendonly yes and appendfsync always (docs/store.md)",
            other.unwrap_or("unknown")
        ),
    }
    appendonly.map(|value| value == "yes")
}

/// Warns if Redis may evict keys when it is full: a store's keys would vanish (a store
/// silently emptied, or its records gone from under its snapshot), where `noeviction` answers
/// the write with an error instead (507 here).
async fn check_eviction(manager: &mut ConnectionManager, shown: &str) {
    let settings: HashMap<String, String> = match within(
        ::redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy"),
        manager,
    )
    .await
    {
        Ok(settings) => settings,
        // Already said by check_durability.
        Err(_) => return,
    };
    match settings.get("maxmemory-policy").map(String::as_str) {
        Some("noeviction") | None => {}
        Some(policy) => warn!(
            "store: Redis at {shown} runs with maxmemory-policy {policy}: when it is full it deletes keys, and so stores; run it with maxmemory-policy noeviction (docs/store.md)"
        ),
    }
}

/// The URL as logs and messages show it: its password (`redis://user:PASSWORD@host`, or a
/// `pass`/`password` query parameter) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if name == "pass" || name == "password" => {
                        format!("{name}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            (
                "redis://:s3cret@127.0.0.1:6379/0",
                "redis://:***@127.0.0.1:6379/0",
            ),
            (
                "rediss://app:s3cret@redis.example:6380",
                "rediss://app:***@redis.example:6380",
            ),
            ("redis://app:p@ss@host/1", "redis://app:***@host/1"),
            ("redis://user@host", "redis://user@host"),
            (
                "redis+unix:///run/redis.sock?db=2&pass=s3cret",
                "redis+unix:///run/redis.sock?db=2&pass=***",
            ),
            (
                "unix:///run/redis.sock?password=s3cret",
                "unix:///run/redis.sock?password=***",
            ),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
