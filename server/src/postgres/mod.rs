//! The PostgreSQL wire protocol front end: an accept loop over an Env
//! listener and one [`Connection`] task per client.

mod connection;
pub mod scram;
pub mod tls;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::ErrorResponse;
use rustydb_core::Result;
use rustydb_core::env::{Env, Listener};
use rustydb_core::sql::Database;

pub use connection::{Connection, Ended, MAX_COPY_BYTES, MAX_MESSAGE_BYTES, MAX_PREPARED};

use crate::auth::Authenticator;
use crate::registry::{MAX_CONNECTIONS, Registry};

/// How long shutdown waits for connections to finish their statements.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// TLS settings for the wire protocol: `None` refuses every SSLRequest.
pub type TlsConfig = Option<Arc<rustls::ServerConfig>>;

/// Accepts clients on `listener` until `stop` resolves, then cancels running
/// statements and waits up to [`SHUTDOWN_GRACE`] for connections to end.
pub async fn serve(
    env: Env,
    db: Arc<Database>,
    listener: Box<dyn Listener>,
    registry: Arc<Registry>,
    auth: Arc<Authenticator>,
    tls: TlsConfig,
    stop: impl std::future::Future<Output = ()> + Send,
) -> Result<()> {
    let mut stop = std::pin::pin!(stop.fuse());
    loop {
        let accepted = futures::select_biased! {
            () = stop.as_mut() => break,
            accepted = listener.accept().fuse() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        if registry.len() >= MAX_CONNECTIONS {
            tracing::warn!(%peer, "refused: {MAX_CONNECTIONS} connections already");
            env.spawn("pg-refuse", refuse(stream));
            continue;
        }
        let connection = Connection::new(stream, &peer, db.session(), registry.clone(), auth.clone(), tls.clone());
        env.spawn("pg-connection", async move {
            match connection.run().await {
                Ok(ended) => tracing::debug!(%peer, ?ended, "connection ended"),
                Err(e) => tracing::info!(%peer, error = %e, "connection failed"),
            }
        });
    }
    registry.begin_shutdown();
    let mut waited = Duration::ZERO;
    while !registry.is_empty() && waited < SHUTDOWN_GRACE {
        env.clock.sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    Ok(())
}

/// Tells a client over the connection limit why it is turned away.
async fn refuse(mut stream: Box<dyn rustydb_core::env::Stream>) {
    let fields = vec![
        (b'S', "FATAL".to_string()),
        (b'C', "53300".to_string()),
        (b'M', "sorry, too many clients already".to_string()),
    ];
    let mut packet = bytes::BytesMut::new();
    if PgWireBackendMessage::ErrorResponse(ErrorResponse::new(fields)).encode(&mut packet).is_ok() {
        let _ = stream.write_all(&packet).await;
    }
}
