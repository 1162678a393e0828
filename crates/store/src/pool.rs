//! A small blocking connection pool (connections are created on demand up to a limit
//! and dropped when they break).

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex};

use crate::conn::Conn;
use crate::error::Result;

type Factory = Box<dyn Fn() -> Result<Box<dyn Conn>> + Send + Sync>;

pub struct Pool {
    factory: Factory,
    state: Mutex<State>,
    freed: Condvar,
    max: usize,
}

struct State {
    idle: Vec<Box<dyn Conn>>,
    open: usize,
}

impl Pool {
    pub fn new(max: usize, factory: Factory) -> Pool {
        Pool { factory, state: Mutex::new(State { idle: Vec::new(), open: 0 }), freed: Condvar::new(), max: max.max(1) }
    }

    pub fn get(&self) -> Result<Pooled<'_>> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(c) = st.idle.pop() {
                return Ok(Pooled { pool: self, conn: Some(c) });
            }
            if st.open < self.max {
                st.open += 1;
                drop(st);
                return match (self.factory)() {
                    Ok(c) => Ok(Pooled { pool: self, conn: Some(c) }),
                    Err(e) => {
                        self.state.lock().unwrap_or_else(|p| p.into_inner()).open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            st = self.freed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A checked-out connection; returned to the pool on drop unless it broke.
pub struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Box<dyn Conn>>,
}

impl Deref for Pooled<'_> {
    type Target = dyn Conn;
    fn deref(&self) -> &Self::Target {
        self.conn.as_deref().unwrap_or_else(|| unreachable!("connection present until drop"))
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn.as_deref_mut().unwrap_or_else(|| unreachable!("connection present until drop"))
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let mut st = self.pool.state.lock().unwrap_or_else(|p| p.into_inner());
        match self.conn.take() {
            Some(c) if !c.is_broken() => st.idle.push(c),
            _ => st.open -= 1,
        }
        self.pool.freed.notify_one();
    }
}
