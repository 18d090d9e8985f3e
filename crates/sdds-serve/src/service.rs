//! One connection's handlers: its login, and queries run on the warehouse's current session.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::pgwire;
use datafusion_postgres::{DfSessionService, Parser};
use futures::Sink;
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::portal::Portal;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionManager, PgWireServerHandlers};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;

use crate::hooks::as_query;
use crate::login::Login;
use crate::query;
use crate::served::Served;

/// What datafusion-postgres keeps of a parsed statement.
type Parsed = <DfSessionService as ExtendedQueryHandler>::Statement;

/// The handlers of one connection.
pub(crate) struct Connection {
    pub(crate) login: Arc<Login>,
    pub(crate) queries: Arc<Queries>,
    pub(crate) connections: Arc<ConnectionManager>,
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::clone(&self.login)
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(DefaultCancelHandler::new(Arc::clone(&self.connections)))
    }
}

/// Runs every statement on the session current when it starts, so a sync committed while a
/// client is connected is seen by its next query.
pub(crate) struct Queries {
    pub(crate) served: Arc<Served>,
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, sql: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let snapshot = self.served.current().await;
        SimpleQueryHandler::do_query(snapshot.service.as_ref(), client, sql).await
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = Parsed;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.served.latest().service.query_parser()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Parsed>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Parsed>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let snapshot = self.served.current().await;
        let limits = &self.served.limits;
        let query = match &portal.statement.statement {
            (_, Some((statement, _))) => as_query(statement),
            _ => None,
        };
        match query {
            // Without parameters a query is planned afresh as `sdds query` plans it.
            Some(statement) if portal.parameters.is_empty() => {
                let ctx = &snapshot.ctx;
                let format = &portal.result_column_format;
                let response = query::run(client, ctx, statement, format, limits).await?;
                Ok(Response::Query(response))
            }
            _ => {
                let deadline = limits.deadline(client);
                let service = snapshot.service.as_ref();
                match ExtendedQueryHandler::do_query(service, client, portal, max_rows).await? {
                    Response::Query(rows) => Ok(Response::Query(limits.apply(rows, deadline))),
                    other => Ok(other),
                }
            }
        }
    }
}
