//! See main.rs for what this module covers.
