//! PostgreSQL backend (the synchronous `postgres` client, run on blocking threads):
//! `?` → `$n` rewriting, a statement cache, binary COPY for bulk inserts and
//! `UPDATE … FROM UNNEST(arrays)` for bulk updates.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::mem::ManuallyDrop;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement};

use super::{Conn, Dialect};
use crate::error::{Result, StoreError};
use crate::value::{Batch, Column, Param, Row, Value};

type BoxErr = Box<dyn StdError + Sync + Send>;

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut postgres::types::private::BytesMut) -> std::result::Result<IsNull, BoxErr> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                Type::FLOAT8 => (v as f64).to_sql(ty, out),
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => Err(format!("cannot send an integer as {ty}").into()),
            },
            Param::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                _ => Err(format!("cannot send a real as {ty}").into()),
            },
            Param::Text(s) => s.to_sql(ty, out),
            Param::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

pub struct PgConn {
    client: ManuallyDrop<Client>,
    statements: HashMap<String, Statement>,
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Closing the client blocks on its own runtime, which panics on an async worker
        // thread: close it on a short-lived thread instead, wherever the last handle dies.
        self.statements.clear();
        // SAFETY: `client` is taken exactly once, here, and never used afterwards.
        let client = unsafe { ManuallyDrop::take(&mut self.client) };
        let _ = std::thread::Builder::new().name("pg-close".into()).spawn(move || drop(client));
    }
}

/// `?` placeholders → `$1, $2, …`. Our SQL never has `?` inside literals.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_type(col: &Column) -> (&'static str, Type) {
    match col {
        Column::Int(_) => ("bigint", Type::INT8),
        Column::Real(_) => ("double precision", Type::FLOAT8),
        Column::Text(_) | Column::Str(_) => ("text", Type::TEXT),
        Column::Blob(_) => ("bytea", Type::BYTEA),
    }
}

impl PgConn {
    pub fn new(client: Client) -> Self {
        PgConn { client: ManuallyDrop::new(client), statements: HashMap::new() }
    }

    pub fn raw(&mut self) -> &mut Client {
        &mut self.client
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        self.statement_raw(&numbered(sql)).inspect(|st| {
            self.statements.insert(sql.to_string(), st.clone());
        })
    }

