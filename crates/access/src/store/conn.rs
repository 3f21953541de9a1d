//! The two connections behind one small interface: run a statement, read rows, run a
//! script, a transaction. Statements are written once with `?` placeholders (numbered
//! `$1, $2, …` for PostgreSQL here) over a few value types.

use crate::StoreError;
use std::path::Path;

/// A value bound to or read from a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Value {
        v.map_or(Value::Null, Value::Text)
    }
}

/// A row read.
#[derive(Debug)]
pub(crate) struct Row(pub Vec<Value>);

impl Row {
    fn corrupt(store: &str, what: String) -> StoreError {
        StoreError::Corrupt {
            store: store.to_string(),
            what,
        }
    }
    pub fn int(&self, i: usize, store: &str) -> Result<i64, StoreError> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(*v),
            other => Err(Self::corrupt(
                store,
                format!("column {i}: {other:?}, not a number"),
            )),
        }
    }
    pub fn text(&self, i: usize, store: &str) -> Result<String, StoreError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(v.clone()),
            other => Err(Self::corrupt(
                store,
                format!("column {i}: {other:?}, not text"),
            )),
        }
    }
    pub fn opt_text(&self, i: usize, store: &str) -> Result<Option<String>, StoreError> {
        match self.0.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.text(i, store).map(Some),
        }
    }
    pub fn bool(&self, i: usize, store: &str) -> Result<bool, StoreError> {
        match self.0.get(i) {
            Some(Value::Bool(v)) => Ok(*v),
            Some(Value::Int(v)) => Ok(*v != 0),
            other => Err(Self::corrupt(
                store,
                format!("column {i}: {other:?}, not a boolean"),
            )),
        }
    }
}

pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

fn sqlite_err(store: &str, context: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let (store, context) = (store.to_string(), context.to_string());
    move |source| StoreError::Sqlite {
        store,
        context,
        source,
    }
}

fn pg_err(store: &str, context: &str) -> impl FnOnce(postgres::Error) -> StoreError {
    let (store, context) = (store.to_string(), context.to_string());
    move |source| StoreError::Postgres {
        store,
        context,
        source,
    }
}

/// `?` → `$1, $2, …` (our statements have no `?` inside literals).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
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

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bool(v) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*v))),
        })
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Bool(v) => v.to_sql(ty, out),
        }
    }
    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        [Type::INT8, Type::TEXT, Type::VARCHAR, Type::BOOL].contains(ty)
    }
    postgres::types::to_sql_checked!();
}

impl Conn {
    pub fn sqlite(path: &Path, store: &str) -> Result<Conn, StoreError> {
        let c = rusqlite::Connection::open(path).map_err(sqlite_err(store, "opening"))?;
        c.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sqlite_err(store, "setting the busy timeout"))?;
        c.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(sqlite_err(store, "enabling foreign keys"))?;
        Ok(Conn::Sqlite(c))
    }

    pub fn postgres(url: &str, store: &str) -> Result<Conn, StoreError> {
        let c =
            postgres::Client::connect(url, postgres::NoTls).map_err(pg_err(store, "connecting"))?;
        Ok(Conn::Postgres(Box::new(c)))
    }

    pub fn execute(
        &mut self,
        store: &str,
        context: &str,
        sql: &str,
        params: &[Value],
    ) -> Result<u64, StoreError> {
        match self {
            Conn::Sqlite(c) => c
                .execute(sql, rusqlite::params_from_iter(params.iter()))
                .map(|n| n as u64)
                .map_err(sqlite_err(store, context)),
            Conn::Postgres(c) => {
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p as _).collect();
                c.execute(numbered(sql).as_str(), &refs)
                    .map_err(pg_err(store, context))
            }
        }
    }

    pub fn rows(
        &mut self,
        store: &str,
        context: &str,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<Row>, StoreError> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare(sql).map_err(sqlite_err(store, context))?;
                let n = stmt.column_count();
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                        (0..n)
                            .map(|i| {
                                use rusqlite::types::ValueRef;
                                Ok(match r.get_ref(i)? {
                                    ValueRef::Null => Value::Null,
                                    ValueRef::Integer(v) => Value::Int(v),
                                    ValueRef::Text(t) => {
                                        Value::Text(String::from_utf8_lossy(t).into_owned())
                                    }
                                    ValueRef::Real(v) => Value::Text(v.to_string()),
                                    ValueRef::Blob(b) => Value::Text(hex::encode(b)),
                                })
                            })
                            .collect::<rusqlite::Result<Vec<Value>>>()
                            .map(Row)
                    })
                    .map_err(sqlite_err(store, context))?;
                rows.collect::<rusqlite::Result<Vec<Row>>>()
                    .map_err(sqlite_err(store, context))
            }
            Conn::Postgres(c) => {
                use postgres::types::Type;
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p as _).collect();
                let rows = c
                    .query(numbered(sql).as_str(), &refs)
                    .map_err(pg_err(store, context))?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let mut values = Vec::with_capacity(r.len());
                    for (i, col) in r.columns().iter().enumerate() {
                        let ty = col.type_();
                        let get_err = pg_err(store, context);
                        let v = if *ty == Type::INT8 {
                            r.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int))
                        } else if *ty == Type::INT4 {
                            r.try_get::<_, Option<i32>>(i)
                                .map(|v| v.map(|v| Value::Int(i64::from(v))))
                        } else if *ty == Type::BOOL {
                            r.try_get::<_, Option<bool>>(i).map(|v| v.map(Value::Bool))
                        } else {
                            r.try_get::<_, Option<String>>(i)
                                .map(|v| v.map(Value::Text))
                        }
                        .map_err(get_err)?;
                        values.push(v.unwrap_or(Value::Null));
                    }
                    out.push(Row(values));
                }
                Ok(out)
            }
        }
    }

    pub fn batch(&mut self, store: &str, context: &str, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(sqlite_err(store, context)),
            Conn::Postgres(c) => c.batch_execute(sql).map_err(pg_err(store, context)),
        }
    }

    /// Begins a write transaction: SQLite takes its write lock at once (`BEGIN
    /// IMMEDIATE`), PostgreSQL locks `lock_table` against other writers when given.
    pub fn begin(
        &mut self,
        store: &str,
        context: &str,
        lock_table: Option<&str>,
    ) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(_) => self.batch(store, context, "BEGIN IMMEDIATE"),
            Conn::Postgres(_) => {
                let sql = match lock_table {
                    Some(t) => format!("BEGIN; LOCK TABLE {t} IN EXCLUSIVE MODE"),
                    None => "BEGIN".to_string(),
                };
                self.batch(store, context, &sql)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            super::numbered("SELECT a FROM t WHERE b = ? AND c = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $2"
        );
    }
}
