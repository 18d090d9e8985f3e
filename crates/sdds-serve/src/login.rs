//! How a client logs in: trusted on loopback without a password, else SCRAM-SHA-256 (the
//! PostgreSQL default: the password never crosses the wire, even without TLS).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::pgwire;
use futures::Sink;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::sasl::scram::{gen_salted_password, ScramAuth, SCRAM_ITERATIONS};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

/// The password every user name logs in with, kept only as SCRAM's salted hash.
#[derive(Clone)]
pub(crate) struct Secret {
    salt: Vec<u8>,
    salted: Vec<u8>,
}

impl Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// Hashes `password` once, with a fresh salt.
    pub(crate) fn new(password: &str) -> Secret {
        let salt: [u8; 16] = rand::random();
        Secret {
            salted: gen_salted_password(password, &salt, SCRAM_ITERATIONS),
            salt: salt.to_vec(),
        }
    }
}

#[async_trait]
impl AuthSource for Secret {
    async fn get_password(&self, _login: &LoginInfo) -> PgWireResult<Password> {
        Ok(Password::new(Some(self.salt.clone()), self.salted.clone()))
    }
}

/// One connection's login: the handler keeps that connection's SCRAM exchange, so each
/// connection gets its own.
pub(crate) enum Login {
    Trust(Trust),
    Password(Box<SASLAuthStartupHandler<DefaultServerParameterProvider>>),
}

impl Login {
    /// The login of a new connection: SCRAM against `secret` if there is one.
    pub(crate) fn new(
        secret: Option<&Secret>,
        certificate: Option<&[u8]>,
        connections: &Arc<ConnectionManager>,
    ) -> PgWireResult<Login> {
        let Some(secret) = secret else {
            return Ok(Login::Trust(Trust {
                connections: Arc::clone(connections),
            }));
        };
        let mut scram = ScramAuth::new(Arc::new(secret.clone()));
        scram.set_iterations(SCRAM_ITERATIONS);
        if let Some(pem) = certificate {
            // Lets clients bind the exchange to the TLS channel (SCRAM-SHA-256-PLUS).
            scram.configure_certificate(pem)?;
        }
        let handler =
            SASLAuthStartupHandler::new(Arc::new(DefaultServerParameterProvider::default()))
                .with_scram(scram)
                .with_connection_manager(Arc::clone(connections));
        Ok(Login::Password(Box::new(handler)))
    }
}

/// No password asked: only on loopback (see [`crate::ServeOptions`]).
pub(crate) struct Trust {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for Trust {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }
}

#[async_trait]
impl StartupHandler for Login {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Login::Trust(trust) => trust.on_startup(client, message).await,
            Login::Password(scram) => scram.on_startup(client, message).await,
        }
    }
}
