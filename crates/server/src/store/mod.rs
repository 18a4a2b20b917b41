//! The end-to-end encrypted store, under `/store/` (`docs/store.md`): per store id an
//! append-only log of records and at most one snapshot, all ciphertext the server cannot read.
//!
//! This file is the HTTP side: parse the id, the token and the query, bound the body, pace the
//! client, then hand the request to a [`StoreBackend`] and turn its answer into a reply. What a
//! store holds and every rule about it (tokens, sequence numbers, the snapshot's
//! compare-and-swap, quotas) live in the backend, inside its transaction: `sqlite.rs` (one
//! SQLite file, the default) or `redis.rs` (`--redis`: one Redis that several server instances
//! share).

mod open;
pub mod quota;
pub mod redis;
pub mod sqlite;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::header::{
    ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::Router;
use commonplace_protocol::store::{
    AppendReply, ErrorBody, SnapshotReply, StoreId, TokenDigest, WriteToken,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio::time::Instant;
use tracing::{debug, error};

use crate::metrics::{Metrics, StoreOp};

pub use quota::{ClientRates, Quota};

/// A read reply stops adding records past this many bytes (it always holds one entry, and a
/// snapshot whole): a "more" marker tells the browser to ask again.
pub const REPLY_LIMIT: usize = 8 * 1024 * 1024;

/// What a backend's operation resolves to. Boxed so that backends can be chosen at run time
/// (SQLite or Redis) and do their work wherever suits them.
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// Where stores are kept. Every operation is atomic: it happens whole or not at all, and its
/// answer comes only once it is durable.
///
/// A deleted store leaves a tombstone (its id and its token's digest): from then on `read`,
/// `append` and `put_snapshot` on its id answer [`StoreError::Gone`], whatever the token;
/// `delete` with its token does nothing and succeeds, with another is `WrongToken`.
pub trait StoreBackend: Send + Sync + 'static {
    /// Appends a record and returns its sequence number: one more than the store's last
    /// (1 for a new store; never reused, even after a snapshot). A missing store is created,
    /// keeping `token`; an existing one must have been created with the same token. A deleted
    /// one is not created again (`Gone`).
    fn append(&self, id: StoreId, token: TokenDigest, record: Bytes) -> Pending<u64>;

    /// The read reply for `?after=after` (the framing of `protocol::store`): the snapshot if it
    /// covers more than `after`, then the records after both, up to about `limit` bytes.
    fn read(&self, id: StoreId, after: u64, limit: usize) -> Pending<Vec<u8>>;

    /// Replaces the snapshot, if the current one covers exactly `replaces` (0: none) and
    /// `replaces < covers <= last seq`, and deletes the records it covers; returns `covers`.
    fn put_snapshot(
        &self,
        id: StoreId,
        token: TokenDigest,
        covers: u64,
        replaces: u64,
        snapshot: Bytes,
    ) -> Pending<u64>;

    /// Deletes the store's records and snapshot, so that no file keeps them, and leaves a
    /// tombstone. Again on a tombstone, with its token: nothing to do, `Ok`.
    fn delete(&self, id: StoreId, token: TokenDigest) -> Pending<()>;

    fn quota(&self) -> Quota;

    /// Whether the backend's Redis serves, as far as it knows already (`None`: not on Redis):
    /// for `/healthz` and `/metrics`, which ask at every poll, so this must not ask Redis.
    fn redis_up(&self) -> Option<bool> {
        None
    }

    /// Finishes what was asked, then refuses everything (`Unavailable`) and lets go of its
    /// files.
    fn close(&self) -> Pending<()>;
}

/// Why a store operation did not happen. Each is one status and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// 400: what was asked makes no sense (e.g. a snapshot covering records not written).
    Invalid(String),
    /// 403
    WrongToken,
    /// 404
    NotFound,
    /// 410: the store was deleted; its id stays taken.
    Gone,
    /// 409: the snapshot's compare-and-swap lost; what the current snapshot covers.
    Stale { covers: u64 },
    /// 507: the store's quota (or the server's disk).
    Full(String),
    /// 503: shutting down, or the store's Redis out of reach for now.
    Unavailable(String),
    /// 500: the database failed; logged.
    Failed(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Invalid(why)
            | StoreError::Full(why)
            | StoreError::Unavailable(why)
            | StoreError::Failed(why) => f.write_str(why),
            StoreError::WrongToken => f.write_str("wrong write token for this store"),
            StoreError::NotFound => f.write_str("no such store"),
            StoreError::Gone => f.write_str(
                "the server copy of this notebook was removed by someone who holds its key",
            ),
            StoreError::Stale { covers } => write!(
                f,
                "the snapshot was replaced meanwhile: it now covers {covers}; read the store again"
            ),
        }
    }
}

/// The store as the server runs it.
#[derive(Clone)]
pub struct StoreOptions {
    pub backend: Arc<dyn StoreBackend>,
    /// Largest record accepted.
    pub max_record: u64,
    /// Bytes per second of store writes each client may send, and at once.
    pub rate: u64,
    pub burst: u64,
}

