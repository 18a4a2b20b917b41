//! What the screens show, decided natively: the browser app's components and session only
//! render these values and carry out these decisions.
//!
//! - [`status`] — the connection and storage badges, from the room's status and what the shell
//!   knows (the first connection attempt, the store);
//! - [`navigation`] — following a wiki link, the page to show when the open one goes;
//! - [`link_completion`] — the page titles offered while a `[[wiki link]]` is typed;
//! - [`import_export`] — files out of and into the notebook, with the texts a person reads when
//!   one cannot be imported;
//! - [`paths`] — how this browser reaches each person (direct, STUN, TURN, the server);
//! - [`preview`] — whether and how the open page's markdown is rendered;
//! - [`identity`] — the names and colours people show: ours, and how others' are read;
//! - [`pacing`] — how much of the page list the first frame draws, when search runs;
//! - [`compaction`] — when the browser's store of updates is merged into one record;
//! - [`journal`] — the notebook's second copy in this browser, beside IndexedDB;
//! - [`notebooks`] — the notebooks this browser holds, as the start screen lists them.

pub mod compaction;
pub mod history;
pub mod identity;
pub mod import_export;
pub mod journal;
pub mod link_completion;
pub mod navigation;
pub mod notebooks;
pub mod pacing;
pub mod paths;
pub mod preview;
pub mod status;
