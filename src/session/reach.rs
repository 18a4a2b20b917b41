//! How this session reaches peers across networks: the ICE servers its server hands out at
//! `/config` (the last ones kept for offline starts, fresh ones fetched before their
//! credentials expire; the same answer says whether the server keeps encrypted copies), and which path each connected person's frames take (direct, STUN,
//! TURN, the server) with its round trip, for the people list and the status line.

use std::collections::HashMap;
use std::rc::Rc;

use commonplace_core::app::paths::{PathKind, Reach};
use commonplace_core::room::Path;
use gloo::timers::callback::{Interval, Timeout};
use wasm_bindgen_futures::spawn_local;

use super::{now, Inner};
use crate::transport::config::{self, Fetched};
use crate::transport::signaling::SignalingEvent;

/// How often the people list's paths and round trips are read again.
const PATHS_EVERY_MS: u32 = 3_000;
/// After a failed `/config` (offline, an old server), ask again this much later.
const CONFIG_RETRY_MS: u32 = 30_000;

impl Inner {
    /// Uses the ICE servers this browser last heard of, asks the server for current ones, and
    /// starts watching the paths.
    pub(super) fn start_reach(&self) {
        // The page's config (written by the server), or the head start's answer when it is
        // already here, is used at once: a socket that is open already then subscribes in the
        // same turn (see `reach_out`).
        if let Some((fetched, fresh)) = config::served(now()) {
            self.use_config(&fetched);
            if !fresh {
                self.fetch_config();
            }
        } else if let Some(fetched) = config::answered(now()) {
            self.use_config(&fetched);
        } else {
            if let Some(fetched) = config::cached() {
                self.use_config(&fetched);
            }
            self.fetch_config();
        }
        let me = self.me.clone();
        *self.paths_timer.borrow_mut() = Some(Interval::new(PATHS_EVERY_MS, move || {
            if let Some(inner) = me.upgrade() {
                inner.read_paths();
            }
        }));
    }

    fn fetch_config(&self) {
        let me = self.me.clone();
        spawn_local(async move {
            let fetched = config::fetch(now()).await;
            let Some(inner) = me.upgrade() else { return };
            match fetched {
                Ok(fetched) => inner.use_config(&fetched),
                Err(why) => {
                    gloo::console::warn!("no ICE configuration from the server:", why);
                    inner.refetch_in(CONFIG_RETRY_MS);
                    // Connections on this network's own addresses may still work.
                    inner.reach_known();
                }
            }
        });
    }

    /// New connections use these servers; credentials that expire are renewed in time.
    fn use_config(&self, (config, fetched_at): &Fetched) {
        *self.ice_servers.borrow_mut() = config::ice_servers(config);
        self.server_keeps_copies(config.store);
        if let Some(at) = config.renew_at(*fetched_at) {
            let delay = at.saturating_sub(now()).min(i32::MAX as u64) as u32;
            self.refetch_in(delay);
        }
        self.reach_known();
    }

    /// New connections can be made now: a signaling socket that opened meanwhile is used.
    fn reach_known(&self) {
        self.reach_known.set(true);
        if self.signaling_waits.replace(false) {
            self.on_signaling(SignalingEvent::Open);
        }
    }

    fn refetch_in(&self, delay_ms: u32) {
        let me = self.me.clone();
        *self.config_timer.borrow_mut() = Some(Timeout::new(delay_ms, move || {
            if let Some(inner) = me.upgrade() {
                inner.fetch_config();
            }
        }));
    }

    /// Reads how each reachable peer is reached: the room knows whether through the server,
    /// the browser's stats which candidates a data channel took.
    pub(super) fn read_paths(&self) {
        let paths = self.room.borrow().paths();
        let mut reach = self.reach.borrow_mut();
        reach.retain(|peer, _| paths.iter().any(|(p, _)| p == peer));
        for (peer, path) in paths {
            if path == Path::Relay {
                let rtt_ms = self.room.borrow().rtt(&peer);
                reach.insert(
                    peer,
                    Reach {
                        kind: PathKind::ServerRelay,
                        rtt_ms,
                    },
                );
                continue;
            }
            let Some(selected) = self.peers.borrow().get(&peer).map(|c| c.pc.selected_pair())
            else {
                continue;
            };
            let me = self.me.clone();
            spawn_local(async move {
                let selected = selected.await.unwrap_or_default();
                let Some(inner) = me.upgrade() else { return };
                let kind = PathKind::of(
                    Path::Direct,
                    selected.local.as_deref(),
                    selected.remote.as_deref(),
                );
                let reach = Reach {
                    kind,
                    rtt_ms: selected.rtt_ms,
                };
                let changed = inner.reach.borrow_mut().insert(peer, reach) != Some(reach);
                if changed {
                    inner.show_reach();
                }
            });
        }
        drop(reach);
        self.show_reach();
    }

    fn show_reach(&self) {
        let reach: HashMap<String, Reach> = self.reach.borrow().clone();
        self.update_view(|view| view.reach = Rc::new(reach));
        self.report_status();
    }
}