impl StoreOptions {
    pub fn new(backend: Arc<dyn StoreBackend>) -> Self {
        StoreOptions {
            backend,
            max_record: quota::DEFAULT_MAX_RECORD,
            rate: quota::DEFAULT_RATE,
            burst: quota::DEFAULT_BURST,
        }
    }
}

struct Store {
    options: StoreOptions,
    rates: ClientRates,
    metrics: Arc<Metrics>,
}

/// The `/store/` routes; without a store, each answers 503 saying so. Each request to a store
/// is counted in `metrics`.
pub fn routes(store: Option<StoreOptions>, metrics: Arc<Metrics>) -> Router {
    let Some(options) = store else {
        return Router::new()
            .route("/store", any(no_store))
            .route("/store/{*rest}", any(no_store));
    };
    let state = Arc::new(Store {
        rates: ClientRates::new(options.rate, options.burst),
        options,
        metrics,
    });
    let routes = Router::new()
        .route(
            "/{id}",
            get(read)
                .delete(delete)
                .fallback(|| async { not_allowed("GET, DELETE") }),
        )
        .route(
            "/{id}/records",
            post(append).fallback(|| async { not_allowed("POST") }),
        )
        .route(
            "/{id}/snapshot",
            put(snapshot).fallback(|| async { not_allowed("PUT") }),
        )
        .fallback(no_route)
        .with_state(state);
    // `nest` leaves out the bare "/store/".
    Router::new()
        .nest("/store", routes)
        .route("/store/", any(no_route))
}

async fn no_store() -> Response {
    reply_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "this server keeps no store (it was started with --no-store)",
    )
}

async fn no_route() -> Response {
    reply_error(
        StatusCode::NOT_FOUND,
        "no such store route: see docs/store.md (GET or DELETE /store/{id}, POST /store/{id}/records, PUT /store/{id}/snapshot)",
    )
}

fn not_allowed(allow: &'static str) -> Response {
    let mut response = reply_error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("this store route takes {allow}"),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// A request refused: its reply, already made (boxed: a `Response` is large to move around in
/// every `Result`).
struct Refused(Box<Response>);

impl From<Response> for Refused {
    fn from(response: Response) -> Self {
        Refused(Box::new(response))
    }
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        Refused(Box::new(error.into_response()))
    }
}

fn refused(status: StatusCode, error: &str) -> Refused {
    reply_error(status, error).into()
}

fn reply_error(status: StatusCode, error: &str) -> Response {
    json(status, ErrorBody::new(error).to_json())
}

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        let status = match &self {
            StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
            StoreError::WrongToken => StatusCode::FORBIDDEN,
            StoreError::NotFound => StatusCode::NOT_FOUND,
            StoreError::Gone => StatusCode::GONE,
            StoreError::Stale { .. } => StatusCode::CONFLICT,
            StoreError::Full(_) => StatusCode::INSUFFICIENT_STORAGE,
            StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Failed(why) => {
                error!("store: {why}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut body = ErrorBody::new(self.to_string());
        if let StoreError::Stale { covers } = self {
            body.covers = Some(covers);
        }
        json(status, body.to_json())
    }
}

fn store_id(path: Result<Path<String>, PathRejection>) -> Result<StoreId, Refused> {
    let Ok(Path(text)) = path else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "a store id is 32 lowercase hex digits",
        ));
    };
    StoreId::parse(&text).map_err(|e| refused(StatusCode::BAD_REQUEST, &e.0))
}

fn write_token(headers: &HeaderMap) -> Result<TokenDigest, Refused> {
    let unauthorized = |why: &str| {
        let mut response = reply_error(StatusCode::UNAUTHORIZED, why);
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Refused::from(response)
    };
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(unauthorized(
            "writing a store takes its write token: Authorization: Bearer <token>",
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header must be \"Bearer <write token>\""))?;
    WriteToken::from_authorization(value)
        .map(|token| token.digest())
        .map_err(|e| unauthorized(&e.0))
}

