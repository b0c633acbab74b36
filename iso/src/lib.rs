//! placeholder replaced by the iso helper
