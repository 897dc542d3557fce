//! Error plumbing for size: a layer that fails parks its error in a slot the caller owns and
//! returns only [`Stop`], so each `?` on the way out is a compare and a branch. Returning a
//! large error (paths, keys and digests inline, as there is no heap) through every layer
//! instead copies it at each `?`: that was kilobytes of the Cortex-M firmware's flash
//! (memory-budget.md, "Cortex-M firmware"). Public functions still return their error type:
//! [`parked`] takes it out of the slot once, at the boundary.

/// A layer stopped; its error is in the slot passed down to it.
pub(crate) struct Stop;

/// Parks `e` in `slot` and stops.
pub(crate) fn stop<E>(slot: &mut Option<E>, e: impl Into<E>) -> Stop {
    *slot = Some(e.into());
    Stop
}

/// `?` for results of other layers: parks their error (converted) and stops.
pub(crate) trait OrStop<T, X> {
    fn or_stop<E: From<X>>(self, slot: &mut Option<E>) -> Result<T, Stop>;
}

impl<T, X> OrStop<T, X> for Result<T, X> {
    fn or_stop<E: From<X>>(self, slot: &mut Option<E>) -> Result<T, Stop> {
        self.map_err(|e| stop(slot, e))
    }
}

/// Runs `f` with a fresh slot and returns its result with the parked error; `lost` stands in
/// if `f` stopped without parking one (a bug, reported rather than panicking).
pub(crate) fn parked<T, E>(
    lost: E,
    f: impl FnOnce(&mut Option<E>) -> Result<T, Stop>,
) -> Result<T, E> {
    let mut slot = None;
    f(&mut slot).map_err(|Stop| slot.unwrap_or(lost))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parked_error_comes_out_at_the_boundary() {
        let r: Result<u8, &str> = parked("lost", |s| Err(stop(s, "first")));
        assert_eq!(r, Err("first"));
        let r: Result<u8, &str> = parked("lost", |_| Err(Stop));
        assert_eq!(r, Err("lost"));
        let r: Result<u8, &str> = parked("lost", |s| Ok::<u8, &str>(7).or_stop(s));
        assert_eq!(r, Ok(7));
        let r: Result<u8, u32> = parked(0, |s| Err::<u8, u16>(9).or_stop(s));
        assert_eq!(r, Err(9));
    }
}
