//! Query language to SQL.
