//! A spawned request that is cancelled when dropped: sources ask for the next page while
//! the current one is processed, and a finished or failed run must leave nothing running.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::ConnectorError;

pub struct Prefetch<T>(tokio::task::JoinHandle<Result<T, ConnectorError>>);

impl<T: Send + 'static> Prefetch<T> {
    pub fn spawn(f: impl Future<Output = Result<T, ConnectorError>> + Send + 'static) -> Prefetch<T> {
        Prefetch(tokio::spawn(f))
    }
}

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for Prefetch<T> {
    type Output = Result<T, ConnectorError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| match r {
            Ok(v) => v,
            Err(e) => Err(ConnectorError::Internal(format!("page fetch task failed: {e}"))),
        })
    }
}
