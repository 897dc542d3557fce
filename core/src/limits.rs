//! Every fixed capacity of the core, in one place. `memory-budget.md` lists each with its
//! documented limit; exceeding one is an error that names it ([`crate::reader::Error::Limit`]).