    /// Prepares SQL already written with `$n` placeholders (cached under its own text).
    fn statement_raw(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let st = self.client.prepare(sql)?;
        if self.statements.len() > 512 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

fn decode(row: &postgres::Row, i: usize) -> Result<Value> {
    let ty = row.columns()[i].type_().clone();
    let v = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(|v| Value::Int(v.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(|v| Value::Int(v.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(|v| Value::Int(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Real),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map(|v| Value::Real(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
        other => return Err(StoreError::Decode(format!("column {i} has unsupported type {other}"))),
    };
    Ok(v.unwrap_or(Value::Null))
}

/// PostgreSQL's binary COPY format for a batch: signature, flags, extension length,
/// then per row a field count and length-prefixed big-endian fields, then `-1`.
fn encode_binary_copy(batch: &Batch) -> Vec<u8> {
    let n = batch.len();
    let fields = batch.columns.len() as i16;
    let mut out: Vec<u8> = Vec::with_capacity(32 + n * (2 + batch.columns.len() * 16));
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    fn bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    for row in 0..n {
        out.extend_from_slice(&fields.to_be_bytes());
        for col in &batch.columns {
            match col {
                Column::Int(v) => bytes(&mut out, v[row].map(i64::to_be_bytes).as_ref().map(|b| &b[..])),
                Column::Real(v) => bytes(&mut out, v[row].map(f64::to_be_bytes).as_ref().map(|b| &b[..])),
                Column::Text(v) => bytes(&mut out, v[row].as_deref().map(str::as_bytes)),
                Column::Str(v) => bytes(&mut out, Some(v[row].as_bytes())),
                Column::Blob(v) => bytes(&mut out, v[row].as_deref()),
            }
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

/// Each column of a batch as one array parameter.
fn array_refs(batch: &Batch) -> Vec<&(dyn ToSql + Sync)> {
    batch
        .columns
        .iter()
        .map(|c| -> &(dyn ToSql + Sync) {
            match c {
                Column::Int(v) => v,
                Column::Real(v) => v,
                Column::Text(v) => v,
                Column::Str(v) => v,
                Column::Blob(v) => v,
            }
        })
        .collect()
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let st = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        Ok(self.client.execute(&st, &refs)?)
    }

    fn query_each(&mut self, sql: &str, params: &[Param<'_>], f: &mut dyn FnMut(Row) -> Result<()>) -> Result<()> {
        let st = self.statement(sql)?;
        let mut it = self.client.query_raw(&st, params.iter())?;
        while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut it)? {
            let mut vals = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                vals.push(decode(&row, i)?);
            }
            f(Row(vals))?;
        }
        Ok(())
    }

    fn batch_execute(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn insert_batch(&mut self, table: &str, batch: &Batch) -> Result<u64> {
        batch.check()?;
        if batch.is_empty() {
            return Ok(0);
        }
        // The whole batch is encoded into one buffer and sent as one COPY message stream:
        // writing row by row through the client's sink costs a runtime entry per row and
        // hundreds of small socket writes per batch.
        let payload = encode_binary_copy(batch);
        let st = self.statement_raw(&format!("COPY {table} ({}) FROM STDIN (FORMAT binary)", batch.names.join(",")))?;
        let mut w = self.client.copy_in(&st)?;
        std::io::Write::write_all(&mut w, &payload).map_err(|e| StoreError::Postgres(format!("COPY into {table}: {e}")))?;
        Ok(w.finish()?)
    }

    fn update_batch(&mut self, table: &str, batch: &Batch) -> Result<u64> {
        batch.check()?;
        if batch.is_empty() {
            return Ok(0);
        }
        let key = batch.names[0];
        let arrays: Vec<String> = batch.columns.iter().enumerate().map(|(i, c)| format!("${}::{}[]", i + 1, pg_type(c).0)).collect();
        let sets: Vec<String> = batch.names[1..].iter().map(|n| format!("{n} = u.{n}")).collect();
        let sql = format!(
            "UPDATE {table} AS t SET {} FROM UNNEST({}) AS u({}) WHERE t.{key} = u.{key}",
            sets.join(", "),
            arrays.join(", "),
            batch.names.join(", ")
        );
        let st = self.statement_raw(&sql)?;
        let refs = array_refs(batch);
        Ok(self.client.execute(&st, &refs)?)
    }

    fn insert_batch_ignore(&mut self, table: &str, batch: &Batch) -> Result<u64> {
        batch.check()?;
        if batch.is_empty() {
            return Ok(0);
        }
        let arrays: Vec<String> = batch.columns.iter().enumerate().map(|(i, c)| format!("${}::{}[]", i + 1, pg_type(c).0)).collect();
        let sql = format!(
            "INSERT INTO {table} ({cols}) SELECT * FROM UNNEST({}) AS u({cols}) ON CONFLICT DO NOTHING",
            arrays.join(", "),
            cols = batch.names.join(", ")
        );
        let st = self.statement_raw(&sql)?;
        let refs = array_refs(batch);
        Ok(self.client.execute(&st, &refs)?)
    }

    fn select_by_keys(&mut self, table: &str, select: &[&str], keys: &Batch) -> Result<Vec<Row>> {
        keys.check()?;
        let mut out = Vec::new();
        if keys.is_empty() {
            return Ok(out);
        }
        // One round trip: the key tuples go as arrays, and a LATERAL subquery per tuple
        // makes every lookup an index probe whatever the planner's (often stale) row
        // estimates during a bulk load say.
        let arrays: Vec<String> = keys.columns.iter().enumerate().map(|(i, c)| format!("${}::{}[]", i + 1, pg_type(c).0)).collect();
        let on: Vec<String> = keys.names.iter().map(|n| format!("t.{n} = k.{n}")).collect();
        let cols: Vec<String> = select.iter().map(|c| format!("t.{c}")).collect();
        let sql = format!(
            "SELECT {cols} FROM UNNEST({arrays}) AS k({names}) CROSS JOIN LATERAL \
             (SELECT {cols} FROM {table} t WHERE {on} OFFSET 0) t",
            cols = cols.join(", "),
            arrays = arrays.join(", "),
            names = keys.names.join(", "),
            on = on.join(" AND ")
        );
        let st = self.statement_raw(&sql)?;
        let refs = array_refs(keys);
        for row in self.client.query(&st, &refs)? {
            let mut vals = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                vals.push(decode(&row, i)?);
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn reserve_ids(&mut self, table: &str, n: usize) -> Result<Vec<i64>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        // Bulk tables hand out ids in blocks (`INCREMENT BY block`): one nextval per block.
        let block = crate::schema::table_named(table).map_or(1, |t| t.id_block).max(1);
        let calls = (n as i64 + block - 1) / block;
        let sql = format!("SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1::bigint)");
        let st = self.statement_raw(&sql)?;
        let rows = self.client.query(&st, &[&calls])?;
        let mut ids = Vec::with_capacity(n);
        for r in rows {
            let start: i64 = r.try_get(0)?;
            ids.extend((start..start + block).take(n - ids.len()));
        }
        Ok(ids)
    }

    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }
}
