//! Values crossing the store boundary: [`Param`] (borrowed inputs), [`Value`] (owned
//! outputs), [`Row`], and the column-oriented [`Batch`] used by bulk writes.

use crate::error::{Result, StoreError};

/// A bound parameter. Borrowed so building a statement copies nothing.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Int(v as i64)
    }
}
impl From<f64> for Param<'_> {
    fn from(v: f64) -> Self {
        Param::Real(v)
    }
}
impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Blob(v)
    }
}
impl<'a> From<&'a Vec<u8>> for Param<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Param::Blob(v)
    }
}
impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Param::Null)
    }
}
impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map(Param::Text).unwrap_or(Param::Null)
    }
}

/// Builds a `&[Param]` from expressions: `params![id, name, None::<i64>]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::Param<'_>] };
    ($($v:expr),+ $(,)?) => { &[$($crate::Param::from($v)),+] as &[$crate::Param<'_>] };
}

/// An owned value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }
}

/// Conversion out of a [`Value`].
pub trait FromValue: Sized {
    fn from_value(v: Value) -> Option<Self>;
    const EXPECTED: &'static str;
}

impl FromValue for i64 {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(i),
            Value::Real(r) if r.fract() == 0.0 => Some(r as i64),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "integer";
}
impl FromValue for f64 {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Real(r) => Some(r),
            Value::Int(i) => Some(i as f64),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "real";
}
impl FromValue for bool {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(i != 0),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "boolean";
}
impl FromValue for String {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "text";
}
impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }
    const EXPECTED: &'static str = "blob";
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
    const EXPECTED: &'static str = T::EXPECTED;
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as `T`; a type mismatch is a decode error naming the column.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).cloned().ok_or_else(|| StoreError::Decode(format!("no column {i}")))?;
        let kind = v.kind();
        T::from_value(v).ok_or_else(|| StoreError::Decode(format!("column {i}: expected {}, got {kind}", T::EXPECTED)))
    }

    /// Takes column `i` out of the row without cloning.
    pub fn take<T: FromValue>(&mut self, i: usize) -> Result<T> {
        let v = self.0.get_mut(i).map(|v| std::mem::replace(v, Value::Null)).ok_or_else(|| StoreError::Decode(format!("no column {i}")))?;
        let kind = v.kind();
        T::from_value(v).ok_or_else(|| StoreError::Decode(format!("column {i}: expected {}, got {kind}", T::EXPECTED)))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One column of a [`Batch`].
#[derive(Debug, Clone)]
pub enum Column {
    Int(Vec<Option<i64>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    /// Text from a fixed vocabulary (kinds, statuses): no allocation per row.
    Str(Vec<&'static str>),
    Blob(Vec<Option<Vec<u8>>>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Real(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Str(v) => v.len(),
            Column::Blob(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn param(&self, i: usize) -> Param<'_> {
        match self {
            Column::Int(v) => v[i].map(Param::Int).unwrap_or(Param::Null),
            Column::Real(v) => v[i].map(Param::Real).unwrap_or(Param::Null),
            Column::Text(v) => v[i].as_deref().map(Param::Text).unwrap_or(Param::Null),
            Column::Str(v) => Param::Text(v[i]),
            Column::Blob(v) => v[i].as_deref().map(Param::Blob).unwrap_or(Param::Null),
        }
    }
    /// True if every row holds the same value. Bulk writers bind such a column once per
    /// batch instead of once per row.
    pub fn is_constant(&self) -> bool {
        fn all_eq<T: PartialEq>(v: &[T]) -> bool {
            v.split_first().is_none_or(|(first, rest)| rest.iter().all(|x| x == first))
        }
        match self {
            Column::Int(v) => all_eq(v),
            Column::Real(v) => v.split_first().is_none_or(|(f, rest)| rest.iter().all(|x| x.map(f64::to_bits) == f.map(f64::to_bits))),
            Column::Text(v) => all_eq(v),
            Column::Str(v) => all_eq(v),
            Column::Blob(v) => v.iter().all(Option::is_none),
        }
    }
}

/// Rows for a bulk insert or update, stored column by column so the PostgreSQL
/// backend can send whole arrays and the SQLite backend binds without copying.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub names: Vec<&'static str>,
    pub columns: Vec<Column>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn col(mut self, name: &'static str, c: Column) -> Self {
        self.names.push(name);
        self.columns.push(c);
        self
    }
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every column must have the same length.
    pub fn check(&self) -> Result<()> {
        let n = self.len();
        if self.columns.iter().any(|c| c.len() != n) {
            return Err(StoreError::Invalid("bulk batch columns differ in length".into()));
        }
        Ok(())
    }
}
