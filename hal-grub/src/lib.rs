//! GRUB boot environment for Mender. The codec lands with the A/B install work (issue 3).
#![no_std]
