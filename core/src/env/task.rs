//! Tasks: spawn, join, yield.
//!
//! Guarantees: a spawned task runs concurrently with its spawner and may be
//! interleaved with any other task at every `.await`. A task may be dropped
//! at any `.await` without running further (its node crashed): code must not
//! rely on a task finishing for safety, only on what it made durable.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::oneshot;

use super::BoxFuture;
use crate::{Error, Result};

/// Identifies a spawned task within its Env (for traces and debugging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u64);

/// Starts tasks.
pub trait Spawner: Send + Sync {
    /// Runs `future` as a new task named `name` (for traces).
    fn spawn_boxed(&self, name: &'static str, future: BoxFuture<'static, ()>) -> TaskId;
}

/// Awaits the output of a spawned task.
pub struct JoinHandle<T> {
    id: TaskId,
    receiver: oneshot::Receiver<T>,
}

impl<T> JoinHandle<T> {
    pub fn id(&self) -> TaskId {
        self.id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        Pin::new(&mut self.receiver).poll(cx).map(|received| received.map_err(|_| Error::TaskCancelled))
    }
}

pub(super) fn spawn_with<T, F>(spawner: &dyn Spawner, name: &'static str, future: F) -> JoinHandle<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let (sender, receiver) = oneshot::channel();
    let id = spawner.spawn_boxed(
        name,
        Box::pin(async move {
            // The joiner may have gone away; the task's work still counts.
            let _ = sender.send(future.await);
        }),
    );
    JoinHandle { id, receiver }
}

/// Lets other ready tasks run before continuing. Under the simulator this is a
/// scheduling point where the seed picks who goes next.
pub fn yield_now() -> impl Future<Output = ()> {
    YieldNow { yielded: false }
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
