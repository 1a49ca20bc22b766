//! A set of futures polled by one task, each woken on its own: the dials in
//! flight, without an executor to spawn them on.
//!
//! Each future has a slot and a waker that queues the slot's index and
//! wakes the driver, so a wake-up polls only the futures that were woken
//! (like `FuturesUnordered`, in a few lines). Removing a future drops it,
//! which is how a dial is cancelled.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

#[derive(Default)]
struct Ready {
    indices: Mutex<(VecDeque<usize>, Option<Waker>)>,
}

struct SlotWaker {
    index: usize,
    ready: Arc<Ready>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waker = {
            let mut ready = self.ready.indices.lock().unwrap_or_else(|e| e.into_inner());
            ready.0.push_back(self.index);
            ready.1.clone()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Futures keyed by `K`, polled when woken.
pub(crate) struct FutureSet<K, T> {
    slots: Vec<Option<(K, Boxed<T>, Waker)>>,
    free: Vec<usize>,
    index: HashMap<K, usize>,
    ready: Arc<Ready>,
    len: usize,
}

impl<K: Hash + Eq + Copy, T> FutureSet<K, T> {
    pub(crate) fn new() -> FutureSet<K, T> {
        FutureSet {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            ready: Arc::new(Ready::default()),
            len: 0,
        }
    }

    /// Adds a future under `key`; it is polled at the next `poll_next`.
    pub(crate) fn insert(&mut self, key: K, future: impl Future<Output = T> + Send + 'static) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let waker = Waker::from(Arc::new(SlotWaker {
            index,
            ready: self.ready.clone(),
        }));
        self.slots[index] = Some((key, Box::pin(future), waker));
        if let Some(old) = self.index.insert(key, index) {
            // A key is used once at a time; should it not be, the old
            // future is dropped.
            self.slots[old] = None;
            self.free.push(old);
            self.len -= 1;
        }
        self.len += 1;
        self.ready
            .indices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .push_back(index);
    }

    /// Drops the future under `key`, if any; true if there was one.
    pub(crate) fn remove(&mut self, key: K) -> bool {
        match self.index.remove(&key) {
            Some(index) => {
                self.slots[index] = None;
                self.free.push(index);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    /// Drops every future.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.index.clear();
        self.len = 0;
    }

    /// The next future to finish, with its key, among those woken.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(K, T)>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        loop {
            let index = {
                let mut ready = self.ready.indices.lock().unwrap_or_else(|e| e.into_inner());
                match ready.0.pop_front() {
                    Some(index) => index,
                    None => {
                        ready.1 = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
            };
            // A stale wake-up of a removed (or reused) slot is harmless.
            let Some(Some((_, future, waker))) = self.slots.get_mut(index) else {
                continue;
            };
            let waker = waker.clone();
            if let Poll::Ready(value) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
                let (key, _, _) = self.slots[index].take().expect("the slot just polled");
                self.index.remove(&key);
                self.free.push(index);
                self.len -= 1;
                return Poll::Ready(Some((key, value)));
            }
        }
    }
}