/// The query's parameters, each a number, each at most once; any other is an error.
fn numbers<const N: usize>(
    query: Option<&str>,
    names: [&'static str; N],
) -> Result<[Option<u64>; N], Refused> {
    let mut values = [None; N];
    let bad = |why: String| refused(StatusCode::BAD_REQUEST, &why);
    for pair in query.unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(at) = names.iter().position(|known| *known == name) else {
            return Err(bad(format!(
                "unknown query parameter {:?}: this route takes {}",
                name.chars().take(40).collect::<String>(),
                names.join(" and ")
            )));
        };
        if values[at].is_some() {
            return Err(bad(format!("{name} is given twice")));
        }
        let number = (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
            .then(|| value.parse::<u64>().ok())
            .flatten()
            .filter(|&n| n <= i64::MAX as u64);
        let Some(number) = number else {
            return Err(bad(format!(
                "{name} must be a whole number from 0 to 2^63-1"
            )));
        };
        values[at] = Some(number);
    }
    Ok(values)
}

impl Store {
    /// Counts a request in `/metrics` by its answer, with the bytes it wrote or read.
    fn counted(&self, op: StoreOp, response: Response, bytes: usize) -> Response {
        self.metrics.store_request(op, response.status(), bytes);
        response
    }

    /// Paces the client: `429` with `Retry-After` (whole seconds, rounded up) while it is over
    /// its budget.
    fn admit(&self, remote: SocketAddr, cost: u64) -> Result<(), Refused> {
        let Err(wait) = self.rates.admit(remote.ip(), cost, Instant::now()) else {
            return Ok(());
        };
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        let mut response = reply_error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("too many store writes from this address: try again in {secs} s"),
        );
        response.headers_mut().insert(RETRY_AFTER, secs.into());
        Err(response.into())
    }

    /// Admits a write with a body of at most `max` bytes, reads it, and charges the client.
    async fn body(
        &self,
        remote: SocketAddr,
        headers: &HeaderMap,
        body: Body,
        max: u64,
        what: &str,
    ) -> Result<Bytes, Refused> {
        let too_large = || {
            refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the {what} is larger than this server's limit of {max} bytes"),
            )
        };
        let declared = match headers.get(CONTENT_LENGTH) {
            None => None,
            Some(value) => match value.to_str().ok().and_then(|v| v.parse::<u64>().ok()) {
                Some(len) => Some(len),
                None => return Err(refused(StatusCode::BAD_REQUEST, "a bad Content-Length")),
            },
        };
        if declared.is_some_and(|len| len > max) {
            return Err(too_large());
        }
        self.admit(remote, quota::REQUEST_COST + declared.unwrap_or(0))?;
        let limit = usize::try_from(max).unwrap_or(usize::MAX);
        let bytes = match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
            Err(e) => {
                debug!("store: a request body could not be read: {e}");
                return Err(refused(
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                ));
            }
        };
        if declared.is_none() {
            self.rates
                .spend(remote.ip(), bytes.len() as u64, Instant::now());
        }
        if bytes.is_empty() {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                &format!("the {what} is empty"),
            ));
        }
        Ok(bytes)
    }
}

/// `GET /store/{id}?after=N`
async fn read(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut len = 0;
    let result = async {
        let id = store_id(path)?;
        let [after] = numbers(query.as_deref(), ["after"])?;
        let after = after.unwrap_or(0);
        debug!(store = %id, after, "store read");
        let body = store.options.backend.read(id, after, REPLY_LIMIT).await?;
        len = body.len();
        let headers = [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ];
        Ok::<_, Refused>((StatusCode::OK, headers, body).into_response())
    };
    let response = result.await.unwrap_or_else(|refused| *refused.0);
    store.counted(StoreOp::Read, response, len)
}

/// `POST /store/{id}/records`
async fn append(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut len = 0;
    let result = async {
        let id = store_id(path)?;
        let token = write_token(&headers)?;
        let max = store.options.max_record;
        let record = store.body(remote, &headers, body, max, "record").await?;
        len = record.len();
        debug!(store = %id, len, "store append");
        let seq = store
            .options
            .backend
            .append(id, token, record)
            .await
            .map_err(Refused::from)?;
        let body = serde_json::to_string(&AppendReply { seq }).unwrap_or_default();
        Ok::<_, Refused>(json(StatusCode::CREATED, body))
    };
    let response = result.await.unwrap_or_else(|refused| *refused.0);
    store.counted(StoreOp::Append, response, len)
}

/// `PUT /store/{id}/snapshot?covers=S&replaces=P`
async fn snapshot(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut len = 0;
    let result = async {
        let id = store_id(path)?;
        let [covers, replaces] = numbers(query.as_deref(), ["covers", "replaces"])?;
        let (Some(covers), Some(replaces)) = (covers, replaces) else {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                "a snapshot takes ?covers=S&replaces=P: the last record it covers, and what the snapshot it replaces covers (0: none)",
            ));
        };
        if covers <= replaces {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                "a snapshot must cover more than the one it replaces (covers > replaces)",
            ));
        }
        let token = write_token(&headers)?;
        let max = store.options.backend.quota().max_snapshot();
        let snapshot = store.body(remote, &headers, body, max, "snapshot").await?;
        len = snapshot.len();
        debug!(store = %id, covers, replaces, len = snapshot.len(), "store snapshot");
        let covers = store
            .options
            .backend
            .put_snapshot(id, token, covers, replaces, snapshot)
            .await
            .map_err(Refused::from)?;
        let body = serde_json::to_string(&SnapshotReply { covers }).unwrap_or_default();
        Ok::<_, Refused>(json(StatusCode::OK, body))
    };
    let response = result.await.unwrap_or_else(|refused| *refused.0);
    store.counted(StoreOp::Snapshot, response, len)
}

/// `DELETE /store/{id}`
async fn delete(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let id = store_id(path)?;
        let token = write_token(&headers)?;
        store.admit(remote, quota::REQUEST_COST)?;
        debug!(store = %id, "store delete");
        store
            .options
            .backend
            .delete(id, token)
            .await
            .map_err(Refused::from)?;
        Ok::<_, Refused>(StatusCode::NO_CONTENT.into_response())
    };
    let response = result.await.unwrap_or_else(|refused| *refused.0);
    store.counted(StoreOp::Delete, response, 0)
}
